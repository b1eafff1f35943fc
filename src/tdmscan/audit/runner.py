"""The audit runner: plan -> origin fetches (async, bounded) -> per-URL decisions -> ledger.

Only origins are async tasks. For each origin the three site files are fetched once (through
the Scanner's origin cache), then every URL of that origin is decided in a tight synchronous
loop against a ``policy.SiteDecider`` (``policy.decide`` memoised per distinct outcome),
straight into the ledger writer's columnar path. Rows arrive from DuckDB sorted by origin;
the fetches run up to ``window`` origins ahead of the decision loop. A group whose origin is
still being fetched (a slow host) is parked and the loop moves on, so one hanging host does
not stall the run; parked rows are bounded by ``park_limit`` and beyond that the loop waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import tempfile
import warnings
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .. import policy
from ..types import Decision
from ..urls import MAX_URL_LENGTH, InvalidURL, ParsedURL, parse_url
from .manifest import Manifest
from .plan import OriginGroup, Plan, PlanStats
from .progress import Counters, NullProgress, Reporter

__all__ = ["AuditConfig", "AuditResult", "AuditRunner", "find_resumable_run"]

#: Parked rows (URLs waiting for a slow origin) before the decision loop blocks.
PARK_LIMIT = 200_000
#: Decisions between yields to the event loop, so fetch timeouts are not eaten by CPU work
#: and a fetch process's results are read while it works (a few ms of deciding).
YIELD_EVERY = 1_000
#: Origins to fetch from which ``fetch_process=None`` (auto) starts a fetch process: below,
#: its start-up (about 0.3 s) costs more than the second core gives back.
FETCH_PROCESS_MIN_ORIGINS = 1_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class AuditConfig:
    """Everything that shapes an audit. Fields in :meth:`decision_config` key resumption."""

    agents: Sequence[str] = ("tdmscan",)
    training_agents: bool = False
    mode: str = "conservative"
    purpose: str = "train-ai"
    deep: bool = False
    concurrency: int = 200
    timeout: float = 15.0
    connect_timeout: float | None = None
    ttl: float | None = None
    user_agent: str | None = None
    allow_private: bool = False
    shard: tuple[int, int] | None = None
    memory_limit: str = "1GB"
    threads: int | None = None
    fetcher: str = "aiohttp"
    ledger_shards: int = 16
    flush_rows: int = 10_000  # ledger segment size; small values only make sense in tests
    #: Decisions reach disk at least this often (as well as every ``flush_rows`` per shard),
    #: so a killed run loses at most about this many seconds of work; resume redoes them.
    #: benchmarks/bench_commit.py measures the throughput cost (benchmarks/README.md).
    flush_seconds: float = 2.0
    window: int | None = None  # origins fetched ahead of the decision loop
    #: Fetch origins in a child process (``tdmscan.audit.fetch_process``) so fetching and deciding
    #: use two cores: True, False, or None for "when it pays" (see ``_use_fetch_process``).
    fetch_process: bool | None = None
    workdir: Path | None = None  # DuckDB temp files (default: a temp dir beside the ledger)
    #: As-of audit: "archive" (each row at its own capture time) or one ISO date/time for every
    #: row; decided against ``archive`` (an index or WARCs) instead of the live web.
    as_of: str | None = None
    archive: Sequence[str] = ()
    window_before: float = 86_400.0
    window_after: float = 86_400.0
    #: Also find and read each origin's terms-of-use page (``tos:*`` reasons).
    terms: bool = False
    #: A shard audit without a run id joins the run derived from the manifest and these
    #: settings (``derived_run_id``); a finished shard of it is refused unless ``rerun``
    #: names a deliberate second audit (every job of the array passes the same label).
    rerun: str | None = None
    #: Infringing-site lists in force besides the shipped one (ExclusionList objects).
    exclude_lists: Sequence[Any] = ()

    def as_of_time(self) -> datetime | None:
        """The single as-of time, or None for per-row capture times (``as_of="archive"``)."""
        if self.as_of in (None, "archive"):
            return None
        from .manifest import parse_capture_time

        at = parse_capture_time(self.as_of)
        if at is None:
            raise ValueError(f"--as-of {self.as_of!r}: expected 'archive' or a date (2024-03-01)")
        return at

    def decision_config(self, manifest: Manifest) -> dict[str, Any]:
        """What must match for a rerun to continue an unfinished run (not speed knobs)."""
        return {
            "command": "audit",
            "agents": list(self.agents),
            "training_agents": self.training_agents,
            "mode": self.mode,
            "purpose": self.purpose,
            "deep": self.deep,
            "shard": list(self.shard) if self.shard else None,
            "format": manifest.format,
            "url_column": manifest.url_column,
            "size_column": manifest.size_column,
            "dataset_column": manifest.dataset_column,
            "dataset_id": manifest.dataset_id,
            # Only when set, so runs without capture times keep the key they always had.
            **(
                {"captured_at_column": manifest.captured_at_column}
                if manifest.captured_at_column
                else {}
            ),
            **(
                {
                    "as_of": self.as_of,
                    "archive": [os.fspath(a) for a in self.archive],
                    "window_before_s": self.window_before,
                    "window_after_s": self.window_after,
                }
                if self.as_of
                else {}
            ),
            # Only when on, so runs started before the option existed keep their resume key.
            **({"terms": True} if self.terms else {}),
            **(
                {"exclude_lists": [f"{x.name}@{x.version}" for x in self.exclude_lists]}
                if self.exclude_lists
                else {}
            ),
        }


@dataclass
class AuditResult:
    run_id: str
    ledger: Path | str  # a directory, or an s3:// (gs://, az://) URI kept as written
    status: str  # finished | interrupted
    plan: PlanStats
    counters: Counters
    resumed: bool
    agents: tuple[str, ...]
    requests: int = 0
    origins_fetched: int = 0
    stragglers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class _Parked:
    __slots__ = ("decider", "group", "slices", "task")

    def __init__(self, group: OriginGroup, task: asyncio.Future[Any] | None) -> None:
        self.group = group
        self.task = task
        self.slices: list[pa.RecordBatch] = []
        #: The origin's memoised decisions, made on its first batch (see _decide_batch).
        self.decider: policy.SiteDecider | None = None


def _runs_of(batch: pa.RecordBatch) -> list[tuple[int, int, int]]:
    """(origin_id, start, stop) of each run of equal origin_id in a sorted batch."""
    oid = batch.column(0)
    n = len(oid)
    if n == 0:
        return []
    if n > 1:
        change = pc.not_equal(oid.slice(1), oid.slice(0, n - 1))
        idx = pc.indices_nonzero(change).to_pylist()
    else:
        idx = []
    starts = [0, *[i + 1 for i in idx]]
    stops = [*starts[1:], n]
    ids = oid.to_pylist()
    return [(ids[s], s, e) for s, e in zip(starts, stops, strict=True)]


# Anything parse_url would rewrite: non-printable or non-ASCII, escapes, fragments, backslashes.
_NEEDS_FULL_PARSE = re.compile(r"[^\x21-\x7e]|[%#\\]")


def fast_path(url: str, prefix: str) -> str | None:
    """The normalised path+query of ``url`` when ``fast_parse`` would succeed, else None."""
    if (
        not url.startswith(prefix)
        or len(url) > MAX_URL_LENGTH
        or url[-1] == "?"
        or _NEEDS_FULL_PARSE.search(url) is not None
    ):
        return None
    return url[len(prefix) - 1 :]


def canonical_flags(urls: pa.Array) -> list[bool]:
    """Per URL, whether it passes :func:`fast_path`'s checks other than the origin prefix
    (length, trailing ``?``, characters), for a whole batch in three Arrow kernels instead of
    a regex search per URL in Python."""
    bad = pc.or_kleene(
        pc.match_substring_regex(urls, _NEEDS_FULL_PARSE.pattern),
        pc.or_kleene(pc.greater(pc.utf8_length(urls), MAX_URL_LENGTH), pc.ends_with(urls, "?")),
    )
    # A null (never produced by the manifest readers) counts as not canonical.
    return pc.fill_null(pc.invert(bad), False).to_pylist()


def fast_parse(url: str, prefix: str, base: ParsedURL) -> ParsedURL | None:
    """``parse_url(url)`` without re-parsing, for the common URL that is already canonical.

    ``prefix`` is the origin plus "/", ``base`` the parsed origin. A URL that starts with the
    canonical origin and holds only printable ASCII without ``%``, ``#`` or ``\\`` comes out of
    parse_url unchanged, so its path is simply what follows the origin. Anything else
    returns None and takes the full parser. URL parsing was over half the per-URL cost.
    """
    path = fast_path(url, prefix)
    return None if path is None else ParsedURL(base.scheme, base.host, base.port, path, url)


def _rows(p: _Parked | None) -> int:
    return 0 if p is None else sum(s.num_rows for s in p.slices)


def find_resumable_run(
    ledger: Any, input_sha256: str, config_sha256: str, shard: tuple[int, int] | None = None
) -> str | None:
    """The newest audit run with this input and config whose latest state is not finished.

    With ``shard`` (k, n) it is the newest run whose shard k of n was audited with this
    config (``config_sha256`` includes the shard) and did not finish: rerunning that shard
    resumes it. A run (or shard) still marked running by a live process on this host is
    someone else's, not ours.
    """
    con = ledger.connect()
    try:
        if shard is None:
            rows = con.execute(
                "SELECT run_id, hostname, pid FROM runs WHERE kind = 'audit'"
                " AND input_sha256 = ? AND config_sha256 = ? AND status <> 'finished'"
                " ORDER BY started_at DESC",
                [input_sha256, config_sha256],
            ).fetchall()
        else:
            rows = con.execute(
                "SELECT s.run_id, s.hostname, s.pid FROM run_shards s"
                " JOIN runs r ON r.run_id = s.run_id"
                " WHERE s.kind = 'audit' AND s.input_sha256 = ? AND s.config_sha256 = ?"
                " AND s.shard_k = ? AND s.shard_n = ? AND s.status <> 'finished'"
                " AND r.status <> 'finished' ORDER BY s.started_at DESC",
                [input_sha256, config_sha256, int(shard[0]), int(shard[1])],
            ).fetchall()
    finally:
        con.close()
    me = socket.gethostname()
    for run_id, host, pid in rows:
        if host == me and pid and pid != os.getpid() and _alive(int(pid)):
            continue
        return str(run_id)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ledger_location(root: str) -> Path | str:
    """A local ledger root as a Path; an object-store URI stays a string (a Path would fold
    ``s3://bucket`` into ``s3:/bucket``)."""
    from ..ledger.storage import is_object_uri

    return root if is_object_uri(root) else Path(root)


class RunFinished(ValueError):
    """The run (or this shard of it) is already finished; rerunning it must be asked for."""


def shard_finished(ledger: Any, run_id: str, shard: tuple[int, int]) -> bool:
    """Whether shard ``(k, n)`` of ``run_id`` has a latest state row ``finished``."""
    con = ledger.connect()
    try:
        row = con.execute(
            "SELECT count(*) FROM run_shards WHERE run_id = ? AND shard_k = ? AND shard_n = ?"
            " AND status = 'finished'",
            [run_id, int(shard[0]), int(shard[1])],
        ).fetchone()
    finally:
        con.close()
    return bool(row and row[0])


def run_exists(ledger: Any, run_id: str) -> bool:
    con = ledger.connect()
    try:
        row = con.execute("SELECT count(*) FROM run_history WHERE run_id = ?", [run_id]).fetchone()
    finally:
        con.close()
    return bool(row and row[0])


def decided_rows(ledger: Any, run_id: str) -> pa.Table:
    """input_row -> agents already decided in ``run_id`` (what a resume must skip).

    Grouped in DuckDB rather than as a Python set: a resumed run of a billion-row manifest
    must not hold a tuple per decision.
    """

    prefix = f"decisions/run={run_id}/"
    files = [
        ledger.segment_url(e["path"])
        for e in ledger.live_segments("decisions")
        if e["path"].startswith(prefix) and e.get("rows")
    ]
    schema = pa.schema([("input_row", pa.int64()), ("agents", pa.list_(pa.string()))])
    files = [f for f in files if ledger.segment_exists(f)]
    if not files:
        return schema.empty_table()
    con = ledger.bare_connection()
    try:
        return (
            con.sql(
                "SELECT input_row, list(DISTINCT agent) AS agents FROM read_parquet($files,"
                " union_by_name = true) WHERE input_row IS NOT NULL GROUP BY input_row",
                params={"files": files},
            )
            .to_arrow_table()
            .cast(schema)
        )
    finally:
        con.close()


class _SiteStats:
    __slots__ = ("origins_fetched", "requests")

    def __init__(self) -> None:
        self.origins_fetched = 0
        self.requests = 0


class _RemoteSites:
    """``Scanner.site`` over a :class:`~tdmscan.audit.fetch_process.FetchProcess`: the child
    fetches, this process parses (parsing is cheap; pickling parsed objects is not)."""

    def __init__(self, process: Any, exclusions: Any = None) -> None:
        self.process = process
        self.exclusions = exclusions
        self._stats = _SiteStats()

    @property
    def stats(self) -> _SiteStats:
        self._stats.requests = self.process.requests
        return self._stats

    async def start(self) -> None:
        await self.process.start()

    async def site(self, origin: str) -> policy.SiteSignals:
        files, docs = await self.process.site_files(origin)
        self._stats.origins_fetched += 1
        return policy.parse_site(files, docs, exclusions=self.exclusions)

    async def aclose(self) -> None:
        await self.process.aclose()


class AuditRunner:
    """Run one audit of ``manifest`` into ``ledger``; see the module docstring for the flow."""

    def __init__(
        self,
        manifest: Manifest,
        ledger: Any,
        config: AuditConfig,
        *,
        reporter: Reporter | None = None,
        run_id: str | None = None,
        resume: bool | None = None,
        input_sha256: str | None = None,
        scanner_factory: Callable[..., Any] | None = None,
        on_plan: Callable[[PlanStats], None] | None = None,
    ) -> None:
        self.manifest = manifest
        self.ledger = ledger
        self.config = config
        self.reporter = reporter or NullProgress()
        self.run_id = run_id
        self.resume = resume
        self.input_sha256 = input_sha256
        self.scanner_factory = scanner_factory
        self.on_plan = on_plan
        self.counters = Counters()
        self._stragglers: list[
            tuple[int, str, int | None, str | None, list[str] | None, int | None]
        ] = []
        # Page heads already written (a URL listed twice is fetched, and recorded, once).
        self._pages_recorded: set[tuple[str | None, Any]] = set()

    # -- setup ---------------------------------------------------------------------------

    def _make_scanner(self) -> Any:
        from ..fetch import FetchLimits
        from ..scanner import Scanner

        c = self.config
        limit_kw: dict[str, Any] = {
            "total_timeout": c.timeout,
            # Three files per origin are fetched at once.
            "global_concurrency": max(3, c.concurrency * 3),
        }
        if c.connect_timeout is not None:
            limit_kw["connect_timeout"] = c.connect_timeout
        elif c.timeout < 5.0:
            limit_kw["connect_timeout"] = c.timeout
        if c.user_agent:
            limit_kw["user_agent"] = c.user_agent
        kw: dict[str, Any] = {
            "mode": c.mode,
            "purpose": c.purpose,
            "include_training_agents": c.training_agents,
            "allow_private": c.allow_private,
            "limits": FetchLimits(**limit_kw),
            "fetcher": c.fetcher,
        }
        if c.ttl is not None:
            kw["ttl"] = c.ttl
        if c.terms:
            kw["terms"] = True
        if c.exclude_lists:
            kw["exclude_lists"] = list(c.exclude_lists)
        factory = self.scanner_factory or Scanner
        return factory(agents=list(c.agents), **kw)

    def run(self) -> AuditResult:
        """Plan, decide every row, write the ledger. Ctrl-C: flush, mark interrupted, re-raise."""
        from .._gc import bulk_gc
        from ..fetch.limits import DEFAULT_USER_AGENT
        from ..ledger import RunInfo, derived_run_id

        c = self.config
        manifest = self.manifest
        input_sha = self.input_sha256 or manifest.content_hash()
        scanner = self._make_scanner()
        self._sites: Any = scanner  # where origins' files come from (scanner or _RemoteSites)
        agents: tuple[str, ...] = tuple(scanner.agents)
        run_config = {
            **c.decision_config(manifest),
            "agents_evaluated": list(agents),
            "concurrency": c.concurrency,
            "timeout": c.timeout,
            "ttl": c.ttl,
            "allow_private": c.allow_private,
        }
        decision_cfg = c.decision_config(manifest)
        probe = RunInfo(kind="audit", config=decision_cfg)
        resumed = False
        run_id = self.run_id
        if run_id is None and c.shard is not None and self.resume is not False:
            # Job arrays: every shard job derives the same id, no coordinator needed.
            shared_cfg = {**decision_cfg, "shard": None, "shards": c.shard[1]}
            run_id = derived_run_id(input_sha, shared_cfg, c.rerun)
            if shard_finished(self.ledger, run_id, c.shard):
                raise RunFinished(
                    f"shard {c.shard[0]}/{c.shard[1]} of run {run_id} (this manifest with "
                    "these settings) already finished; to audit it again pass the same "
                    "--rerun LABEL to every shard job (a new run), or --run-id ID"
                )
        if run_id is not None:
            resumed = run_exists(self.ledger, run_id)
        elif self.resume is not False:
            found = find_resumable_run(self.ledger, input_sha, probe.config_sha256, c.shard)
            if found is not None:
                run_id, resumed = found, True
        info_kw: dict[str, Any] = {} if run_id is None else {"run_id": run_id}
        run = RunInfo(
            kind="audit",
            agents=agents,
            # The disclosure report publishes what was really sent, default included.
            user_agent=c.user_agent or DEFAULT_USER_AGENT,
            mode=c.mode,
            purpose=c.purpose,
            # The resume key hashes only what changes decisions; speed knobs are in the row too.
            config=decision_cfg,
            input_description=str(manifest.path),
            input_sha256=input_sha,
            dataset_id=manifest.dataset_id,
            # Each shard's writer records its own state rows; the runs view combines them.
            shard=c.shard,
            **info_kw,
        )
        run_config_extra = {k: v for k, v in run_config.items() if k not in decision_cfg}
        self.run_id = run.run_id

        workroot = c.workdir or Path(tempfile.gettempdir())
        workroot.mkdir(parents=True, exist_ok=True)
        with (
            tempfile.TemporaryDirectory(prefix="tdmscan-plan-", dir=workroot) as tmp,
            asyncio.Runner() as aio,
        ):
            plan = Plan(Path(tmp), memory_limit=c.memory_limit, threads=c.threads)
            early: Any = None  # a fetch process spawned while the plan is built
            try:
                loaded = plan.load(manifest)
                if self._fetch_process_wanted(loaded):
                    # Its start-up (imports, scanner) overlaps the rest of the plan. Should the
                    # spawn itself fail, _main tries again and reports (or falls back).
                    early = self._remote_process(scanner)
                    try:
                        aio.run(early.spawn())
                    except Exception:
                        early = None
                plan.resolve(c.shard)
                if c.as_of:
                    self._setup_archive(plan, Path(tmp))
                if resumed:
                    # A crash between a segment's chain entry and its rename leaves it pending;
                    # finish it first, or its rows would be redone and then appear twice.
                    self.ledger.recover()
                    plan.exclude_done(decided_rows(self.ledger, run.run_id), len(agents))
                stats = plan.stats()
                remote = self._use_fetch_process(stats)
                if early is not None and not remote:
                    early, spare = None, early
                    spare.close_timeout = 0.0  # never asked for anything: no grace needed
                    aio.run(spare.aclose())
                if self.on_plan is not None:
                    self.on_plan(stats)
                cnt = self.counters
                cnt.total_rows = stats.todo_rows
                cnt.total_origins = stats.todo_origins
                cnt.skipped_rows = stats.shard_rows - stats.todo_rows
                shards = c.shard[1] if c.shard else c.ledger_shards
                status = "finished"
                writer = self.ledger.writer(
                    run, shards=shards, flush_rows=c.flush_rows, flush_seconds=c.flush_seconds
                )
                self.reporter.start(cnt)
                try:
                    with writer as w:
                        process, early = early, None  # _main owns (and closes) it from here
                        # The runner turns the first Ctrl-C into a cancellation of _main (so
                        # every URL's decisions are written whole) and re-raises
                        # KeyboardInterrupt here afterwards.
                        with bulk_gc():
                            aio.run(self._main(plan, scanner, w, agents, remote, process))
                except BaseException as exc:
                    if is_interrupt(exc):
                        status = "interrupted"
                    raise
                finally:
                    self.reporter.stop()
                    self._result = AuditResult(
                        run_id=run.run_id,
                        ledger=ledger_location(self.ledger.root),
                        status=status,
                        plan=stats,
                        counters=cnt,
                        resumed=resumed,
                        agents=agents,
                        requests=int(getattr(self._sites.stats, "requests", 0)),
                        origins_fetched=int(getattr(self._sites.stats, "origins_fetched", 0)),
                        stragglers=len(self._stragglers),
                        extra=run_config_extra,
                    )
            finally:
                plan.close()
                if early is not None:
                    early.close_timeout = 0.0
                    with contextlib.suppress(Exception):
                        aio.run(early.aclose())
        return self._result

    @property
    def result(self) -> AuditResult | None:
        return getattr(self, "_result", None)

    def _fetch_process_possible(self) -> bool:
        """Nothing needs the in-process Scanner: ``--deep`` fetches pages through it, and an
        injected scanner or fetcher object cannot cross processes."""
        c = self.config
        return not c.deep and self.scanner_factory is None and isinstance(c.fetcher, str)

    def _fetch_process_wanted(self, origins: int) -> bool:
        """Asked for (and possible), or auto: a second core and at least
        ``FETCH_PROCESS_MIN_ORIGINS`` of ``origins``. Before the plan is finished the manifest's
        row count stands in for its origins (an upper bound): a child spawned then and ruled
        out by the plan is killed before it is asked anything."""
        c = self.config
        if c.as_of:
            return False  # nothing to fetch: the archive index is read in this process
        possible = self._fetch_process_possible()
        if c.fetch_process is not None:
            return bool(c.fetch_process) and possible
        return possible and (os.cpu_count() or 1) > 1 and origins >= FETCH_PROCESS_MIN_ORIGINS

    def _use_fetch_process(self, stats: PlanStats) -> bool:
        """Whether the audit of this plan fetches in a child process; an explicit request the
        configuration cannot honour is an error (see :meth:`_fetch_process_possible`)."""
        if self.config.fetch_process and not self._fetch_process_possible():
            raise ValueError(
                "fetch_process needs the default scanner and a named fetcher, without --deep"
            )
        return self._fetch_process_wanted(stats.todo_origins)

    async def _main(
        self,
        plan: Plan,
        scanner: Any,
        writer: Any,
        agents: tuple[str, ...],
        remote: bool = False,
        process: Any = None,
    ) -> None:
        from ..ledger import DecisionContext

        sites: Any = scanner
        if remote:
            sites = self._sites = _RemoteSites(
                process or self._remote_process(scanner), getattr(scanner, "exclusions", None)
            )
            try:
                await sites.start()
            except Exception as exc:
                await sites.aclose()
                if self.config.fetch_process:
                    raise  # asked for explicitly: not having it is an error
                # Auto: the child is an optimisation, so fetch here rather than fail the run.
                warnings.warn(
                    f"tdmscan audit: no fetch process ({exc}); fetching in this process",
                    RuntimeWarning,
                    stacklevel=1,
                )
                sites = self._sites = scanner
                remote = False
            except BaseException:
                await sites.aclose()
                raise

        self._ctx_cls = DecisionContext
        c = self.config
        cnt = self.counters
        sem = asyncio.Semaphore(max(1, c.concurrency))
        window = c.window or max(4 * c.concurrency, 512)
        groups = plan.groups()
        launched: deque[_Parked] = deque()
        parked: dict[int, _Parked] = {}
        deep_tasks: set[asyncio.Future[Any]] = set()
        deep_sem = asyncio.Semaphore(max(1, c.concurrency))
        state = {"parked_rows": 0, "since_yield": 0, "exhausted": False}

        archive = getattr(self, "_archive", None)
        if archive is not None:
            archive.writer = writer

        async def fetch(g: OriginGroup) -> Any:
            origin = g.origin
            if archive is not None:
                from .archive import CaptureKey

                return await archive.site(origin, CaptureKey(*g.capture))  # type: ignore[misc]
            if remote:
                # The child bounds its own concurrency; every origin of the window is queued
                # there so it keeps fetching while this loop is busy deciding.
                site = await sites.site(origin)
            else:
                async with sem:
                    site = await sites.site(origin)
            writer.add_site(site.files)
            r = site.files.robots
            if r is not None and r.unreachable:
                cnt.fetch_errors += 1
            return site

        def launch_more() -> None:
            while not state["exhausted"] and len(launched) < window:
                g = next(groups, None)
                if g is None:
                    state["exhausted"] = True
                    return
                t = None if g.origin is None else asyncio.ensure_future(fetch(g))
                launched.append(_Parked(g, t))

        def take(oid: int) -> _Parked:
            # groups() and rows() share one order, so the head matches; skip defensively.
            while True:
                if not launched:
                    launch_more()
                if not launched:
                    return _Parked(OriginGroup(oid, None, None, None, 0), None)
                p = launched.popleft()
                launch_more()
                if p.group.origin_id == oid:
                    return p
                if p.task is not None:
                    p.task.cancel()

        def ready(p: _Parked) -> bool:
            return p.task is None or p.task.done()

        async def decide(p: _Parked) -> None:
            slices, p.slices = p.slices, []
            if not slices:
                return
            site = None if p.task is None else p.task.result()
            if c.deep and p.group.origin is not None:

                async def deep_run() -> None:
                    async with deep_sem:
                        await self._decide_deep(p.group, scanner, writer, agents, slices)

                t = asyncio.ensure_future(deep_run())
                deep_tasks.add(t)
                t.add_done_callback(deep_tasks.discard)
                return
            if p.decider is None:
                p.decider = policy.SiteDecider(site, agents, purpose=c.purpose, mode=c.mode)
                if archive is not None and p.group.capture is not None:
                    from .archive import AnnotatedTemplates, CaptureKey

                    # Each template carries which archived copy it rests on.
                    p.decider.templates = AnnotatedTemplates(
                        archive.annotate(p.group.origin, CaptureKey(*p.group.capture))
                    )
            for b in slices:
                self._decide_batch(p.group, p.decider, writer, agents, b)
                state["since_yield"] += b.num_rows
                if state["since_yield"] >= YIELD_EVERY:
                    state["since_yield"] = 0
                    self.reporter.update()
                    await asyncio.sleep(0)

        async def finish(p: _Parked) -> None:
            """The stream is past this origin: decide it if its files are in, else park it."""
            if ready(p):
                await decide(p)
                cnt.origins += p.group.origin is not None
            else:
                parked[p.group.origin_id] = p
                state["parked_rows"] += sum(s.num_rows for s in p.slices)

        async def settle(block: bool) -> None:
            """Decide parked origins whose files arrived; with ``block`` wait for at least one."""
            if block and parked and not any(ready(p) for p in parked.values()):
                waiting = [p.task for p in parked.values() if p.task is not None]
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for oid in [o for o, p in parked.items() if ready(p)]:
                p = parked.pop(oid)
                state["parked_rows"] -= sum(s.num_rows for s in p.slices)
                await decide(p)
                cnt.origins += p.group.origin is not None

        try:
            launch_more()
            # Hand the first window to the fetcher before DuckDB sorts the rows (a blocking
            # call), so fetching starts now rather than after the sort: one loop pass starts
            # the fetch tasks (a fetch process queues their requests), the next sends them.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            current: _Parked | None = None  # the origin the stream is in the middle of
            for batch in plan.rows():
                if not c.deep:
                    batch = self._with_flags(batch)
                for oid, start, stop in _runs_of(batch):
                    piece = batch.slice(start, stop - start)
                    if current is None or current.group.origin_id != oid:
                        if current is not None:
                            await finish(current)
                        current = take(oid)
                    current.slices.append(piece)
                # A group may continue into the next batch: decide what is here if we can.
                if current is not None and ready(current):
                    await decide(current)
                await settle(block=False)
                while state["parked_rows"] + _rows(current) > PARK_LIMIT:
                    if parked:
                        await settle(block=True)
                    elif current is not None and not ready(current):
                        await asyncio.wait([current.task])  # type: ignore[list-item]
                    else:
                        break
                self.reporter.update()
            if current is not None:
                await finish(current)
            while parked:
                await settle(block=True)
            if deep_tasks:
                await asyncio.gather(*list(deep_tasks))
            await self._decide_stragglers(sites, writer, agents)
            self.reporter.update()
        finally:
            pending = [p.task for p in [*launched, *parked.values()] if p.task is not None]
            pending += list(deep_tasks)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            with contextlib.suppress(Exception):
                await scanner.aclose()
            if sites is not scanner:
                await sites.aclose()
            if archive is not None:
                archive.close()

    # -- per-URL work --------------------------------------------------------------------

    def _contexts(self, b: pa.RecordBatch) -> tuple[list[Any], ...]:
        return (
            b.column(1).to_pylist(),  # input_row
            b.column(2).to_pylist(),  # url
            b.column(3).to_pylist(),  # size
            b.column(4).to_pylist(),  # dataset
            b.column(5).to_pylist(),  # pre_reason
            b.column(6).to_pylist(),  # agents_done
        )

    @staticmethod
    def _captured(b: pa.RecordBatch) -> list[int | None] | None:
        """The rows' capture times as microseconds since the epoch (UTC), None if none has one."""
        i = b.schema.get_field_index("captured_at")
        if i < 0:
            return None
        col = b.column(i)
        if col.null_count == len(col):
            return None
        return col.cast(pa.int64()).to_pylist()

    @staticmethod
    def _with_flags(batch: pa.RecordBatch) -> pa.RecordBatch:
        """The plan's batch plus a column of :func:`canonical_flags`, read by _decide_batch."""
        flags = pa.array(canonical_flags(batch.column(2)), pa.bool_())
        return pa.RecordBatch.from_arrays(
            [*batch.columns, flags], names=[*batch.schema.names, "canonical"]
        )

    def _setup_archive(self, plan: Plan, tmp: Path) -> None:
        """As-of: the archive index (built from WARCs in ``tmp`` if need be) and the plan's
        rows assigned to archived captures."""
        from .archive import ArchiveSites, open_archive

        c = self.config
        if c.deep:
            raise ValueError("--as-of decides against archived site files; --deep is live only")
        index = open_archive(list(c.archive), tmp, memory_limit=c.memory_limit)
        plan.assign_captures(
            index,
            at=c.as_of_time(),
            window_before=c.window_before,
            window_after=c.window_after,
        )
        self._archive = ArchiveSites(
            index, window_before=c.window_before, window_after=c.window_after
        )
        self._sites = self._archive

    def _remote_process(self, scanner: Any) -> Any:
        from .fetch_process import FetchProcess

        c = self.config
        return FetchProcess(
            agents=list(c.agents),
            mode=c.mode,
            purpose=c.purpose,
            include_training_agents=c.training_agents,
            allow_private=c.allow_private,
            limits=scanner.limits,
            ttl=c.ttl,
            concurrency=max(1, c.concurrency),
            fetcher=c.fetcher,
            terms=c.terms,
            exclude_lists=list(c.exclude_lists),
        )

    def _decide_batch(
        self,
        group: OriginGroup,
        decider: policy.SiteDecider,
        writer: Any,
        agents: tuple[str, ...],
        b: pa.RecordBatch,
    ) -> None:
        """The hot loop: every URL of one origin against that origin's memoised decisions.

        A URL costs a path match per protocol and a few list appends: ``decider`` runs the full
        ``policy.decide`` once per distinct outcome, and the writer turns (template, URL) pairs
        into Arrow columns at flush. Invalid rows and URLs the SQL plan put under the wrong
        origin take the slow path (Decision objects, or a straggler decided at the end).
        """
        rows, urls, sizes, datasets, pres, dones = self._contexts(b)
        c = self.config
        purpose, mode = c.purpose, c.mode
        own = agents[0]
        verdicts = self.counters.verdicts
        origin = group.origin
        prefix = None if origin is None else origin + "/"
        base = None if prefix is None else parse_url(prefix)
        stragglers = self._stragglers
        all_agents = list(agents)
        one_agent = len(agents) == 1
        index = decider.index
        index_path = decider.index_path
        # The templated rows of this batch (all of one origin), as parallel lists.
        t_idx: list[int] = []
        t_url: list[str] = []
        t_row: list[int] = []
        t_size: list[Any] = []
        t_ds: list[Any] = []
        own_idx: list[int] = []  # template of the own agent per URL, for the verdict counts
        slow: list[Decision] = []
        slow_ctx: list[Any] = []
        Ctx = self._ctx_cls
        n_dec = 0
        n_straggle = 0
        # One agent (the common audit): canonical URLs under this origin go straight to the
        # decider, and when every row does, the batch's own columns are the templated rows.
        # The rest (and every row with several agents) take the general loop below.
        todo: Sequence[int] = range(len(urls))
        fi = b.schema.get_field_index("canonical")
        flags = b.column(fi).to_pylist() if fi >= 0 else None
        caps = self._captured(b)
        t_cap: list[int | None] = []
        if one_agent and prefix is not None and flags is not None:
            plen = len(prefix) - 1
            index_one = decider.index_one
            scheme, host, port = base.scheme, base.host, base.port  # type: ignore[union-attr]
            irregular: list[int] = []
            for i, url in enumerate(urls):
                if flags[i] and dones[i] is None and pres[i] is None and url.startswith(prefix):
                    path = url[plen:]
                    t_idx.append(
                        index_one(
                            0, path, lambda p=path, u=url: ParsedURL(scheme, host, port, p, u)
                        )
                    )
                else:
                    irregular.append(i)
            if not irregular:
                t_url, t_row, t_size, t_ds = urls, rows, sizes, datasets
                if caps is not None:
                    t_cap = caps
            else:
                regular = set(range(len(urls))).difference(irregular)
                keep = sorted(regular)
                t_url = [urls[i] for i in keep]
                t_row = [rows[i] for i in keep]
                t_size = [sizes[i] for i in keep]
                t_ds = [datasets[i] for i in keep]
                if caps is not None:
                    t_cap = [caps[i] for i in keep]
            own_idx = list(t_idx) if irregular else t_idx
            n_dec = len(t_idx)
            todo = irregular
        for i in todo:
            url = urls[i]
            done = dones[i]
            pre = pres[i]
            target: ParsedURL | None = None
            path = None if pre is not None or prefix is None else fast_path(url, prefix)
            if path is not None:
                # Canonical already: the URL is its own parse (fast_parse), built only when
                # the decider meets a new selection.
                idxs = index_path(
                    path,
                    lambda url=url, path=path: ParsedURL(  # type: ignore[misc]
                        base.scheme,  # type: ignore[union-attr]
                        base.host,  # type: ignore[union-attr]
                        base.port,  # type: ignore[union-attr]
                        path,
                        url,
                    ),
                )
                canonical = url
            elif pre is None:
                try:
                    target = parse_url(url)
                except InvalidURL as exc:
                    pre = exc.reason
                else:
                    if target.origin != origin:
                        # The SQL origin guess disagrees with parse_url: decide it later with
                        # the right origin's signals rather than with the wrong ones now.
                        stragglers.append(
                            (rows[i], url, sizes[i], datasets[i], done, caps and caps[i])
                        )
                        n_straggle += 1
                        continue
            if path is None and target is None:
                ag = all_agents if done is None else [a for a in all_agents if a not in done]
                ds = [
                    Decision(
                        url=url,
                        agent=a,
                        verdict="invalid",
                        reasons=(f"url:{pre}",),
                        purpose=purpose,
                        mode=mode,
                    )
                    for a in ag
                ]
                slow += ds
                slow_ctx += [
                    Ctx(
                        source_kind="manifest_audit",
                        input_row=rows[i],
                        content_size=sizes[i],
                        dataset_id=datasets[i],
                        captured_at=_from_us(caps and caps[i]),
                    )
                ] * len(ds)
                n_dec += len(ds)
                if ag and ag[0] == own:
                    verdicts["invalid"] += 1
                continue
            if path is None:
                idxs = index(target)  # type: ignore[arg-type]
                canonical = target.url  # type: ignore[union-attr]
            if done is None and one_agent:
                t_idx.append(idxs[0])
                k = 1
            else:
                k = 0
                for a, j in zip(all_agents, idxs, strict=True):
                    if done is None or a not in done:
                        t_idx.append(j)
                        k += 1
                if not k:
                    continue
            if done is None or own not in done:
                own_idx.append(idxs[0])
            t_url += [canonical] * k
            t_row += [rows[i]] * k
            t_size += [sizes[i]] * k
            t_ds += [datasets[i]] * k
            if caps is not None:
                t_cap += [caps[i]] * k
            n_dec += k
        if slow:
            writer.add_many(slow, slow_ctx)
        if t_idx:
            writer.add_templated(
                origin,  # type: ignore[arg-type]
                decider.templates,
                t_idx,
                t_url,
                input_row=t_row,
                content_size=t_size,
                dataset_id=t_ds,
                captured_at=t_cap if caps is not None else None,
            )
            tmpl = decider.templates
            for j, cnt in Counter(own_idx).items():
                verdicts[tmpl[j].verdict] += cnt
        self.counters.rows += len(urls) - n_straggle
        self.counters.decisions += n_dec

    async def _decide_deep(
        self,
        group: OriginGroup,
        scanner: Any,
        writer: Any,
        agents: tuple[str, ...],
        batches: list[pa.RecordBatch],
    ) -> None:
        """--deep: each URL also gets its page head fetched (through the Scanner's page cache)."""
        Ctx = self._ctx_cls
        own = agents[0]
        for b in batches:
            rows, urls, sizes, datasets, pres, dones = self._contexts(b)
            caps = self._captured(b)
            for i in range(len(urls)):
                done = dones[i]
                if pres[i] is not None:
                    ds = [
                        Decision(
                            url=urls[i],
                            agent=a,
                            verdict="invalid",
                            reasons=(f"url:{pres[i]}",),
                            purpose=self.config.purpose,
                            mode=self.config.mode,
                        )
                        for a in agents
                    ]
                else:
                    ds = await scanner.check_all(urls[i], deep=True)
                    page = scanner.cached_page(urls[i])
                    key = (page.url, page.fetched_at) if page is not None else None
                    if key is not None and key not in self._pages_recorded:
                        # The page's headers and head are the evidence of page-level signals.
                        self._pages_recorded.add(key)
                        writer.add_fetch(page, "page", group.origin or "")
                if done is not None:
                    ds = [d for d in ds if d.agent not in done]
                ctx = Ctx(
                    source_kind="manifest_audit",
                    input_row=rows[i],
                    content_size=sizes[i],
                    dataset_id=datasets[i],
                    captured_at=_from_us(caps and caps[i]),
                )
                for d in ds:
                    writer.add(d, ctx)
                if ds and ds[0].agent == own:
                    self.counters.verdicts[ds[0].verdict] += 1
                self.counters.decisions += len(ds)
                self.counters.rows += 1
            self.reporter.update()

    async def _decide_stragglers(self, scanner: Any, writer: Any, agents: tuple[str, ...]) -> None:
        Ctx = self._ctx_cls
        c = self.config
        for row, url, size, ds_id, done, cap in self._stragglers:
            ag = list(agents) if done is None else [a for a in agents if a not in done]
            archive = getattr(self, "_archive", None)
            annotate = None
            try:
                origin = parse_url(url).origin
            except InvalidURL:
                site = None
            else:
                if archive is not None:
                    when = self.config.as_of_time() or _from_us(cap)
                    site, key = archive.site_at(origin, when)
                    annotate = archive.annotate(origin, key)
                else:
                    site = await scanner.site(origin)
                    writer.add_site(site.files)
            ds = policy.decide(url, ag, site, purpose=c.purpose, mode=c.mode)
            if annotate is not None:
                ds = [annotate(d) for d in ds]
            ctx = Ctx(
                source_kind="manifest_audit",
                input_row=row,
                content_size=size,
                dataset_id=ds_id,
                captured_at=_from_us(cap),
            )
            for d in ds:
                writer.add(d, ctx)
            if ag and ag[0] == agents[0] and ds:
                self.counters.verdicts[ds[0].verdict] += 1
            self.counters.decisions += len(ds)
            self.counters.rows += 1


def _from_us(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def install_sigterm_as_interrupt() -> Callable[[], None]:
    """Treat SIGTERM exactly like Ctrl-C (Slurm and Kubernetes send it before killing); return
    a restorer.

    SIGTERM is handed to whatever handles SIGINT right now. While the audit's event loop runs,
    that is asyncio's own handler, which cancels the main task so every task unwinds and the
    loop closes cleanly; a KeyboardInterrupt raised from a bare handler would land inside one
    task and leave the others to die with "Task exception was never retrieved" tracebacks.
    A SIGINT the parent shell set to "ignore" (a job started with ``&``) is given Python's
    default handler first, so the same path is taken.
    """
    if os.name != "posix":
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        code = getattr(frame, "f_code", None)
        if code is not None and (
            code.co_name == "__del__" or code.co_filename.endswith("weakref.py")
        ):
            # An exception raised in a finaliser or weakref callback is printed and dropped
            # ("Exception ignored in ..."), and the run would go on: try again in 20 ms.
            signal.signal(signal.SIGALRM, handler)
            signal.setitimer(signal.ITIMER_REAL, 0.02)
            return
        current = signal.getsignal(signal.SIGINT)
        if callable(current):
            current(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    old_int = signal.getsignal(signal.SIGINT)
    if old_int in (signal.SIG_IGN, signal.SIG_DFL, None):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    old = signal.signal(signal.SIGTERM, handler)

    old_alrm = signal.getsignal(signal.SIGALRM)

    def restore() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_alrm)
        signal.signal(signal.SIGTERM, old)
        if old_int in (signal.SIG_IGN, signal.SIG_DFL):
            signal.signal(signal.SIGINT, old_int)

    return restore


def is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C or SIGTERM, also when it arrived inside a DuckDB query (which reports it as its
    own "Query interrupted" error rather than KeyboardInterrupt)."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    name = type(exc).__name__
    return name == "InterruptException" or (
        isinstance(exc, RuntimeError) and "query interrupted" in str(exc).lower()
    )


def result_json(r: AuditResult) -> dict[str, Any]:
    c = r.counters
    return {
        "run_id": r.run_id,
        "ledger": str(r.ledger),
        "status": r.status,
        "resumed": r.resumed,
        "agents": list(r.agents),
        "plan": asdict(r.plan),
        "rows_decided": c.rows,
        "decisions": c.decisions,
        "origins": c.origins,
        "requests": r.requests,
        "elapsed_s": round(c.elapsed, 3),
        "verdicts_own_token": dict(c.verdicts),
    }


def check_same_input(ledger: Any, run_id: str, input_sha: str) -> None:
    """Refuse to continue ``run_id`` with another manifest: a run audits one input."""
    con = ledger.connect()
    try:
        row = con.execute(
            "SELECT input_sha256, kind FROM runs WHERE run_id = ?", [run_id]
        ).fetchone()
    finally:
        con.close()
    if row is None:
        return
    if row[1] != "audit":
        raise ValueError(f"run {run_id} is a {row[1]} run, not an audit")
    if row[0] and row[0] != input_sha:
        raise ValueError(
            f"run {run_id} audited a different manifest (input sha256 {row[0][:12]}...); "
            "use --new-run or the same manifest"
        )
