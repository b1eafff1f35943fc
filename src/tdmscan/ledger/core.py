"""The ledger directory: layout, recovery, DuckDB views, verification, compaction, export."""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import io
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from importlib import resources
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .._version import __version__
from . import health
from . import schema as S
from .chain import COMPACT_LOCK_FILE, GENESIS, Chain, entry_hash, flocked, fsync_dir, utc_iso
from .segments import Segment, ensure_dir, file_sha256, segment_name, tmp_name, write_segment
from .signing import check_chain
from .storage import LedgerLocationError, is_object_uri, parse_location
from .writer import LedgerWriter, RunInfo, status_line

LAYOUT_LOCK_FILE = "layout.lock"

#: Where each table's zero-row schema anchor lives. The anchors keep the views working on an
#: empty table (DuckDB refuses a glob with no files) and pin every column's type.
_ANCHOR_DIRS: dict[str, str] = {
    "runs": "runs/run=_schema",
    "decisions": "decisions/run=_schema/shard=0",
    "fetches": "fetches/run=_schema",
    "snapshots": "snapshots",
    "licences": "licences/run=_schema",
    "complaints": "complaints/run=_schema",
    "rollups": "rollups/run=_schema",
    "seals": "seals/run=_schema",
}


def _view_files() -> list[tuple[str, str]]:
    pkg = resources.files("tdmscan.ledger") / "sql"
    out = [
        (p.name, p.read_text(encoding="utf-8")) for p in pkg.iterdir() if p.name.endswith(".sql")
    ]
    return sorted(out)


def _sql_string(path: str) -> str:
    return path.replace("'", "''")


@dataclass(frozen=True, slots=True)
class Issue:
    kind: str  # chain | missing | modified | extra | replaced-present | snapshot | head
    path: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.path}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class VerifyReport:
    head: str
    entries: int = 0
    segments: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    snapshots_checked: int = 0
    pending: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: "signed", "partly signed" (signing began after the first entries) or "unsigned"
    signature: str = "unsigned"
    #: key id -> entries it signed
    signers: dict[str, int] = field(default_factory=dict)
    unsigned_entries: int = 0

    @property
    def ok(self) -> bool:
        return not self.issues


@dataclass
class CompactReport:
    merged: int = 0  # segments replaced
    written: int = 0  # segments written
    rows: int = 0  # rows moved
    removed_tmp: int = 0


