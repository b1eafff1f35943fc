"""tdmscan: decide whether web content is reserved from text and data mining, with evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .types import Decision, Evidence, Fetched, RobotsOutcome, SiteFiles

__all__ = [
    "Decision",
    "Evidence",
    "Fetched",
    "RobotsOutcome",
    "Scanner",
    "SiteFiles",
    "__version__",
    "evaluate",
]

if TYPE_CHECKING:
    from .policy import evaluate
    from .scanner import Scanner


def __getattr__(name: str) -> Any:
    # Lazy so that ``import tdmscan`` for the pure core does not pull in the HTTP stack.
    if name == "evaluate":
        from .policy import evaluate

        return evaluate
    if name == "Scanner":
        from .scanner import Scanner

        return Scanner
    raise AttributeError(name)
