"""Execution engines for audits: in-process (default) and Ray.

Every engine drives the same primitive, one shard of the manifest
(:func:`tdmscan.engines.sharding.run_shard`, what ``tdmscan audit --shard K/N`` runs), so a
Slurm array, a Kubernetes indexed job and the Ray engine decide exactly the same rows. Ray is
an optional extra; nothing here imports it until it is asked for.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["ENGINES", "RAY_EXTRA", "EngineUnavailable", "require_engine"]

#: Accepted values of ``tdmscan audit --engine``.
ENGINES: tuple[str, ...] = ("local", "ray")

#: The install hint, named in every "Ray is missing" message.
RAY_EXTRA = 'pip install "tdmscan[ray]"'


class EngineUnavailable(RuntimeError):
    """The chosen engine cannot run here (its optional dependency is missing).

    The message is one line meant for the user; the CLI turns it into a usage error (exit 2).
    """


def require_engine(name: str) -> ModuleType | None:
    """Check that ``name`` can run and return its module (``None`` for the in-process engine).

    Raises :class:`EngineUnavailable` for an unknown engine or a missing optional extra.
    """
    if name == "local":
        return None
    if name != "ray":
        raise EngineUnavailable(f"unknown engine {name!r} (choose from {', '.join(ENGINES)})")
    try:
        importlib.import_module("ray")
    except ImportError as exc:
        raise EngineUnavailable(
            f"--engine ray needs Ray, which is not installed: {RAY_EXTRA}"
        ) from exc
    return importlib.import_module("tdmscan.engines.ray_engine")
