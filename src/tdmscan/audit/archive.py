"""Archived site files: an index of robots.txt, tdmrep.json and ai.txt captures from WARCs.

``build_index`` reads WARCs once, record by record (through
:func:`tdmscan.integrations.warc.read_warc`, which resynchronises after a corrupt gzip member
instead of stopping), and keeps every capture of an origin's site files: the archived
response (status, headers, redirect target, body hash) keyed by origin, kind and capture
time (``WARC-Date``), with each distinct body stored once. The index is one DuckDB file:

* ``captures``: ``capture_id``, ``origin``, ``kind`` (robots | tdmrep | ai-txt), ``url``,
  ``captured_at``, ``status``, ``headers``, ``location``, ``sha256``, ``size``,
  ``truncated``, ``error``, ``warc_file``, ``warc_offset``, ``warc_record_id``; sorted by
  (origin, kind, captured_at), so one origin's captures sit together.
* ``bodies``: ``sha256``, ``body``.
* ``meta``: ``key``, ``value`` (format version, counts, the WARCs read).

An as-of audit assigns each URL a capture with DuckDB ``ASOF`` joins against ``captures``
(:meth:`tdmscan.audit.plan.Plan.assign_captures`) and loads the chosen captures' bodies in
batches through :class:`ArchiveSites`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import duckdb
import pyarrow as pa

from .. import policy
from ..types import Decision, Evidence, Fetched, SiteFiles
from ..urls import InvalidURL, parse_url

__all__ = [
    "INDEX_VERSION",
    "ArchiveError",
    "ArchiveSites",
    "IndexSummary",
    "build_index",
    "is_index",
    "open_archive",
]

INDEX_VERSION = 1
#: File kinds of the index, named as the ledger's fetch kinds.
KINDS: dict[str, str] = {"robots": "robots", "tdmrep": "tdmrep", "ai_txt": "ai-txt"}
_PATHS = {"robots": "/robots.txt", "tdmrep": "/.well-known/tdmrep.json", "ai-txt": "/ai.txt"}
_FLUSH_ROWS = 5_000
_FLUSH_BYTES = 64 << 20
_MAX_REDIRECTS = 5  # RFC 9309 section 2.3.1.2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

HEADER = pa.struct([("name", pa.string()), ("value", pa.string())])
_STAGE = pa.schema(
    [
        ("origin", pa.string()),
        ("kind", pa.string()),
        ("url", pa.string()),
        ("captured_at", pa.timestamp("us", tz="UTC")),
        ("status", pa.int16()),
        ("headers", pa.list_(HEADER)),
        ("location", pa.string()),
        ("sha256", pa.string()),
        ("size", pa.int64()),
        ("truncated", pa.bool_()),
        ("error", pa.string()),
        ("warc_file", pa.string()),
        ("warc_offset", pa.int64()),
        ("warc_record_id", pa.string()),
    ]
)
_BODIES = pa.schema([("sha256", pa.string()), ("body", pa.binary())])

#: Reason codes an as-of audit adds.
NO_CAPTURE = "archive:no-capture"
NO_CAPTURE_TIME = "archive:no-capture-time"


class ArchiveError(Exception):
    """An archive that cannot be used at all; the message is one line for the CLI."""


@dataclass(slots=True)
class IndexSummary:
    """What one index build read: files, records, captures kept and records skipped."""

    path: str = ""
    files: int = 0
    records: int = 0
    captures: int = 0
    bodies: int = 0
    origins: int = 0
    #: Records that could not be read (corrupt gzip member, truncated, malformed), by error.
    skipped: dict[str, int] = field(default_factory=dict)
    #: Files that could not be opened at all: (path, why).
    unreadable_files: list[tuple[str, str]] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.path,
            "files": self.files,
            "records": self.records,
            "captures": self.captures,
            "bodies": self.bodies,
            "origins": self.origins,
            "skipped": dict(self.skipped),
            "skipped_total": sum(self.skipped.values()),
            "unreadable_files": [{"path": p, "error": e} for p, e in self.unreadable_files],
            "first_capture": self.first.isoformat() if self.first else None,
            "last_capture": self.last.isoformat() if self.last else None,
        }


def is_index(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a DuckDB database file (an index built by :func:`build_index`)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[8:12] == b"DUCK"


def _warc_files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out += sorted(
                str(f)
                for f in path.rglob("*")
                if f.is_file() and (f.name.endswith((".warc", ".warc.gz", ".arc.gz")))
            )
        elif path.exists():
            out.append(str(path))
        else:
            raise ArchiveError(f"{path}: no such file or directory")
    return out


def build_index(
    warcs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    max_body: int = 512 * 1024,
    memory_limit: str = "1GB",
    overwrite: bool = False,
) -> IndexSummary:
    """Read ``warcs`` (files or directories) once and write the index to ``output``.

    Streaming: records are read one at a time and staged in DuckDB every few thousand
    captures, so memory stays flat however many WARCs there are. A record that cannot be
    read (a corrupt gzip member, a truncated record) is counted in ``skipped`` and reading
    goes on at the next record; when its URL is known and it is a site file, the capture is
    still kept as an unreadable answer (RFC 9309: unreachable), never dropped. ``max_body``
    bytes of each body are kept (RFC 9309 asks parsers to read at least 500 KiB).
    """
    from ..integrations.warc import read_warc, site_file_kind

    files = _warc_files(warcs)
    if not files:
        raise ArchiveError("no WARC files given")
    out = Path(output)
    if out.exists():
        if not overwrite:
            raise ArchiveError(f"{out}: already exists (pass --overwrite to replace it)")
        out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        tmp.unlink()
    summary = IndexSummary(path=str(out))
    con = duckdb.connect(
        str(tmp),
        config={"memory_limit": memory_limit, "preserve_insertion_order": False},
    )
    try:
        con.execute(
            "CREATE TABLE stage (origin VARCHAR, kind VARCHAR, url VARCHAR,"
            " captured_at TIMESTAMPTZ, status SMALLINT,"
            " headers STRUCT(name VARCHAR, value VARCHAR)[], location VARCHAR, sha256 VARCHAR,"
            " size BIGINT, truncated BOOLEAN, error VARCHAR, warc_file VARCHAR,"
            " warc_offset BIGINT, warc_record_id VARCHAR)"
        )
        con.execute("CREATE TABLE stage_bodies (sha256 VARCHAR, body BLOB)")
        rows: dict[str, list[Any]] = {f.name: [] for f in _STAGE}
        bodies: dict[str, bytes] = {}
        seen_bodies: set[str] = set()
        pending = [0, 0]  # rows, body bytes

        def flush() -> None:
            if rows["origin"]:
                t = pa.Table.from_pydict(rows, schema=_STAGE)
                con.register("_t", t)
                con.execute("INSERT INTO stage SELECT * FROM _t")
                con.unregister("_t")
                for v in rows.values():
                    v.clear()
            if bodies:
                b = pa.Table.from_pydict(
                    {"sha256": list(bodies), "body": list(bodies.values())}, schema=_BODIES
                )
                con.register("_b", b)
                con.execute("INSERT INTO stage_bodies SELECT * FROM _b")
                con.unregister("_b")
                bodies.clear()
            pending[0] = pending[1] = 0

        for path in files:
            summary.files += 1
            try:
                records = read_warc(path, max_body=max_body)
                for rec in records:
                    summary.records += 1
                    if rec.error:
                        summary.skipped[rec.error] = summary.skipped.get(rec.error, 0) + 1
                    if rec.target_uri is None or rec.record_type not in (None, "response"):
                        continue
                    hit = site_file_kind(rec.target_uri)
                    if hit is None:
                        continue
                    origin, kind = hit
                    f = rec.response
                    if f is None and rec.error is None:
                        continue
                    try:
                        url = parse_url(rec.target_uri).url
                    except InvalidURL:
                        continue
                    when = rec.date
                    if when is not None:
                        summary.first = when if summary.first is None else min(summary.first, when)
                        summary.last = when if summary.last is None else max(summary.last, when)
                    rows["origin"].append(origin)
                    rows["kind"].append(KINDS[kind])
                    rows["url"].append(url)
                    rows["captured_at"].append(when)
                    rows["warc_file"].append(path)
                    rows["warc_offset"].append(rec.offset)
                    rows["warc_record_id"].append(rec.record_id)
                    if f is None:
                        # Archived but unreadable: kept as a capture with no usable answer.
                        for name in ("status", "location", "sha256", "size"):
                            rows[name].append(None)
                        rows["headers"].append([])
                        rows["truncated"].append(True)
                        rows["error"].append(f"warc-{rec.error}")
                    else:
                        sha = f.sha256
                        rows["status"].append(f.status)
                        rows["headers"].append([{"name": k, "value": v} for k, v in f.headers])
                        rows["location"].append(f.header("location"))
                        rows["sha256"].append(sha)
                        rows["size"].append(len(f.body))
                        rows["truncated"].append(f.truncated)
                        rows["error"].append(None)
                        if sha not in seen_bodies:
                            seen_bodies.add(sha)
                            bodies[sha] = f.body
                            pending[1] += len(f.body)
                    pending[0] += 1
                    if pending[0] >= _FLUSH_ROWS or pending[1] >= _FLUSH_BYTES:
                        flush()
            except OSError as exc:
                summary.unreadable_files.append((path, exc.strerror or str(exc)))
        flush()
        con.execute(
            """
            CREATE TABLE captures AS
            SELECT row_number() OVER (ORDER BY origin, kind, captured_at, warc_file, warc_offset)
                       AS capture_id, *
            FROM stage ORDER BY origin, kind, captured_at, warc_file, warc_offset
            """
        )
        con.execute(
            "CREATE TABLE bodies AS SELECT sha256, any_value(body) AS body FROM stage_bodies"
            " GROUP BY sha256 ORDER BY sha256"
        )
        con.execute("DROP TABLE stage")
        con.execute("DROP TABLE stage_bodies")
        summary.captures = int(con.execute("SELECT count(*) FROM captures").fetchone()[0])  # type: ignore[index]
        summary.bodies = int(con.execute("SELECT count(*) FROM bodies").fetchone()[0])  # type: ignore[index]
        summary.origins = int(
            con.execute("SELECT count(DISTINCT origin) FROM captures").fetchone()[0]  # type: ignore[index]
        )
        con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
        con.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ["format", "tdmscan-archive-index"],
                ["version", str(INDEX_VERSION)],
                ["summary", json.dumps(summary.to_dict(), sort_keys=True)],
                ["warcs", json.dumps(files)],
            ],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, out)
    return summary


def open_archive(
    sources: Sequence[str | os.PathLike[str]], workdir: Path, *, memory_limit: str = "1GB"
) -> str:
    """The index to use for ``sources``: the index itself, or one built from WARCs in workdir."""
    if not sources:
        raise ArchiveError(
            "--as-of needs --archive (an index from 'tdmscan archive index', or WARCs)"
        )
    if len(sources) == 1 and is_index(sources[0]):
        path = os.fspath(sources[0])
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                fmt = con.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
            finally:
                con.close()
        except duckdb.Error as exc:
            raise ArchiveError(f"{path}: not a readable archive index: {exc}") from exc
        if not fmt or fmt[0] != "tdmscan-archive-index":
            raise ArchiveError(f"{path}: a DuckDB file, but not a tdmscan archive index")
        return path
    for s in sources:
        if is_index(s):
            raise ArchiveError(f"{s}: give one archive index, or WARC files, not both")
    out = Path(workdir) / "archive-index.duckdb"
    build_index(sources, out, memory_limit=memory_limit, overwrite=True)
    return str(out)


def index_summary(path: str) -> dict[str, Any]:
    con = duckdb.connect(path, read_only=True)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'summary'").fetchone()
    finally:
        con.close()
    return json.loads(row[0]) if row else {}


# ------------------------------------------------------------------------------- audit side


@dataclass(frozen=True, slots=True)
class Capture:
    """One archived response and where it is in the archive."""

    capture_id: int
    origin: str
    kind: str
    url: str
    captured_at: datetime | None
    fetched: Fetched
    location: str | None
    warc_file: str | None
    warc_offset: int | None
    warc_record_id: str | None


@dataclass(frozen=True, slots=True)
class CaptureKey:
    """What an as-of group of URLs rests on: one capture per file kind and which side of the
    URLs' capture time the robots.txt copy lies (before | after | none | no-time)."""

    robots: int | None
    side: str
    tdmrep: int | None = None
    ai_txt: int | None = None


