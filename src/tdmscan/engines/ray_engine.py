"""Scale-out audits on Ray: one shard of the manifest per task, run by long-lived actors.

The driver hashes nothing itself. It opens the manifest once (to fail fast and hash it),
records the run, starts ``workers`` actors and hands each a partition ``k`` of ``n`` as it
becomes free. An actor runs :func:`tdmscan.engines.sharding.run_shard`, the same primitive as
``tdmscan audit --shard K/N``: plan the manifest in DuckDB, keep the origins of shard k, fetch
each origin's files once through one scanner (one HTTP pool and origin cache for the whole
partition), and write ``decisions/run=<id>/shard=<k>/`` segments into the shared ledger.

Failure: actors are created with ``max_restarts``/``max_task_retries``, so when a worker
process dies Ray restarts the actor and re-runs the partition. The re-run is a resume of the
same run id: what the dead attempt committed is read back from the ledger and skipped, and a
segment is either committed whole or not at all, so no (input_row, agent) is decided twice.

Progress: actors are async, so while a partition runs in the actor's worker thread the driver
can still call :meth:`PartitionWorker.progress` and sum the live counters of every partition.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import ray

from ..audit.manifest import Manifest, ManifestOptions, open_manifest
from ..audit.plan import PlanStats
from ..audit.progress import Counters, NullProgress, Reporter
from ..audit.runner import (
    AuditConfig,
    AuditResult,
    AuditRunner,
    check_same_input,
    find_resumable_run,
    ledger_location,
    run_exists,
)
from ..ledger import Ledger, RunInfo
from ..ledger.storage import normalise
from .sharding import LedgerFactory, run_shard
from .split import ShardPart, split_manifest

__all__ = [
    "FORWARDED_ENV",
    "PartitionFailed",
    "PartitionWorker",
    "RayAuditResult",
    "result_json",
    "run_audit_ray",
]

#: Driver environment variables passed to every actor. Workers on other nodes do not inherit
#: the driver's environment, and even local workers only see what Ray's own processes saw
#: when the instance started.
FORWARDED_ENV: tuple[str, ...] = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    # Hosts the address guard lets through (the fake web's own); actors must guard alike.
    "TDMSCAN_GUARD_EXEMPT",
    # The chain-signing key's path (--key): actors write chain entries too, and must sign them
    # (the file must exist at that path on every node).
    "TDMSCAN_LEDGER_KEY",
)


class PartitionFailed(RuntimeError):
    """Some partitions failed after Ray's retries; ``result`` holds what did complete.

    Rerunning with the same run id resumes: finished partitions decide nothing again.
    """

    def __init__(self, result: RayAuditResult) -> None:
        failed = ", ".join(f"{k}: {msg}" for k, msg in sorted(result.failed.items()))
        super().__init__(
            f"{len(result.failed)} of {result.partitions} partitions failed ({failed})"
        )
        self.result = result


@dataclass
class RayAuditResult:
    """The outcome of a Ray audit: per-partition results and their totals."""

    run_id: str
    ledger: Path | str
    status: str  # finished | failed | interrupted
    partitions: int
    workers: int
    agents: tuple[str, ...]
    resumed: bool
    results: dict[int, AuditResult] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    counters: Counters = field(default_factory=Counters)
    plan: PlanStats = field(default_factory=lambda: PlanStats(0, 0, 0, 0, 0, 0))
    requests: int = 0
    origins_fetched: int = 0
    stragglers: int = 0
    startup_s: float = 0.0  # ray.init plus the actors answering their first call
    elapsed_s: float = 0.0  # from the first partition handed out to the last one back
    retried: list[int] = field(default_factory=list)  # partitions that needed another attempt

    def as_audit_result(self) -> AuditResult:
        """The same shape the in-process engine returns, for summaries and ``--json``."""
        return AuditResult(
            run_id=self.run_id,
            ledger=self.ledger,
            status="finished" if self.status == "finished" else "interrupted",
            plan=self.plan,
            counters=self.counters,
            resumed=self.resumed,
            agents=self.agents,
            requests=self.requests,
            origins_fetched=self.origins_fetched,
            stragglers=self.stragglers,
            extra={
                "engine": "ray",
                "partitions": self.partitions,
                "workers": self.workers,
                "startup_s": round(self.startup_s, 3),
                "retried_partitions": list(self.retried),
                "failed_partitions": dict(self.failed),
            },
        )


# -- the actor ---------------------------------------------------------------------------------


class PartitionWorker:
    """Body of the Ray actor: runs partitions one after another, reports live progress.

    One actor lives for the whole audit, so imports, the PSL and DuckDB start once per
    worker rather than once per partition. Within a partition one scanner serves every
    batch; across partitions nothing is worth keeping, because no origin (indeed no
    registrable domain) appears in two partitions.
    """

    def __init__(self, ledger_factory: LedgerFactory | None = None) -> None:
        self._ledger_factory = ledger_factory
        self._lock = threading.Lock()
        self._runner: AuditRunner | None = None
        self._partition: int | None = None
        self._planned = False

    async def ready(self) -> int:
        return os.getpid()

    async def run(
        self,
        k: int,
        n: int,
        manifest: str,
        options: ManifestOptions | None,
        ledger: str,
        config: AuditConfig,
        run_id: str,
        input_sha256: str,
        split_dir: str | None = None,
    ) -> AuditResult:
        def on_runner(r: AuditRunner) -> None:
            with self._lock:
                self._runner, self._partition, self._planned = r, k, False

        def on_plan(_: PlanStats) -> None:
            self._planned = True

        def work() -> AuditResult:
            source: Any = manifest
            if split_dir is not None:
                # Only this partition's rows: the driver split the manifest once by shard.
                source = ShardPart.of(open_manifest(Path(manifest), options), split_dir, k)
            res = run_shard(
                source,
                ledger,
                config,
                shard=(k, n),
                run_id=run_id,
                options=options,
                input_sha256=input_sha256,
                on_runner=on_runner,
                on_plan=on_plan,
                ledger_factory=self._ledger_factory,
            )
            # Counters.started is this process's monotonic clock; ship the duration instead.
            res.extra = {**res.extra, "elapsed_s": res.counters.elapsed, "pid": os.getpid()}
            return res

        try:
            # The runner owns an event loop (asyncio.run); it gets a thread of its own so this
            # actor's loop stays free to answer progress() meanwhile.
            return await asyncio.to_thread(work)
        finally:
            with self._lock:
                self._runner, self._partition = None, None

    async def progress(self) -> dict[str, Any] | None:
        with self._lock:
            r, k, planned = self._runner, self._partition, self._planned
        if r is None:
            return None
        c = r.counters
        return {
            "partition": k,
            "planned": planned,
            "total_rows": c.total_rows,
            "total_origins": c.total_origins,
            "skipped_rows": c.skipped_rows,
            "rows": c.rows,
            "origins": c.origins,
            "decisions": c.decisions,
            "fetch_errors": c.fetch_errors,
            "verdicts": dict(c.verdicts),
        }


# -- the driver --------------------------------------------------------------------------------

_SUMMED = ("total_rows", "total_origins", "skipped_rows", "rows", "origins", "decisions")


def _set_counters(target: Counters, parts: Sequence[Mapping[str, Any]]) -> None:
    """Overwrite ``target`` (which a reporter may be reading) with the sum of ``parts``."""
    for name in (*_SUMMED, "fetch_errors"):
        setattr(target, name, sum(int(p.get(name, 0)) for p in parts))
    verdicts: Counter[str] = Counter()
    for p in parts:
        verdicts.update(p.get("verdicts") or {})
    target.verdicts.clear()
    target.verdicts.update(verdicts)


def _snapshot(r: AuditResult) -> dict[str, Any]:
    c = r.counters
    return {
        "total_rows": c.total_rows,
        "total_origins": c.total_origins,
        "skipped_rows": c.skipped_rows,
        "rows": c.rows,
        "origins": c.origins,
        "decisions": c.decisions,
        "fetch_errors": c.fetch_errors,
        "verdicts": dict(c.verdicts),
    }


def _sum_plans(plans: Sequence[PlanStats]) -> PlanStats:
    if not plans:
        return PlanStats(0, 0, 0, 0, 0, 0)
    return PlanStats(
        # Unsplit, every partition reads the whole file; split, each reads its part (the
        # driver then reports the sum, see run_audit_ray).
        manifest_rows=max(p.manifest_rows for p in plans),
        shard_rows=sum(p.shard_rows for p in plans),
        todo_rows=sum(p.todo_rows for p in plans),
        origins=sum(p.origins for p in plans),
        todo_origins=sum(p.todo_origins for p in plans),
        invalid_origin_rows=sum(p.invalid_origin_rows for p in plans),
    )


def _agents_of(config: AuditConfig) -> tuple[str, ...]:
    """The agent list the partitions will decide for, without opening a connection pool."""
    from ..scanner import Scanner

    # Any non-string fetcher makes the Scanner borrow it instead of building its own pool.
    s = Scanner(
        agents=list(config.agents),
        include_training_agents=config.training_agents,
        fetcher=object(),  # type: ignore[arg-type]
    )
    return tuple(s.agents)


def _error_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    e = cause if isinstance(cause, BaseException) else exc
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


def _retried_partitions(ledger: Ledger, run_id: str, since: float) -> list[int]:
    """Partitions with more than one start recorded since ``since`` (epoch seconds)."""
    from datetime import UTC, datetime

    con = ledger.connect()
    try:
        rows = con.execute(
            "SELECT shard_k FROM run_history WHERE run_id = ? AND status = 'running'"
            " AND shard_k IS NOT NULL AND updated_at >= ? GROUP BY shard_k HAVING count(*) > 1"
            " ORDER BY shard_k",
            [run_id, datetime.fromtimestamp(since, UTC)],
        ).fetchall()
    finally:
        con.close()
    return [int(k) for (k,) in rows]


def _init_ray(address: str | None, init_kwargs: Mapping[str, Any] | None) -> bool:
    """Connect to (or start) Ray unless the caller already did; True if we connected."""
    if ray.is_initialized():
        return False
    # Offline machines: the usage-stats reporter otherwise tries to phone home.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    kw.update(init_kwargs or {})
    ray.init(address=address, **kw)
    return True


def run_audit_ray(
    manifest: str | os.PathLike[str],
    ledger: str | os.PathLike[str],
    config: AuditConfig | None = None,
    *,
    options: ManifestOptions | None = None,
    partitions: int | None = None,
    workers: int | None = None,
    address: str | None = None,
    run_id: str | None = None,
    resume: bool | None = None,
    reporter: Reporter | None = None,
    max_retries: int = 3,
    poll_interval: float = 1.0,
    init_kwargs: Mapping[str, Any] | None = None,
    env_vars: Mapping[str, str] | None = None,
    ledger_factory: LedgerFactory | None = None,
    split: bool = True,
    split_dir: str | os.PathLike[str] | None = None,
) -> RayAuditResult:
    """Audit ``manifest`` into ``ledger`` on Ray, ``partitions`` shards over ``workers`` actors.

    With ``split`` (the default) the driver first writes the manifest once by shard
    (``engines.split``) into ``split_dir`` (default: ``.tdmscan-split-<sha>-n<N>`` beside the
    manifest, so every node that reads the manifest reads the split; the system temp dir when
    that is not writable), and partition k reads only its own part. The split is removed when
    the run finishes and reused when an unfinished run is resumed.

    ``manifest`` and ``ledger`` must be paths every Ray node can reach (shared storage); they
    are made absolute here. ``address`` is passed to ``ray.init`` (None: ``RAY_ADDRESS`` or a
    new local instance); when Ray is already initialised the caller's session is used and left
    running. ``workers`` defaults to the cluster's CPU count (one CPU per actor),
    ``partitions`` to ``workers``. ``run_id`` continues that run if it exists; otherwise an
    unfinished run of the same manifest and settings is resumed unless ``resume`` is False.
    Each partition is retried up to ``max_retries`` times when its worker dies.
    Raises :class:`PartitionFailed` when some partition still failed.
    """
    config = config or AuditConfig()
    if config.shard is not None:
        raise ValueError("the Ray engine shards the manifest itself; leave config.shard unset")
    if partitions is not None and partitions < 1:
        raise ValueError("partitions must be at least 1")
    if workers is not None and workers < 1:
        raise ValueError("workers must be at least 1")
    reporter = reporter or NullProgress()
    manifest_path = os.path.abspath(os.fspath(manifest))
    ledger_path = normalise(ledger)

    # Fail on an unreadable manifest here, once, not in every actor.
    m: Manifest = open_manifest(Path(manifest_path), options)
    input_sha = m.content_hash()
    led = (ledger_factory or Ledger)(ledger_path)
    agents = _agents_of(config)
    decision_cfg = config.decision_config(m)
    resumed = False
    if run_id is not None:
        resumed = run_exists(led, run_id)
        if resumed:
            check_same_input(led, run_id, input_sha)
    elif resume is not False:
        probe = RunInfo(kind="audit", config=decision_cfg)
        found = find_resumable_run(led, input_sha, probe.config_sha256)
        if found is not None:
            run_id, resumed = found, True
    run = RunInfo(
        kind="audit",
        agents=agents,
        user_agent=config.user_agent,
        mode=config.mode,
        purpose=config.purpose,
        # Unsharded decision config: the same key an in-process audit of this manifest has,
        # so either engine can resume a run the other left unfinished.
        config=decision_cfg,
        input_description=manifest_path,
        input_sha256=input_sha,
        dataset_id=m.dataset_id,
        **({} if run_id is None else {"run_id": run_id}),
    )
    run_id = run.run_id

    t0 = time.monotonic()
    wall0 = time.time()
    started_ray = _init_ray(address, init_kwargs)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1)) or 1
        n_workers = workers or cpus
        n = partitions or n_workers
        n_workers = min(n_workers, n)
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        env.update(env_vars or {})
        env.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
        actor_cls = ray.remote(PartitionWorker).options(
            num_cpus=1,
            max_restarts=max_retries,
            max_task_retries=max_retries,
            runtime_env={"env_vars": env},
            # One partition at a time per actor, plus progress() calls alongside it.
            max_concurrency=4,
        )
        actors = [actor_cls.remote(ledger_factory) for _ in range(n_workers)]
        parts_dir: str | None = None
        if split and n > 1:
            parts_dir = _split_dir(manifest_path, input_sha, n, split_dir)
            split_manifest(
                m, n, parts_dir, memory_limit=config.memory_limit, workdir=config.workdir
            )
        ray.get([a.ready.remote() for a in actors])
        startup_s = time.monotonic() - t0

        result = RayAuditResult(
            run_id=run_id,
            ledger=ledger_location(ledger_path),
            status="finished",
            partitions=n,
            workers=n_workers,
            agents=agents,
            resumed=resumed,
            startup_s=startup_s,
        )
        # The coordinator's own state rows bracket the partitions' rows, so the run's latest
        # row is the driver's verdict on the whole run (with its total counts).
        writer = led.writer(run, shards=n, flush_seconds=None)
        error: BaseException | None = None
        try:
            _dispatch(
                actors,
                actor_cls,
                ledger_factory,
                n,
                (manifest_path, options, ledger_path, config, run_id, input_sha, parts_dir),
                result,
                reporter,
                poll_interval,
            )
            result.elapsed_s = time.monotonic() - t0 - startup_s
            if result.failed:
                result.status = "failed"
                error = PartitionFailed(result)
        except BaseException as exc:
            result.status = "interrupted"
            error = exc
            raise
        finally:
            for a in actors:
                ray.kill(a)
            writer.close(error=error)
            try:
                result.retried = _retried_partitions(led, run_id, wall0)
            except Exception:  # reporting only; never mask the audit's own outcome
                result.retried = []
    finally:
        if started_ray:
            ray.shutdown()
    if error is not None:
        raise error
    if parts_dir is not None:
        result.plan = replace(result.plan, manifest_rows=result.plan.shard_rows)
        shutil.rmtree(parts_dir, ignore_errors=True)
    return result


def _split_dir(manifest_path: str, input_sha: str, n: int, given: Any) -> str:
    if given is not None:
        return os.path.abspath(os.fspath(given))
    name = f".tdmscan-split-{input_sha[:16]}-n{n}"
    beside = os.path.dirname(manifest_path.rstrip(os.sep))
    if os.access(beside, os.W_OK):
        return os.path.join(beside, name)
    return os.path.join(tempfile.gettempdir(), name)


def _dispatch(
    actors: list[Any],
    actor_cls: Any,
    ledger_factory: LedgerFactory | None,
    n: int,
    args: tuple[Any, ...],
    result: RayAuditResult,
    reporter: Reporter,
    poll_interval: float,
) -> None:
    """Hand partitions to free actors until all are back; poll live progress meanwhile."""
    todo = list(range(n))
    idle = list(actors)
    running: dict[Any, tuple[int, Any]] = {}  # ObjectRef -> (partition, actor)
    live: dict[int, dict[str, Any]] = {}  # partition -> last progress snapshot
    done: dict[int, dict[str, Any]] = {}
    counters = result.counters = Counters()
    reporter_on = False

    def submit() -> None:
        while todo and idle:
            k = todo.pop(0)
            a = idle.pop()
            running[a.run.remote(k, n, *args)] = (k, a)

    def refresh() -> None:
        _set_counters(counters, [*done.values(), *live.values()])

    try:
        submit()
        while running:
            ready, _ = ray.wait(list(running), num_returns=1, timeout=poll_interval)
            for ref in ready:
                k, actor = running.pop(ref)
                live.pop(k, None)
                try:
                    res: AuditResult = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    # Out of restarts: this actor is gone for good; replace it for the rest.
                    result.failed[k] = _error_line(exc)
                    ray.kill(actor)
                    actors.remove(actor)
                    actor = actor_cls.remote(ledger_factory)
                    actors.append(actor)
                except ray.exceptions.RayError as exc:
                    result.failed[k] = _error_line(exc)
                else:
                    result.results[k] = res
                    done[k] = _snapshot(res)
                idle.append(actor)
            submit()
            if not ready and running:
                _poll(running, live, poll_interval)
            refresh()
            # Totals are only known once the running partitions have planned; start the
            # display then, so a progress bar gets a real total.
            planned = len(live) == len(running) and all(p.get("planned") for p in live.values())
            if not reporter_on and (done or planned):
                reporter.start(counters)
                reporter_on = True
            if reporter_on:
                reporter.update()
    finally:
        refresh()
        if reporter_on:
            reporter.stop()
    rs = list(result.results.values())
    result.plan = _sum_plans([r.plan for r in rs])
    result.requests = sum(r.requests for r in rs)
    result.origins_fetched = sum(r.origins_fetched for r in rs)
    result.stragglers = sum(r.stragglers for r in rs)


def _poll(
    running: Mapping[Any, tuple[int, Any]], live: dict[int, dict[str, Any]], timeout: float
) -> None:
    refs = [a.progress.remote() for _, a in running.values()]
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=max(0.1, timeout))
    for ref in ready:
        try:
            snap = ray.get(ref)
        except ray.exceptions.RayError:
            continue  # a restarting actor; its next attempt will report
        if snap is not None:
            live[int(snap["partition"])] = snap


def result_json(r: RayAuditResult) -> dict[str, Any]:
    """``--json`` output: the in-process engine's keys plus the Ray ones."""
    from ..audit.runner import result_json as base

    out = base(r.as_audit_result())
    out.update(
        engine="ray",
        partitions=r.partitions,
        workers=r.workers,
        startup_s=round(r.startup_s, 3),
        audit_s=round(r.elapsed_s, 3),
        retried_partitions=r.retried,
        failed_partitions={str(k): v for k, v in r.failed.items()},
        per_partition={str(k): asdict(v.plan) for k, v in sorted(r.results.items())},
    )
    return out
