"""The append-only hash chain over every segment file (``chain.jsonl``) and its lock.

Each line is one JSON object::

    {"seq": 7, "op": "add", "table": "decisions",
     "path": "decisions/run=R/shard=3/part-....parquet",
     "sha256": "<hex of the file bytes>", "rows": 10000, "bytes": 812345, "run_id": "R",
     "written_at": "2026-01-02T03:04:05.123456Z", "replaces": [], "prev": "<entry_hash of seq 6>",
     "entry_hash": "<hex>"}

``entry_hash = sha256(prev + canonical)`` where ``canonical`` is the entry without
``entry_hash``, serialised with sorted keys, ``(",", ":")`` separators and ASCII escapes. The
first entry's ``prev`` is 64 zeros. Editing, dropping or reordering any line breaks every later
link, so the last ``entry_hash`` (the head) commits to the whole history: publish or timestamp
it (RFC 3161) to make back-dating detectable.

Writers serialise on ``fcntl.flock`` of ``chain.lock``: the append and the rename of the
segment into place happen under that lock, so two processes never interleave entries.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
CHAIN_FILE = "chain.jsonl"
LOCK_FILE = "chain.lock"
COMPACT_LOCK_FILE = "compact.lock"

# "quarantine": a damaged segment moved out of the table (its entry ``replaces`` it; the
# entry's own path, under quarantine/, is not a live segment).
OPS = ("add", "schema", "compact", "quarantine")


def canonical(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "entry_hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256((entry["prev"] + canonical(entry)).encode("utf-8")).hexdigest()


def build_entry(
    entry: dict[str, Any], seq: int, prev: str, signer: Any = "active"
) -> dict[str, Any]:
    """The full chain entry for ``entry`` at ``seq`` after ``prev``: one format for every store.

    Signed (``sig``, see signing.py) with ``signer``, by default the key named by
    ``TDMSCAN_LEDGER_KEY`` when set; ``entry_hash`` covers the signature.
    """
    from .signing import active_signer, sign_entry

    full = {
        "seq": seq,
        "op": entry.get("op", "add"),
        "table": entry["table"],
        "path": entry["path"],
        "sha256": entry["sha256"],
        "rows": int(entry["rows"]),
        "bytes": int(entry["bytes"]),
        "run_id": entry.get("run_id"),
        "written_at": entry.get("written_at") or utc_iso(),
        "replaces": list(entry.get("replaces") or []),
        "prev": prev,
    }
    if entry.get("note"):
        full["note"] = str(entry["note"])
    sign_entry(full, active_signer() if signer == "active" else signer)
    full["entry_hash"] = entry_hash(full)
    return full


def entry_line(full: dict[str, Any]) -> bytes:
    """One chain entry as stored: compact JSON, sorted keys, newline-terminated."""
    return (json.dumps(full, sort_keys=True, separators=(",", ":")) + "\n").encode()


def utc_iso(dt: datetime | None = None) -> str:
    dt = dt or datetime.now(UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def flocked(path: str, shared: bool = False) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        # Closing the descriptor releases the lock; flock is per open file description.
        os.close(fd)


class Chain:
    """Reader and (locked) appender of ``chain.jsonl`` in a ledger root."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.path = os.path.join(root, CHAIN_FILE)
        self.lock_path = os.path.join(root, LOCK_FILE)

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return flocked(self.lock_path)

    @staticmethod
    def _rfind_newline(fd: int, end: int) -> int:
        """Offset of the last newline before ``end``, or -1."""
        block = 1 << 16
        pos = end
        while pos > 0:
            start = max(0, pos - block)
            chunk = os.pread(fd, pos - start, start)
            i = chunk.rfind(b"\n")
            if i >= 0:
                return start + i
            pos = start
        return -1

    def _tail(self, fd: int) -> tuple[int, str]:
        """(seq, entry_hash) of the last complete line; cuts a torn final line first.

        A torn line can only come from a crash inside the append itself (the segment it
        named was never renamed into place), so dropping it loses nothing that was committed.
        """
        size = os.fstat(fd).st_size
        if size == 0:
            return -1, GENESIS
        last_nl = self._rfind_newline(fd, size)
        if last_nl != size - 1:
            size = last_nl + 1
            os.ftruncate(fd, size)
            os.fsync(fd)
            if size == 0:
                return -1, GENESIS
        prev_nl = self._rfind_newline(fd, size - 1)
        line = os.pread(fd, size - 1 - (prev_nl + 1), prev_nl + 1)
        last = json.loads(line)
        return int(last["seq"]), str(last["entry_hash"])

    def append_locked(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Append one entry; the caller must hold :meth:`locked`. Returns the full entry."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            seq, prev = self._tail(fd)
            full = build_entry(entry, seq + 1, prev)
            os.write(fd, entry_line(full))
            os.fsync(fd)
            return full
        finally:
            os.close(fd)

    def read(self) -> tuple[list[dict[str, Any]], list[str]]:
        """All entries and a list of problems with the file's lines (unparsable, torn)."""
        entries: list[dict[str, Any]] = []
        problems: list[str] = []
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return entries, problems
        lines = raw.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        elif lines:
            problems.append(f"line {len(lines)}: torn final line (no newline)")
        for i, line in enumerate(lines, 1):
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                problems.append(f"line {i}: not valid JSON ({exc})")
                continue
            entries.append(obj)
        return entries, problems

    def head(self) -> str:
        entries, _ = self.read()
        return str(entries[-1]["entry_hash"]) if entries else GENESIS