class Ledger:
    """A ledger directory. Creates the layout (tables, schema anchors, chain) when missing."""

    #: Let writers append although a segment is damaged or the last verify failed.
    allow_damaged: bool = False

    def __new__(cls, root: str | os.PathLike[str], **_: Any) -> Ledger:
        # s3://, gs://, az:// name an object-store ledger: same layout and chain format, a
        # commit protocol without rename or lock (objectstore.py). Deciding here means every
        # caller that accepts a ledger path accepts a URI too.
        if cls is Ledger and is_object_uri(root):
            from .objectstore import ObjectLedger

            return super().__new__(ObjectLedger)
        return super().__new__(cls)

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        create: bool = True,
        allow_damaged: bool = False,
    ) -> None:
        loc = parse_location(root)
        if not loc.is_local:
            raise LedgerLocationError(f"{os.fspath(root)}: not a local directory")
        self.root = loc.root
        self.chain = Chain(self.root)
        #: Let writers append although a segment is damaged or the last verify failed.
        self.allow_damaged = allow_damaged
        if not create and not self._looks_like_ledger():
            raise FileNotFoundError(f"not a tdmscan ledger: {self.root}")
        if create:
            self._init_layout()

    def _looks_like_ledger(self) -> bool:
        # A ledger whose chain file was deleted is still a (tampered) ledger to verify.
        if not os.path.isdir(self.root):
            return False
        return os.path.exists(self.chain.path) or any(
            os.path.isdir(os.path.join(self.root, t)) for t in S.TABLES
        )

    def __repr__(self) -> str:
        return f"Ledger({self.root!r})"

    # -- layout ----------------------------------------------------------------------------

    def _init_layout(self) -> None:
        ensure_dir(self.root)
        if all(os.path.exists(self._anchor_path(t)) for t in S.TABLES):
            return
        with flocked(os.path.join(self.root, LAYOUT_LOCK_FILE)):
            for table in S.TABLES:
                if os.path.exists(self._anchor_path(table)):
                    continue
                schema = S.with_metadata(table, S.SCHEMAS[table], __version__)
                self.write_segment(
                    table,
                    _ANCHOR_DIRS[table],
                    schema.empty_table(),
                    name=self._anchor_name(table),
                    op="schema",
                )

    def _is_local(self) -> bool:
        return True

    def write_segment(
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
    ) -> Segment:
        """Persist one segment and its chain entry (the store decides how: see segments.py)."""
        return write_segment(
            self.root,
            self.chain,
            table_name,
            rel_dir,
            table,
            name=name,
            op=op,
            run_id=run_id,
            replaces=replaces,
            extra=extra,
        )

    def segment_url(self, rel: str) -> str:
        """Where DuckDB (:meth:`bare_connection`) reads the segment at chain path ``rel``."""
        return self._abs(rel)

    def segment_exists(self, url: str) -> bool:
        """Whether a :meth:`segment_url` is there (compaction may have removed it)."""
        return os.path.exists(url)

    def bare_connection(self) -> Any:
        """A DuckDB connection that can read :meth:`segment_url` paths, without the views."""
        import duckdb

        return duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})

    def _parquet(self, path: str) -> pq.ParquetFile:
        """A Parquet file of this ledger by absolute path (FileNotFoundError when gone)."""
        return pq.ParquetFile(path)

    def _exists(self, path: str) -> bool:
        return os.path.exists(path)

    def _file_sha256(self, path: str) -> str:
        return file_sha256(path)

    @staticmethod
    def _anchor_name(table: str) -> str:
        return f"_schema-v{S.SCHEMA_VERSIONS[table]}.parquet"

    def _anchor_path(self, table: str) -> str:
        return os.path.join(self.root, _ANCHOR_DIRS[table], self._anchor_name(table))

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    # -- chain state -----------------------------------------------------------------------

    @staticmethod
    def _live(entries: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], set[str]]:
        live: dict[str, dict[str, Any]] = {}
        replaced: set[str] = set()
        for e in entries:
            if e.get("op") != "quarantine":  # a quarantine entry only removes what it replaces
                live[e["path"]] = e
                replaced.discard(e["path"])
            for r in e.get("replaces") or ():
                live.pop(r, None)
                replaced.add(r)
        return live, replaced

    def live_segments(self, table: str | None = None) -> list[dict[str, Any]]:
        """Chain entries of the segments that currently hold the data, in chain order."""
        entries, _ = self.chain.read()
        live, _ = self._live(entries)
        return [e for e in live.values() if table is None or e["table"] == table]

    def recover(self) -> int:
        """Finish commits a crash interrupted; returns how many files were fixed.

        A chain entry whose file is missing but whose temporary twin has the recorded hash is
        renamed into place; segments a compaction replaced but did not delete are deleted.
        """
        fixed = 0
        with self.chain.locked():
            entries, _ = self.chain.read()
            live, replaced = self._live(entries)
            for rel, e in live.items():
                final = self._abs(rel)
                if os.path.exists(final):
                    continue
                tmp = tmp_name(final)
                if os.path.exists(tmp) and file_sha256(tmp) == e["sha256"]:
                    os.replace(tmp, final)
                    fsync_dir(os.path.dirname(final))
                    fixed += 1
            for rel in replaced:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self._abs(rel))
                    fixed += 1
        return fixed

    def head(self) -> str:
        """The chain head: the last entry_hash, committing to every segment ever written."""
        return self.chain.head()

    # -- writer ----------------------------------------------------------------------------

    def writer(
        self,
        run: RunInfo | None = None,
        *,
        shards: int = 16,
        flush_rows: int = 10_000,
        flush_seconds: float | None = 10.0,
    ) -> LedgerWriter:
        """Open a writer for ``run`` (a new run when None); use it as a context manager."""
        return LedgerWriter(
            self,
            run or RunInfo(),
            shards=shards,
            flush_rows=flush_rows,
            flush_seconds=flush_seconds,
        ).open()

    # -- reading helpers -------------------------------------------------------------------

    # -- damage ----------------------------------------------------------------------------

    def damaged_segments(self) -> list[health.Damaged]:
        """Live segments that fail the cheap structural check or the last ``verify``.

        Local ledgers only: an object store's write-once objects cannot be torn in place.
        """
        if not self._is_local():
            return []
        return health.find_damaged(self.root, self.live_segments())

    def check_writable(self) -> None:
        """Raise :class:`LedgerDamaged` when appending must wait for a repair."""
        if self.allow_damaged:
            return
        why = health.refusal(self.root, self.damaged_segments())
        if why is not None:
            raise health.LedgerDamaged(why)

    def repair(self) -> list[health.Damaged]:
        """Move every damaged segment to ``quarantine/`` with a chain entry saying so.

        Runs a full :meth:`verify` first; a segment whose bytes differ from the chain, or that
        is missing, gets a ``quarantine`` entry that ``replaces`` it, so the chain stays whole
        and readers and writers stop tripping on it. Returns what was quarantined.
        """
        if not self._is_local():
            raise LedgerLocationError(f"{self.root}: repair works on local ledgers only")
        rep = self.verify()
        done: list[health.Damaged] = []
        with flocked(os.path.join(self.root, COMPACT_LOCK_FILE)):
            live, _ = self._live(self.chain.read()[0])
            for issue in rep.issues:
                if issue.kind not in health.DAMAGE_KINDS or issue.path not in live:
                    continue
                e = live[issue.path]
                src = self._abs(issue.path)
                rel_q = f"{health.QUARANTINE_DIR}/{issue.path}"
                dst = self._abs(rel_q)
                present = os.path.exists(src)
                digest, size = (file_sha256(src), os.path.getsize(src)) if present else ("", 0)
                with self.chain.locked():
                    self.chain.append_locked(
                        {
                            "op": "quarantine",
                            "table": e.get("table"),
                            "path": rel_q,
                            "sha256": digest,
                            "rows": 0,
                            "bytes": size,
                            "run_id": e.get("run_id"),
                            "replaces": [issue.path],
                            "note": f"{issue.kind}: {issue.detail}"
                            + ("" if present else " (file lost; nothing to move)"),
                        }
                    )
                    if present:
                        ensure_dir(os.path.dirname(dst))
                        os.replace(src, dst)
                        fsync_dir(os.path.dirname(src))
                done.append(health.Damaged(issue.path, str(e.get("table")), issue.kind))
                live.pop(issue.path, None)
        self.verify()  # records the state after the repair
        return done

    # -- reading helpers -------------------------------------------------------------------

    def _read_columns(self, paths: list[str], columns: list[str]) -> pa.Table | None:
        tables = []
        for p in paths:
            try:
                pf = self._parquet(p)
            except FileNotFoundError:  # compacted away under us; the merged copy is listed too
                continue
            except (pa.ArrowException, OSError) as exc:
                # A damaged segment: leave its rows out (a resumed run redoes them) and say so.
                rel = os.path.relpath(p, self.root).replace(os.sep, "/")
                health.warn_skipped(self.root, [health.Damaged(rel, "", f"unreadable: {exc}")])
                continue
            names = set(pf.schema_arrow.names)
            t = pf.read(columns=[c for c in columns if c in names])
            for c in columns:
                if c not in names:
                    t = t.append_column(c, pa.nulls(t.num_rows, S.DECISIONS.field(c).type))
            tables.append(t.select(columns))
        return pa.concat_tables(tables) if tables else None

    def snapshot_keys(self, limit: int | None = None) -> list[str]:
        """sha256 of stored snapshots, newest first, at most ``limit`` of them.

        Writers warm their bounded de-duplication cache with the newest keys; the
        ``snapshots`` view de-duplicates whatever the cache no longer remembers, so memory
        stays flat however many bodies the ledger holds.
        """
        segs = [e for e in self.live_segments("snapshots") if e["rows"]]
        keys: list[str] = []
        for e in reversed(segs):
            if limit is not None and len(keys) >= limit:
                break
            # A damaged snapshot segment only means a body may be stored twice.
            with contextlib.suppress(FileNotFoundError, pa.ArrowException, OSError):
                col = self._parquet(self._abs(e["path"])).read(columns=["sha256"]).column(0)
                keys.extend(reversed(col.to_pylist()))
        return keys if limit is None else keys[:limit]

    def _run_paths(self, table: str, run_id: str, shard: int | None = None) -> list[str]:
        prefix = f"{table}/run={run_id}/" + ("" if shard is None else f"shard={shard}/")
        return [
            self._abs(e["path"])
            for e in self.live_segments(table)
            if e["path"].startswith(prefix) and e["rows"]
        ]

    def run_counts(self, run_id: str, shard: int | None = None) -> dict[str, Any]:
        """Decisions by verdict and fetches stored for a run, read from disk.

        With ``shard``, only the decisions under ``decisions/run=<run_id>/shard=<shard>/``
        are counted (fetches are not partitioned by shard and are always the run's total).
        """
        verdicts = dict.fromkeys(S.VERDICT_COUNTS.names, 0)
        paths = self._run_paths("decisions", run_id, shard)
        total = 0
        counted = self._count_verdicts(paths)
        if counted is None:  # a damaged segment: per-file reads skip it and say so
            t = self._read_columns(paths, ["verdict"])
            counted = (
                []
                if t is None
                else [
                    (i["values"], i["counts"])
                    for i in t.column("verdict").value_counts().to_pylist()
                ]
            )
        for verdict, n in counted:
            total += n
            if verdict in verdicts:
                verdicts[verdict] = n
        fetches = 0
        for p in self._run_paths("fetches", run_id):
            with contextlib.suppress(FileNotFoundError):
                fetches += self._parquet(p).metadata.num_rows
        return {"decisions": total, "verdicts": verdicts, "fetches": fetches}

    def rollup_table(self, run_id: str, shard: int | None = None) -> pa.Table:
        """The ``rollups`` rows of a run (or one shard of it), aggregated from its decisions."""
        paths = self._run_paths("decisions", run_id, shard)
        schema = S.with_metadata("rollups", S.ROLLUPS, __version__)
        if not paths:
            return schema.empty_table()
        con = self.bare_connection()
        try:
            con.execute("SET TimeZone = 'UTC'")
            t = con.sql(
                """
                SELECT $run AS run_id, $shard::INTEGER AS shard_k, registrable_domain, agent,
                       purpose, verdict, reasons[1] AS reason,
                       list_filter(evidence, lambda e: e.decisive)[1].protocol AS protocol,
                       count(*) AS decisions, sum(content_size) AS content_bytes,
                       count(content_size) AS sized, min(checked_at) AS first_checked,
                       max(checked_at) AS last_checked, now() AS written_at
                FROM read_parquet($f, union_by_name = true)
                GROUP BY ALL
                """,
                params={
                    "f": [self.segment_url_abs(p) for p in paths],
                    "run": run_id,
                    "shard": shard,
                },
            ).to_arrow_table()
        finally:
            con.close()
        return t.cast(schema)

    def _count_verdicts(self, paths: list[str]) -> list[tuple[str, int]] | None:
        """(verdict, rows) over ``paths`` aggregated by DuckDB: memory does not grow with the
        run (a shard of 20 M decisions used to load its whole verdict column). None when a
        file cannot be read."""
        if not paths:
            return []
        con = self.bare_connection()
        try:
            urls = [self.segment_url_abs(p) for p in paths]
            return [
                (str(v), int(n))
                for v, n in con.execute(
                    "SELECT verdict, count(*) FROM read_parquet($f, union_by_name = true)"
                    " GROUP BY verdict",
                    {"f": urls},
                ).fetchall()
            ]
        except Exception:  # duckdb.Error, IOException: fall back to per-file reads
            return None
        finally:
            con.close()

    def segment_url_abs(self, path: str) -> str:
        """The :meth:`segment_url` of a segment given by its absolute path."""
        return path

    def decided_keys(self, run_id: str) -> set[tuple[int | str, str]]:
        """``(input_row or url, agent)`` of every decision on disk for a run, for resuming.

        Rows with an ``input_row`` are keyed by it (manifest audits), others by URL. Whatever
        the writer had not flushed when the run died is absent, so a resumed run redoes exactly
        that.
        """
        t = self._read_columns(self._run_paths("decisions", run_id), ["input_row", "url", "agent"])
        if t is None:
            return set()
        rows = t.column("input_row").to_pylist()
        urls = t.column("url").to_pylist()
        agents = t.column("agent").to_pylist()
        return {(r if r is not None else u, a) for r, u, a in zip(rows, urls, agents, strict=True)}

    # -- SQL -------------------------------------------------------------------------------

    def view_sql(self) -> str:
        """Every view definition with this ledger's path filled in, ready for plain DuckDB."""
        path = _sql_string(self.root)
        parts = [f"-- {name}\n{text.replace('{ledger}', path)}" for name, text in _view_files()]
        return "\n".join(parts)

    def connect(self, database: str = ":memory:") -> Any:
        """A DuckDB connection with the views; timestamps shown in UTC, no extension downloads."""
        import duckdb

        con = duckdb.connect(database, config={"autoinstall_known_extensions": False})
        con.execute("SET TimeZone = 'UTC'")
        path = _sql_string(self.root)
        damaged = self.damaged_segments()
        health.warn_skipped(self.root, damaged)
        skip = {self._abs(d.path) for d in damaged}
        for name, text in _view_files():
            sql = text.replace("{ledger}", path)
            late = {"08_complaints.sql": "complaints", "10_seals.sql": "seals"}.get(name)
            if late is not None and not self._has_files(late):
                # A ledger from before this table, opened read-only: no file to glob.
                start = sql.index("SELECT *\nFROM read_parquet")
                end = sql.index(";", start)
                sql = sql[:start] + _empty_select(S.SCHEMAS[late]) + sql[end:]
            if name == "09_rollups.sql" and not self._has_files("rollups"):
                sql = _without_table_files(sql, "rollups")
            if skip:
                sql = _without_files(sql, skip)
            con.execute(sql)
            _add_missing_columns(con)
        return con

    def _has_files(self, table: str) -> bool:
        for _dirpath, _, files in os.walk(os.path.join(self.root, table)):
            if any(f.endswith(".parquet") and not f.startswith(".") for f in files):
                return True
        return False

    # -- verification ----------------------------------------------------------------------

    def _list_files(self) -> list[str]:
        out = []
        for table in S.TABLES:
            base = os.path.join(self.root, table)
            for dirpath, _, files in os.walk(base):
                for f in files:
                    rel = os.path.relpath(os.path.join(dirpath, f), self.root)
                    out.append(rel.replace(os.sep, "/"))
        return out

    def verify(
        self, expected_head: str | None = None, trusted: Iterable[str] | None = None
    ) -> VerifyReport:
        """Check the chain links and signatures, every segment's hash, extra files and every
        snapshot body. ``trusted``: key ids every signature must come from."""
        with flocked(os.path.join(self.root, COMPACT_LOCK_FILE), shared=True):
            with self.chain.locked():
                entries, problems = self.chain.read()
                files = self._list_files()
            rep = self._verify(entries, problems, files, expected_head, trusted)
        health.write_state(self.root, rep.ok, rep.head, rep.issues)
        return rep

    def _verify(
        self,
        entries: list[dict[str, Any]],
        problems: list[str],
        files: list[str],
        expected_head: str | None,
        trusted: Iterable[str] | None = None,
    ) -> VerifyReport:
        rep = VerifyReport(head=GENESIS, entries=len(entries))
        sigs = check_chain(entries, trusted)
        rep.signature, rep.signers, rep.unsigned_entries = (
            sigs.status,
            sigs.signers,
            sigs.unsigned,
        )
        for where, detail in sigs.problems:
            rep.issues.append(Issue("signature", where, detail))
        for p in problems:
            rep.issues.append(Issue("chain", "chain.jsonl", p))
        prev = GENESIS
        for i, e in enumerate(entries):
            where = f"chain.jsonl seq {e.get('seq', '?')}"
            try:
                if e.get("seq") != i:
                    rep.issues.append(Issue("chain", where, f"expected seq {i}"))
                if e.get("prev") != prev:
                    rep.issues.append(Issue("chain", where, "prev does not match the entry before"))
                if e.get("entry_hash") != entry_hash(e):
                    rep.issues.append(
                        Issue("chain", where, "entry_hash does not match its content")
                    )
            except (KeyError, TypeError) as exc:
                rep.issues.append(Issue("chain", where, f"malformed entry: {exc}"))
            prev = str(e.get("entry_hash"))
        rep.head = prev
        if expected_head and expected_head not in {e.get("entry_hash") for e in entries}:
            rep.issues.append(
                Issue("head", expected_head, "published head is not in this chain (rewritten?)")
            )
        good = [e for e in entries if isinstance(e.get("path"), str)]
        live, replaced = self._live(good)
        present = set(files)
        for rel, e in live.items():
            final = self._abs(rel)
            if rel not in present:
                tmp = tmp_name(final)
                if self._exists(tmp) and self._file_sha256(tmp) == e.get("sha256"):
                    rep.pending.append(rel)
                else:
                    rep.issues.append(Issue("missing", rel, "in the chain, not on disk"))
                continue
            if self._file_sha256(final) != e.get("sha256"):
                rep.issues.append(Issue("modified", rel, "sha256 differs from the chain"))
            rep.segments += 1
            rep.rows[e.get("table", "?")] = rep.rows.get(e.get("table", "?"), 0) + int(
                e.get("rows") or 0
            )
        pending_tmp = {os.path.basename(tmp_name(self._abs(p))) for p in rep.pending}
        for rel in files:
            base = rel.rsplit("/", 1)[-1]
            if rel in live:
                continue
            if rel in replaced:
                rep.issues.append(
                    Issue("replaced-present", rel, "compaction replaced it; run `ledger compact`")
                )
            elif base.startswith(".") and base.endswith(".tmp"):
                if base not in pending_tmp:
                    rep.warnings.append(f"stray temporary file (uncommitted write): {rel}")
            else:
                rep.issues.append(Issue("extra", rel, "on disk, not in the chain"))
        # Content addressing: a body must still hash to its key, whatever the chain says
        # (the chain alone cannot catch a rewrite of the whole history).
        snapshot_files = [
            r for r, e in live.items() if e.get("table") == "snapshots" and e.get("rows")
        ]
        for rel in sorted(r for r in snapshot_files if r in present):
            try:
                pf = self._parquet(self._abs(rel))
                for batch in pf.iter_batches(batch_size=256, columns=["sha256", "body"]):
                    for key, body in zip(
                        batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True
                    ):
                        rep.snapshots_checked += 1
                        if hashlib.sha256(body or b"").hexdigest() != key:
                            rep.issues.append(
                                Issue("snapshot", rel, f"body does not hash to {key}")
                            )
            except Exception as exc:  # a corrupt file is an issue to report, not a crash
                rep.issues.append(Issue("snapshot", rel, f"unreadable: {exc}"))
        return rep

    # -- compaction ------------------------------------------------------------------------

    def compact(
        self,
        *,
        small_rows: int = 100_000,
        target_rows: int = 1_000_000,
        target_bytes: int = 256 << 20,
    ) -> CompactReport:
        """Merge small segments of each table partition; extends the chain, loses no row.

        Each merged segment's chain entry lists the segments it ``replaces``; they are deleted
        only after that entry is committed, so a crash leaves either the old files (entry not
        written) or both (finished by :meth:`recover`), never neither.
        """
        rep = CompactReport()
        # Merging would read the damaged bytes into a new segment (or die half-way): repair
        # first, whatever allow_damaged says.
        why = health.refusal(self.root, self.damaged_segments())
        if why is not None:
            raise health.LedgerDamaged(why.split(" (or pass")[0])
        with flocked(os.path.join(self.root, COMPACT_LOCK_FILE)):
            self.recover()
            groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for e in self.live_segments():
                if e.get("op") == "schema" or e["rows"] >= small_rows:
                    continue
                groups.setdefault((e["table"], e["path"].rsplit("/", 1)[0]), []).append(e)
            for (table, rel_dir), segs in sorted(groups.items()):
                segs.sort(key=lambda e: e["seq"])
                batch: list[dict[str, Any]] = []
                rows = size = 0
                for e in [*segs, None]:
                    if e is not None and (
                        not batch
                        or (rows + e["rows"] <= target_rows and size + e["bytes"] <= target_bytes)
                    ):
                        batch.append(e)
                        rows += e["rows"]
                        size += e["bytes"]
                        continue
                    if len(batch) > 1:
                        self._merge(table, rel_dir, batch, rep)
                    batch = [e] if e is not None else []
                    rows = e["rows"] if e is not None else 0
                    size = e["bytes"] if e is not None else 0
            rep.removed_tmp = self._remove_stray_tmp(older_than=3600)
        return rep

    def _merge(
        self, table: str, rel_dir: str, batch: list[dict[str, Any]], rep: CompactReport
    ) -> None:
        parts = [self._parquet(self._abs(e["path"])).read() for e in batch]
        # Every part passes through the migration chain first, so parts written by different
        # versions merge into one segment of the current version.
        parts = [S.upgrade(table, t) for t in parts]
        merged = pa.concat_tables(parts, promote_options="default")
        current = S.SCHEMAS[table]
        if merged.schema.remove_metadata() == current.remove_metadata():
            merged = merged.replace_schema_metadata(
                S.with_metadata(table, current, __version__).metadata
            )
        run_ids = {e.get("run_id") for e in batch}
        run_id = run_ids.pop() if len(run_ids) == 1 else None
        self.write_segment(
            table,
            rel_dir,
            merged,
            name=segment_name(f"compact-{run_id}" if run_id else "compact"),
            op="compact",
            run_id=run_id,
            replaces=[e["path"] for e in batch],
        )
        for e in batch:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._abs(e["path"]))
        fsync_dir(self._abs(rel_dir))
        rep.merged += len(batch)
        rep.written += 1
        rep.rows += merged.num_rows

    def _remove_stray_tmp(self, older_than: float) -> int:
        removed = 0
        cutoff = time.time() - older_than
        with self.chain.locked():
            entries, _ = self.chain.read()
            live, _ = self._live(entries)
            pending = {tmp_name(self._abs(p)) for p in live}
            for rel in self._list_files():
                base = rel.rsplit("/", 1)[-1]
                path = self._abs(rel)
                if base.startswith(".") and base.endswith(".tmp") and path not in pending:
                    with contextlib.suppress(FileNotFoundError):
                        if os.path.getmtime(path) < cutoff:
                            os.remove(path)
                            removed += 1
        return removed

    # -- WARC export -----------------------------------------------------------------------

    def iter_snapshots(self) -> Iterator[dict[str, Any]]:
        """Each stored body once (earliest copy first by chain order), as a dict per row."""
        seen: set[str] = set()
        damaged = [d for d in self.damaged_segments() if d.table == "snapshots"]
        health.warn_skipped(self.root, damaged)
        skip = {d.path for d in damaged}
        for e in self.live_segments("snapshots"):
            if not e["rows"] or e["path"] in skip:
                continue
            pf = self._parquet(self._abs(e["path"]))
            for batch in pf.iter_batches(batch_size=256):
                for row in batch.to_pylist():
                    if row["sha256"] in seen:
                        continue
                    seen.add(row["sha256"])
                    yield row

    def export_warc(self, path: str | os.PathLike[str]) -> int:
        """Write every snapshot as a WARC/1.1 ``response`` record; returns the record count.

        The HTTP block is the stored status and headers of the first fetch that produced the
        body, with the body as stored (decoded): a ``Content-Encoding``/``Transfer-Encoding``
        that no longer describes it, and a ``Content-Length`` that differs from it, are kept
        under ``X-Tdmscan-Original-*`` names so replay tools read the payload correctly.
        """
        from warcio.statusandheaders import StatusAndHeaders
        from warcio.warcwriter import WARCWriter

        path = os.fspath(path)
        n = 0
        with open(path, "wb") as fh:
            w = WARCWriter(fh, gzip=path.endswith(".gz"), warc_version="1.1")
            info = w.create_warcinfo_record(
                os.path.basename(path),
                {
                    "software": f"tdmscan {__version__}",
                    "description": "tdmscan ledger snapshots (robots.txt, tdmrep.json, ai.txt...)",
                    "ledger-chain-head": self.head(),
                },
            )
            w.write_record(info)
            for row in self.iter_snapshots():
                body: bytes = row["body"] or b""
                headers = _export_headers(row["headers"] or [], len(body))
                status = row["status"] if row["status"] is not None else 200
                http = StatusAndHeaders(status_line(status), headers, protocol="HTTP/1.1")
                digest = base64.b32encode(bytes.fromhex(row["sha256"])).decode("ascii")
                fetched_at = row["fetched_at"]
                warc_headers = {
                    "WARC-Payload-Digest": f"sha256:{digest}",
                }
                if fetched_at is not None:
                    warc_headers["WARC-Date"] = utc_iso(fetched_at.astimezone(UTC))
                rec = w.create_warc_record(
                    row["url"] or "",
                    "response",
                    payload=io.BytesIO(body),
                    length=len(body),
                    http_headers=http,
                    warc_headers_dict=warc_headers,
                )
                w.write_record(rec)
                n += 1
            fh.flush()
            os.fsync(fh.fileno())
        return n