def _fmt_delta(seconds: float) -> str:
    s = int(abs(seconds))
    if s % 86400 == 0 and s:
        return f"{s // 86400}d"
    if s % 3600 == 0 and s:
        return f"{s // 3600}h"
    if s % 60 == 0:
        return f"{s // 60}m"
    return f"{s}s"


def window_text(before: float, after: float) -> str:
    return f"-{_fmt_delta(before)}/+{_fmt_delta(after)}"


class ArchiveSites:
    """Site files for as-of groups, from the index; records each capture used once.

    Captures are loaded in batches: every :meth:`site` call made in one event-loop pass is
    answered by one query, so a window of a few hundred groups costs one round trip into
    DuckDB, not one each.
    """

    #: Captures kept in memory; past this the cache is emptied and refilled on demand.
    max_loaded = 50_000

    def __init__(
        self,
        index: str,
        *,
        window_before: float,
        window_after: float,
        writer: Any = None,
    ) -> None:
        self.index = index
        self.con = duckdb.connect(index, read_only=True)
        self.window_before = window_before
        self.window_after = window_after
        self.window = window_text(window_before, window_after)
        self.writer = writer
        self._loaded: dict[int, Capture] = {}
        self._recorded: set[int] = set()
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}
        self._scheduled = False
        self.origins_fetched = 0
        self.requests = 0

    @property
    def stats(self) -> ArchiveSites:
        return self

    def close(self) -> None:
        self.con.close()

    async def aclose(self) -> None:
        self.close()

    # -- loading -------------------------------------------------------------------------

    def _load(self, ids: Iterable[int]) -> None:
        want = sorted({i for i in ids if i not in self._loaded})
        if not want:
            return
        # Keep memory bounded on long runs: captures are looked up per group, and a group's
        # captures are never needed again once its rows are decided.
        if len(self._loaded) > self.max_loaded:
            self._loaded.clear()
        t = pa.table({"id": pa.array(want, pa.int64())})
        self.con.register("_want", t)
        try:
            res = self.con.execute(
                "SELECT c.capture_id, c.origin, c.kind, c.url, c.captured_at, c.status,"
                " c.headers, c.location, c.sha256, c.truncated, c.error, c.warc_file,"
                " c.warc_offset, c.warc_record_id, b.body"
                " FROM captures c JOIN _want w ON w.id = c.capture_id"
                " LEFT JOIN bodies b ON b.sha256 = c.sha256"
            ).fetchall()
        finally:
            self.con.unregister("_want")
        for r in res:
            cid, origin, kind, url, at, status, headers, loc, _sha, trunc, err, wf, wo, wr, body = r
            fetched = Fetched(
                status=status,
                headers=tuple((h["name"], h["value"]) for h in headers or ()),
                body=bytes(body) if body is not None else b"",
                error=err,
                url=url,
                final_url=url,
                fetched_at=at,
                truncated=bool(trunc),
            )
            self._loaded[cid] = Capture(cid, origin, kind, url, at, fetched, loc, wf, wo, wr)
        self.requests += 1

    def _flush_waiting(self) -> None:
        self._scheduled = False
        waiting, self._waiting = self._waiting, {}
        try:
            self._load(waiting)
        except BaseException as exc:
            for futs in waiting.values():
                for f in futs:
                    if not f.done():
                        f.set_exception(exc)
            return
        for futs in waiting.values():
            for f in futs:
                if not f.done():
                    f.set_result(None)

    async def _ensure(self, ids: Sequence[int]) -> None:
        missing = [i for i in ids if i not in self._loaded]
        if not missing:
            return
        loop = asyncio.get_running_loop()
        futs = []
        for i in missing:
            fut: asyncio.Future[None] = loop.create_future()
            self._waiting.setdefault(i, []).append(fut)
            futs.append(fut)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush_waiting)
        await asyncio.gather(*futs)

    def _capture_near(self, url: str, when: datetime | None) -> Capture | None:
        """The capture of ``url`` nearest ``when`` within the window (before first), for
        following an archived redirect and for single URLs decided outside a group."""
        if when is None:
            return None
        lo = when - timedelta(seconds=self.window_before)
        hi = when + timedelta(seconds=self.window_after)
        row = self.con.execute(
            "SELECT capture_id FROM captures WHERE url = ? AND captured_at BETWEEN ? AND ?"
            " ORDER BY (captured_at > ?), abs(epoch(captured_at) - epoch(?::TIMESTAMPTZ))"
            " LIMIT 1",
            [url, lo, hi, when, when],
        ).fetchone()
        if row is None:
            return None
        self._load([row[0]])
        return self._loaded.get(row[0])

    def _follow(self, cap: Capture) -> Fetched:
        """The archived answer, following archived redirects (RFC 9309: up to five hops)."""
        f = cap.fetched
        seen: list[str] = []
        current = cap
        for _ in range(_MAX_REDIRECTS + 1):
            f = current.fetched
            if f.status is None or not 300 <= f.status < 400 or not current.location:
                if seen:
                    return replace(f, url=cap.url, final_url=current.url, redirects=tuple(seen))
                return f
            seen.append(current.url)
            try:
                target = parse_url(urljoin(current.url, current.location)).url
            except InvalidURL:
                return replace(f, url=cap.url, redirects=tuple(seen))
            nxt = self._capture_near(target, cap.captured_at)
            if nxt is None:
                # The redirect target was not archived: the hop cannot be followed, which
                # RFC 9309 treats like a redirect that could not be completed (unavailable).
                return replace(f, url=cap.url, redirects=tuple(seen))
            current = nxt
        return Fetched(status=None, error="too-many-redirects", url=cap.url, redirects=tuple(seen))

    # -- groups --------------------------------------------------------------------------

    def files(self, origin: str, key: CaptureKey) -> SiteFiles:
        """The origin's files as archived for ``key``."""
        # Normally loaded already (site() awaited them); the bounded cache may have dropped
        # them while this task waited to resume, so reload synchronously if so.
        self._load(i for i in (key.robots, key.tdmrep, key.ai_txt) if i is not None)
        robots: Fetched
        if key.robots is None:
            why = NO_CAPTURE_TIME if key.side == "no-time" else NO_CAPTURE
            robots = Fetched(status=None, error=why, url=origin + "/robots.txt")
        else:
            robots = self._follow(self._loaded[key.robots])
        tdm = self._follow(self._loaded[key.tdmrep]) if key.tdmrep is not None else None
        ai = self._follow(self._loaded[key.ai_txt]) if key.ai_txt is not None else None
        return SiteFiles(
            origin=origin, robots=robots, tdmrep=tdm, ai_txt=ai, fetched_at=robots.fetched_at
        )

    def record(self, origin: str, key: CaptureKey, files: SiteFiles) -> None:
        """Fetch rows and snapshots of the archived copies, once per capture per run."""
        if self.writer is None:
            return
        for cid, kind, f in (
            (key.robots, "robots", files.robots),
            (key.tdmrep, "tdmrep", files.tdmrep),
            (key.ai_txt, "ai-txt", files.ai_txt),
        ):
            if cid is None or f is None or cid in self._recorded:
                continue
            self._recorded.add(cid)
            self.writer.add_fetch(f, kind, origin, archived_at=self._loaded[cid].captured_at)

    async def site(self, origin: str, key: CaptureKey) -> policy.SiteSignals:
        ids = [i for i in (key.robots, key.tdmrep, key.ai_txt) if i is not None]
        await self._ensure(ids)
        files = self.files(origin, key)
        self.record(origin, key, files)
        self.origins_fetched += 1
        return policy.parse_site(files)

    def site_at(self, origin: str, when: datetime | None) -> tuple[policy.SiteSignals, CaptureKey]:
        """A single URL's site files (a URL decided outside its group): same choice rules."""
        caps = {}
        side = "no-time" if when is None else "none"
        for kind in ("robots", "tdmrep", "ai-txt"):
            c = self._capture_near(origin + _PATHS[kind], when)
            caps[kind] = c.capture_id if c is not None else None
            if kind == "robots" and c is not None and c.captured_at is not None and when:
                side = "before" if c.captured_at <= when else "after"
        key = CaptureKey(caps["robots"], side, caps["tdmrep"], caps["ai-txt"])
        files = self.files(origin, key)
        self.record(origin, key, files)
        return policy.parse_site(files), key

    # -- provenance on decisions ----------------------------------------------------------

    def annotate(self, origin: str, key: CaptureKey) -> Any:
        """A function that adds the archive's provenance to each decision of this group."""
        # The loaded captures may have been dropped (bounded cache) since this group's files
        # were read: reload what the provenance names.
        self._load(i for i in (key.robots, key.tdmrep, key.ai_txt) if i is not None)
        if key.robots is None:
            why = NO_CAPTURE_TIME if key.side == "no-time" else NO_CAPTURE
            text = (
                "the manifest gives no capture time for this URL, so no archived copy can be chosen"
                if key.side == "no-time"
                else f"no archived robots.txt of {origin} within {self.window} of the capture time"
            )
            ev = Evidence(
                protocol="archive",
                locator="archive index",
                raw="",
                interpretation="unknown",
                reason=why,
                source_url=origin + "/robots.txt",
                strength="info",
            )

            def missing(d: Decision) -> Decision:
                # Never allowed without the file the decision would rest on.
                verdict = "unknown" if d.verdict == "allowed" else d.verdict
                return replace(
                    d,
                    verdict=verdict,
                    reasons=(why, *(r for r in d.reasons if r != why)),
                    evidence=(*d.evidence, ev),
                    errors=(*d.errors, f"{why}: {text}"),
                )

            return missing
        cap = self._loaded[key.robots]
        at = cap.captured_at.isoformat() if cap.captured_at else "unknown time"
        evs = [
            Evidence(
                protocol="archive",
                locator=f"{cap.warc_file}#{cap.warc_offset}",
                raw=f"{cap.warc_record_id or ''} WARC-Date {at}".strip(),
                interpretation="info",
                reason=f"archive:copy-{key.side}",
                source_url=cap.url,
                sha256=cap.fetched.sha256 if cap.fetched.status is not None else None,
                strength="info",
            )
        ]
        for cid in (key.tdmrep, key.ai_txt):
            if cid is None:
                continue
            c = self._loaded[cid]
            evs.append(
                Evidence(
                    protocol="archive",
                    locator=f"{c.warc_file}#{c.warc_offset}",
                    raw=(
                        f"{c.warc_record_id or ''} WARC-Date "
                        f"{c.captured_at.isoformat() if c.captured_at else ''}"
                    ).strip(),
                    interpretation="info",
                    reason="archive:copy",
                    source_url=c.url,
                    sha256=c.fetched.sha256 if c.fetched.status is not None else None,
                    strength="info",
                )
            )
        extra = tuple(evs)

        def found(d: Decision) -> Decision:
            return replace(d, evidence=(*d.evidence, *extra))

        return found


class AnnotatedTemplates(list):  # type: ignore[type-arg]
    """A SiteDecider's template list that passes each new template through ``fn``.

    The decider only appends; the ledger writer reads entries by position later, so the
    provenance must be in the template when it is appended, not patched afterwards.
    """

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self._fn = fn

    def append(self, d: Decision) -> None:
        super().append(self._fn(d))
