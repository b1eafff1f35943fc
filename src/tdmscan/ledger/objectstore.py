"""A ledger on object storage (s3://, gs://, az://): no rename, no lock, no lost or forked chain.

Object stores have no rename and no advisory locks, but they do have write-once creates (S3
``PUT`` with ``If-None-Match: *``, GCS ``ifGenerationMatch=0``, Azure ``If-None-Match: *``;
fsspec's ``pipe_file(..., mode="create")``). The commit protocol uses only those:

1. A segment is serialised and hashed in memory, then created once under its final, unique
   name. Nothing points at it yet.
2. Its chain entry (the same JSON object as a line of a local ``chain.jsonl``) is created as
   the object ``chain/<seq, 20 digits>.json``, where ``seq`` is one past the newest entry the
   writer knows of and ``prev`` is that entry's hash. The create succeeds for exactly one
   writer per ``seq``; a writer that loses re-reads the entries it missed and tries the next
   ``seq``. Two writers therefore never overwrite or fork the chain, and every committed
   segment has exactly one entry.

Readers (views, ``tdmscan sql``, reports, ``verify``) read the segments the chain lists, never
a listing of the bucket: a writer killed between steps 1 and 2 leaves an object nobody reads,
which ``verify`` reports as an uncommitted segment (a warning, not tampering) and which a
resumed run simply writes again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import time
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .._version import __version__
from . import schema as S
from .chain import GENESIS, build_entry, entry_line
from .core import (
    _ANCHOR_DIRS,
    CompactReport,
    Issue,
    Ledger,
    VerifyReport,
    _add_missing_columns,
    _view_files,
)
from .segments import Segment, serialise
from .storage import LedgerLocationError, filesystem, parse_location

CHAIN_DIR = "chain"
_ENTRY = re.compile(r"(\d{20})\.json$")
#: Attempts at one chain append before giving up (each lost race costs one GET and a retry).
MAX_APPEND_ATTEMPTS = 1000


def entry_key(seq: int) -> str:
    return f"{CHAIN_DIR}/{seq:020d}.json"


class ObjectChain:
    """The hash chain as one write-once object per entry under ``<root>/chain/``."""

    def __init__(self, fs: Any, base: str) -> None:
        self.fs = fs
        self.base = base
        self.path = f"{base}/{CHAIN_DIR}"
        self._tip: tuple[int, str] | None = None  # (seq, entry_hash) of the newest known entry

    def _seqs(self) -> list[int]:
        try:
            names = self.fs.ls(self.path, detail=False, refresh=True)
        except FileNotFoundError:
            return []
        out = []
        for n in names:
            m = _ENTRY.search(n)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    def _get(self, seq: int) -> dict[str, Any] | None:
        try:
            raw = self.fs.cat_file(f"{self.base}/{entry_key(seq)}")
        except FileNotFoundError:
            return None
        return json.loads(raw)

    def _catch_up(self) -> tuple[int, str]:
        """The newest entry: from a listing the first time, then by reading forward."""
        if self._tip is None:
            seqs = self._seqs()
            if seqs:
                last = self._get(seqs[-1])
                assert last is not None
                self._tip = (seqs[-1], str(last["entry_hash"]))
            else:
                self._tip = (-1, GENESIS)
        seq, head = self._tip
        while (nxt := self._get(seq + 1)) is not None:
            seq, head = seq + 1, str(nxt["entry_hash"])
        self._tip = (seq, head)
        return self._tip

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Create the next entry object; on a lost race, catch up and take the next seq."""
        for attempt in range(MAX_APPEND_ATTEMPTS):
            seq, prev = self._catch_up()
            full = build_entry(entry, seq + 1, prev)
            try:
                self.fs.pipe_file(
                    f"{self.base}/{entry_key(seq + 1)}", entry_line(full), mode="create"
                )
            except FileExistsError:
                # Another writer took seq + 1; back off a little so N writers do not collide
                # in lockstep.
                time.sleep(random.uniform(0, min(0.05, 0.002 * (attempt + 1))))
                continue
            self._tip = (seq + 1, full["entry_hash"])
            return full
        raise RuntimeError(f"chain append lost {MAX_APPEND_ATTEMPTS} races in a row")

    def read(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every entry in seq order, and problems (unparsable objects, gaps in the numbering)."""
        seqs = self._seqs()
        entries: list[dict[str, Any]] = []
        problems: list[str] = []
        if not seqs:
            return entries, problems
        paths = [f"{self.base}/{entry_key(s)}" for s in seqs]
        blobs = self.fs.cat(paths, on_error="return")
        expected = 0
        for s, p in zip(seqs, paths, strict=True):
            if s != expected:
                problems.append(f"{entry_key(expected)}: missing (entries jump to {s})")
            expected = s + 1
            raw = blobs.get(p) if isinstance(blobs, dict) else None
            if isinstance(raw, BaseException) or raw is None:
                problems.append(f"{entry_key(s)}: unreadable ({raw})")
                continue
            try:
                obj = json.loads(raw)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                problems.append(f"{entry_key(s)}: not valid JSON ({exc})")
                continue
            entries.append(obj)
        if entries:
            self._tip = (int(entries[-1].get("seq", seqs[-1])), str(entries[-1].get("entry_hash")))
        return entries, problems

    def head(self) -> str:
        return self._catch_up()[1]


class ObjectLedger(Ledger):
    """A :class:`Ledger` whose root is an object-store URI; same tables, views and chain format."""

    def __init__(self, root: Any, *, create: bool = True, allow_damaged: bool = False) -> None:
        # Write-once objects cannot be torn in place; the flag is kept for the same signature.
        self.allow_damaged = allow_damaged
        loc = parse_location(root)
        if loc.is_local:  # constructed directly with a local path
            raise LedgerLocationError(f"{loc.root}: not an object-store URI")
        self.location = loc
        self.fs = filesystem(loc)
        self.base = loc.root  # bucket/prefix: what fsspec calls take
        self.root = loc.uri  # s3://bucket/prefix: what users and DuckDB see
        self.chain = ObjectChain(self.fs, self.base)  # type: ignore[assignment]
        try:
            bucket = self.base.split("/", 1)[0]
            if not self.fs.exists(bucket):
                raise FileNotFoundError(f"bucket or container does not exist: {bucket}")
            if not create and not self._looks_like_ledger():
                raise FileNotFoundError(f"not a tdmscan ledger: {self.root}")
            if create:
                self._init_layout()
        except PermissionError as exc:
            raise PermissionError(f"{self.root}: access denied ({exc})") from exc

    def __repr__(self) -> str:
        return f"Ledger({self.root!r})"

    def __getstate__(self) -> dict[str, Any]:
        # Ray and Spark ship the ledger to workers: the client is rebuilt there from the
        # environment, never pickled.
        return {"root": self.root}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"], create=False)  # type: ignore[misc]

    def _is_local(self) -> bool:
        return False

    def _looks_like_ledger(self) -> bool:
        return bool(self.chain._seqs())

    # -- layout ----------------------------------------------------------------------------

    def _init_layout(self) -> None:
        entries, _ = self.chain.read()
        have = {e.get("path") for e in entries if e.get("op") == "schema"}
        for table in S.TABLES:
            rel_dir = _ANCHOR_DIRS[table]
            name = self._anchor_name(table)
            if f"{rel_dir}/{name}" in have:
                continue
            schema = S.with_metadata(table, S.SCHEMAS[table], __version__)
            # Two writers opening a new ledger at once may both get here: the anchor's bytes
            # are the same for both, so the second create finding the object is fine, and a
            # doubled schema entry names the same file (views read each path once).
            self.write_segment(
                table, rel_dir, schema.empty_table(), name=name, op="schema", exist_ok=True
            )

    def _abs(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def _url(self, rel: str) -> str:
        return f"{self.location.scheme}://{self.base}/{rel}"

    def write_segment(  # type: ignore[override]
        self,
        table_name: str,
        rel_dir: str,
        table: pa.Table,
        *,
        name: str,
        op: str = "add",
        run_id: str | None = None,
        replaces: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> Segment:
        data = serialise(table)
        digest = hashlib.sha256(data).hexdigest()
        rel = f"{rel_dir}/{name}"
        body = data.to_pybytes()
        try:
            self.fs.pipe_file(self._abs(rel), body, mode="create")
        except FileExistsError:
            # Names are unique per writer (pid, counter, random); only an anchor can collide.
            if not exist_ok or self._file_sha256(self._abs(rel)) != digest:
                raise
        self.chain.append(
            {
                "op": op,
                "table": table_name,
                "path": rel,
                "sha256": digest,
                "rows": table.num_rows,
                "bytes": data.size,
                "run_id": run_id,
                "replaces": replaces or [],
                **(extra or {}),
            }
        )
        return Segment(table_name, rel, digest, table.num_rows, data.size)

    # -- file access -----------------------------------------------------------------------

    def segment_url(self, rel: str) -> str:
        return self._url(rel)

    def segment_url_abs(self, path: str) -> str:
        return f"{self.location.scheme}://{path}"

    def segment_exists(self, url: str) -> bool:
        return bool(self.fs.exists(url.split("://", 1)[1]))

    def bare_connection(self) -> Any:
        con = super().bare_connection()
        con.register_filesystem(self.fs)
        return con

    def _parquet(self, path: str) -> pq.ParquetFile:
        # Whole-object read: segments are small (10k rows) and a ranged reader would cost one
        # request per column chunk.
        return pq.ParquetFile(pa.BufferReader(self.fs.cat_file(path)))

    def _exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def _file_sha256(self, path: str) -> str:
        h = hashlib.sha256()
        with self.fs.open(path, "rb", block_size=8 << 20) as fh:
            while chunk := fh.read(8 << 20):
                h.update(chunk)
        return h.hexdigest()

    def _list_files(self) -> list[str]:
        out = []
        for table in S.TABLES:
            with contextlib.suppress(FileNotFoundError):
                for p in self.fs.find(f"{self.base}/{table}"):
                    out.append(p[len(self.base) + 1 :])
        return out

    # -- commits need no repair ------------------------------------------------------------

    def recover(self) -> int:
        """Delete segments a compaction replaced (nothing else can be half-committed)."""
        fixed = 0
        entries, _ = self.chain.read()
        _, replaced = self._live(entries)
        for rel in replaced:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self._abs(rel))
                fixed += 1
        return fixed

    # -- SQL -------------------------------------------------------------------------------

    def _sources(self) -> dict[str, str]:
        """Per table, a DuckDB list literal of the live segments' URLs."""
        files: dict[str, list[str]] = {t: [] for t in S.TABLES}
        for e in self.live_segments():
            files.setdefault(e["table"], []).append(self._url(e["path"]))
        return {
            t: "[" + ", ".join("'" + u.replace("'", "''") + "'" for u in sorted(set(urls))) + "]"
            for t, urls in files.items()
        }

    def _views(self) -> list[tuple[str, str]]:
        """The shipped view SQL with each table's glob replaced by the chain's file list."""
        sources = self._sources()
        pattern = re.compile(r"read_parquet\(\s*'\{ledger\}/(\w+)/[^']*'")

        def sub(m: re.Match[str]) -> str:
            table = m.group(1)
            if table not in sources:
                return m.group(0)
            return f"read_parquet({sources[table]}"

        return [(name, pattern.sub(sub, text)) for name, text in _view_files()]

    def view_sql(self) -> str:
        """The views over this ledger's committed segments (a snapshot of the chain as of now).

        Plain DuckDB needs the httpfs extension and the same credentials to run it.
        """
        root = self.root.replace("'", "''")
        return "\n".join(
            f"-- {name}\n{text.replace('{ledger}', root)}" for name, text in self._views()
        )

    def connect(self, database: str = ":memory:") -> Any:
        """DuckDB reading the segments in place through this ledger's fsspec filesystem."""
        import duckdb

        con = duckdb.connect(database, config={"autoinstall_known_extensions": False})
        con.execute("SET TimeZone = 'UTC'")
        con.register_filesystem(self.fs)
        root = self.root.replace("'", "''")
        for _, text in self._views():
            con.execute(text.replace("{ledger}", root))
            _add_missing_columns(con)
        return con

    # -- verification and compaction -------------------------------------------------------

    def verify(
        self, expected_head: str | None = None, trusted: Iterable[str] | None = None
    ) -> VerifyReport:
        entries, problems = self.chain.read()
        files = self._list_files()
        rep = self._verify(entries, problems, files, expected_head, trusted)
        # Readers only ever read what the chain lists, so an object the chain does not name is
        # a writer that stopped between its two creates: invisible, and reported as such.
        kept: list[Issue] = []
        for issue in rep.issues:
            if issue.kind == "extra" and issue.path.rsplit("/", 1)[-1].startswith("part-"):
                rep.warnings.append(
                    f"uncommitted segment (its writer stopped before the chain entry; "
                    f"readers ignore it): {issue.path}"
                )
            else:
                kept.append(issue)
        rep.issues = kept
        return rep

    def compact(self, **_: Any) -> CompactReport:
        raise LedgerLocationError(
            f"{self.root}: compaction of object-store ledgers is not supported yet; "
            "segments stay as written"
        )
