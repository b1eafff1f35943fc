"""Damaged segments: found cheaply by readers and writers, recorded by ``verify``, quarantined
by ``repair``.

One damaged Parquet file must not take the whole ledger down. Readers skip a segment that
fails the checks below (with one warning naming it); writers refuse to append to a ledger with
a damaged segment or whose last ``verify`` failed, unless told to; ``repair`` moves damaged
segments to ``quarantine/`` and says so in the chain.

The check a reader can afford on every open is structural: the file exists, has the size the
chain recorded, and starts and ends with the Parquet magic. Only ``verify`` re-hashes every
byte; what it found is kept in ``verify-state.json`` so readers and writers also skip and
refuse what only a full hash could see (while the file is unchanged since).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .chain import utc_iso
from .segments import tmp_name

STATE_FILE = "verify-state.json"
QUARANTINE_DIR = "quarantine"
_MAGIC = b"PAR1"

#: Verification issue kinds that mean "this segment's bytes are not what the chain recorded".
DAMAGE_KINDS = frozenset({"modified", "missing", "snapshot"})


#: Where a reader's "skipped damaged segment" message goes: None means a
#: :class:`DamagedSegmentWarning`; the command line sets a plain stderr line.
reporter: Callable[[str], None] | None = None


class DamagedSegmentWarning(UserWarning):
    """A reader skipped a ledger segment that fails verification."""


class LedgerDamaged(RuntimeError):
    """A writer was opened on a ledger with damaged segments or a failed last verification."""


@dataclass(frozen=True, slots=True)
class Damaged:
    path: str  # relative to the ledger root
    table: str
    why: str

    def __str__(self) -> str:
        return f"{self.path} ({self.why})"


def _structural(path: str, expected_bytes: int | None) -> str | None:
    """Why the file at ``path`` cannot be the segment the chain recorded, or None."""
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    if expected_bytes is not None and size != expected_bytes:
        return f"{size} bytes, the chain recorded {expected_bytes}"
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            fh.seek(max(0, size - 4))
            tail = fh.read(4)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    if head != _MAGIC or tail != _MAGIC:
        return "not a Parquet file (magic bytes missing)"
    return None


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def read_state(root: str) -> dict[str, Any] | None:
    """The last ``verify`` result recorded in the ledger, or None (never verified)."""
    try:
        with open(os.path.join(root, STATE_FILE), encoding="utf-8") as fh:
            state = json.load(fh)
    except (FileNotFoundError, ValueError, OSError):
        return None
    return state if isinstance(state, dict) else None


def write_state(root: str, ok: bool, head: str, issues: list[Any]) -> None:
    """Record a verification result (atomically; a read-only ledger keeps no record)."""
    damaged = []
    for i in issues:
        if i.kind not in DAMAGE_KINDS:
            continue
        stamp = _stamp(os.path.join(root, *i.path.split("/")))
        damaged.append(
            {
                "path": i.path,
                "kind": i.kind,
                "detail": i.detail,
                "size": stamp[0] if stamp else None,
                "mtime_ns": stamp[1] if stamp else None,
            }
        )
    state = {
        "verified_at": utc_iso(),
        "ok": ok,
        "head": head,
        "issues": [str(i) for i in issues],
        "damaged": damaged,
    }
    tmp = os.path.join(root, f".{STATE_FILE}.tmp")
    with contextlib.suppress(OSError):
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=1)
        os.replace(tmp, os.path.join(root, STATE_FILE))


def find_damaged(root: str, live: list[dict[str, Any]]) -> list[Damaged]:
    """Live segments that fail the structural check or that the last verify found damaged."""
    out: list[Damaged] = []
    recorded: dict[str, dict[str, Any]] = {}
    state = read_state(root)
    if state is not None:
        for d in state.get("damaged") or ():
            if isinstance(d, dict) and isinstance(d.get("path"), str):
                recorded[d["path"]] = d
    for e in live:
        rel = e.get("path")
        if not isinstance(rel, str):
            continue
        path = os.path.join(root, *rel.split("/"))
        why = _structural(path, e.get("bytes"))
        if why == "missing" and os.path.exists(tmp_name(path)):
            continue  # an interrupted commit the next writer finishes (Ledger.recover)
        if why is None and rel in recorded:
            rec = recorded[rel]
            if _stamp(path) == (rec.get("size"), rec.get("mtime_ns")):
                why = f"failed the last verify: {rec.get('detail') or rec.get('kind')}"
        if why is not None:
            out.append(Damaged(rel, str(e.get("table")), why))
    return out


def warn_skipped(root: str, damaged: list[Damaged]) -> None:
    """One warning for the segments a reader leaves out."""
    if not damaged:
        return
    names = "; ".join(str(d) for d in damaged[:5])
    more = f" and {len(damaged) - 5} more" if len(damaged) > 5 else ""
    message = (
        f"skipping {len(damaged)} damaged ledger segment(s): {names}{more}. Results leave "
        f"their rows out. Run `tdmscan ledger verify --ledger {root}`, then "
        "`tdmscan ledger repair` to quarantine them."
    )
    if reporter is not None:
        reporter(message)
    else:
        warnings.warn(message, DamagedSegmentWarning, stacklevel=3)


def refusal(root: str, damaged: list[Damaged]) -> str | None:
    """Why a writer must not append to this ledger, or None."""
    if damaged:
        names = "; ".join(str(d) for d in damaged[:3])
        more = f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""
        return (
            f"ledger {root} has {len(damaged)} damaged segment(s): {names}{more}. "
            "Run `tdmscan ledger repair` (or pass --allow-damaged to append anyway)"
        )
    state = read_state(root)
    if state is not None and state.get("ok") is False:
        return (
            f"the last `tdmscan ledger verify` of {root} failed "
            f"({'; '.join(state.get('issues') or [])[:300]}). Run `tdmscan ledger repair` or "
            "verify again (or pass --allow-damaged to append anyway)"
        )
    return None