_READ_PARQUET = re.compile(r"read_parquet\('((?:[^']|'')+)'")


def _without_files(sql: str, skip: set[str]) -> str:
    """The view SQL with each ``read_parquet`` glob replaced by the matching files minus
    ``skip``: DuckDB cannot leave one file out of a glob."""

    def sub(m: re.Match[str]) -> str:
        pattern = m.group(1).replace("''", "'")
        files = sorted(f for f in glob.glob(pattern) if f not in skip)
        if len(files) == len(glob.glob(pattern)):
            return m.group(0)
        return "read_parquet([" + ", ".join("'" + _sql_string(f) + "'" for f in files) + "]"

    return _READ_PARQUET.sub(sub, sql)


_DUCKDB_TYPES: dict[pa.DataType, str] = {
    pa.bool_(): "BOOLEAN",
    pa.string(): "VARCHAR",
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE",
}


def _without_table_files(sql: str, table: str) -> str:
    """``sql`` with its ``read_parquet`` of ``table`` replaced by a typed zero-row SELECT (a
    ledger from before that table, opened read-only, has no file to read)."""
    start = sql.index("SELECT *\n    FROM read_parquet")
    end = sql.index(")", sql.index("hive_partitioning", start)) + 1
    return sql[:start] + _empty_select(S.SCHEMAS[table]) + sql[end:]


def _empty_select(schema: pa.Schema) -> str:
    """A zero-row SELECT with ``schema``'s columns and types (DuckDB SQL)."""
    cols = []
    for f in schema:
        if pa.types.is_timestamp(f.type):
            typ = "TIMESTAMPTZ"
        elif pa.types.is_binary(f.type):
            typ = "BLOB"
        elif pa.types.is_list(f.type):
            typ = _DUCKDB_TYPES[f.type.value_type] + "[]"
        else:
            typ = _DUCKDB_TYPES[f.type]
        cols.append(f"CAST(NULL AS {typ}) AS {f.name}")
    return f"SELECT {', '.join(cols)} WHERE false"


def _add_missing_columns(con: Any) -> None:
    """Give each table view the columns a newer schema added, as NULL, when no file has them.

    A ledger written before a column existed, opened read-only (no new schema anchor can be
    written), would otherwise lack the column, and every query naming it would fail. The view
    is renamed and wrapped, so views defined on it later see the full current schema.
    """
    have = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    for table in S.TABLES:
        if table not in have:
            continue
        cols = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
        missing = [f for f in S.SCHEMAS[table] if f.name not in cols and f.type in _DUCKDB_TYPES]
        if not missing:
            continue
        extra = ", ".join(f"CAST(NULL AS {_DUCKDB_TYPES[f.type]}) AS {f.name}" for f in missing)
        con.execute(f"ALTER VIEW {table} RENAME TO _{table}_stored")
        con.execute(f"CREATE VIEW {table} AS SELECT *, {extra} FROM _{table}_stored")


def _export_headers(headers: list[dict[str, str]], body_len: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    length_ok = True
    for h in headers:
        name, value = h["name"], h["value"]
        lname = name.lower()
        if lname in ("content-encoding", "transfer-encoding"):
            out.append((f"X-Tdmscan-Original-{name}", value))
            length_ok = False
        elif lname == "content-length":
            if value.strip() != str(body_len):
                length_ok = False
            out.append((name, value))
        else:
            out.append((name, value))
    if not length_ok or not any(n.lower() == "content-length" for n, _ in out):
        out = [
            (f"X-Tdmscan-Original-{n}", v) if n.lower() == "content-length" else (n, v)
            for n, v in out
        ]
        out.append(("Content-Length", str(body_len)))
    return out
