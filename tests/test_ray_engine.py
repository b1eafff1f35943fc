"""The Ray engine on a local 2-CPU instance against the fake web (no network).

One Ray instance serves the whole module (start-up is the expensive part). Each test checks
the ledger, not the engine's own counts: same decisions as the in-process engine, each origin
file fetched once, and after a worker is killed mid-partition every (input_row, agent) is
still decided exactly once.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

import duckdb  # noqa: E402

from tdmscan.audit import AuditConfig  # noqa: E402
from tdmscan.audit.progress import Counters  # noqa: E402
from tdmscan.engines import EngineUnavailable, require_engine  # noqa: E402
from tdmscan.engines.ray_engine import PartitionFailed, run_audit_ray  # noqa: E402
from tdmscan.engines.sharding import run_shard, shard_of_url, shard_status  # noqa: E402
from tdmscan.fakeweb import Resp, Site  # noqa: E402
from tdmscan.ledger import Ledger, LedgerWriter, registrable_domain, shard_of  # noqa: E402

pytestmark = pytest.mark.timeout(150)

N_DOMAINS = 24
PER_ORIGIN = 4
AGENTS = ("tdmscan", "GPTBot")
SITE_FILES = ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt")

_ROBOTS = (
    Resp(body="User-agent: *\nDisallow: /private/\n"),
    Resp(body="User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"),
    Resp(404, body="not found\n"),
    Resp(body="User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n"),
)
_TDMREP = Resp(
    body=json.dumps([{"location": "/", "tdm-reservation": 1}]), content_type="application/json"
)


def _sites() -> list[Site]:
    # Two hosts per registrable domain: they must land in the same partition.
    sites = []
    for i in range(N_DOMAINS):
        routes = {"/robots.txt": _ROBOTS[i % len(_ROBOTS)]}
        if i % 5 == 0:
            routes["/.well-known/tdmrep.json"] = _TDMREP
        sites += [Site(f"www.d{i}.test", routes), Site(f"blog.d{i}.test", routes)]
    return sites


def _manifest(tmp_path: Path) -> tuple[Path, int]:
    lines = [
        f"http://{s.host}/{'private/' if j == 0 else ''}p{j}"
        for j in range(PER_ORIGIN)
        for s in _sites()
    ]
    lines += ["not a url", "ftp://www.d1.test/x", lines[3]]  # invalid rows and a duplicate
    p = tmp_path / "manifest.txt"
    p.write_text("\n".join(lines) + "\n")
    return p, len(lines)


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    if not ray.is_initialized():
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 1024 * 1024,
        )
    yield
    ray.shutdown()


@pytest.fixture
def web(fakeweb: Any, fakeweb_env: Any) -> Any:
    # The proxy is set after Ray started, so the workers can only see it if the engine
    # forwards it (runtime_env env_vars), which is exactly what this checks.
    fw = fakeweb(_sites())
    fakeweb_env(fw)
    return fw


def _config(**kw: Any) -> AuditConfig:
    return AuditConfig(agents=AGENTS, concurrency=8, timeout=5.0, **kw)


def _decisions(led: Path, run_id: str) -> list[tuple[Any, ...]]:
    con = Ledger(led).connect()
    try:
        return con.execute(
            "SELECT input_row, url, agent, verdict, reasons FROM decisions WHERE run_id = ?",
            [run_id],
        ).fetchall()
    finally:
        con.close()


class _Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.counters: Counters | None = None

    def start(self, c: Counters) -> None:
        self.counters = c
        self.events.append("start")

    def update(self) -> None:
        self.events.append("update")

    def stop(self) -> None:
        self.events.append("stop")


def _assert_each_file_fetched_once(fw: Any) -> None:
    counts = fw.counts()
    for s in _sites():
        for path in SITE_FILES:
            assert counts.get((s.host, path), 0) == 1, (s.host, path, counts.get((s.host, path)))


def test_ray_matches_in_process_and_fetches_each_origin_once(
    tmp_path: Path, ray_local: None, web: Any
) -> None:
    manifest, n_rows = _manifest(tmp_path)

    local = run_shard(manifest, tmp_path / "local", _config(), shard=None)
    assert local.status == "finished"
    _assert_each_file_fetched_once(web)
    web.reset_counts()

    led = tmp_path / "ray"
    progress = _Recorder()
    res = run_audit_ray(
        manifest, led, _config(), partitions=5, workers=2, poll_interval=0.2, reporter=progress
    )
    assert res.status == "finished" and not res.failed
    # Each partition read only its own part of the manifest (split once by shard), and the
    # split is gone once the run finished.
    per_part = {k: r.plan.manifest_rows for k, r in res.results.items()}
    assert sum(per_part.values()) == n_rows and max(per_part.values()) < n_rows
    assert not list(tmp_path.glob(".tdmscan-split-*"))
    # Progress was aggregated on the driver and ended at the full count.
    assert progress.events[0] == "start" and progress.events[-1] == "stop"
    assert progress.counters is not None and progress.counters.rows == n_rows
    assert res.partitions == 5 and res.workers == 2
    _assert_each_file_fetched_once(web)

    def key(rows: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
        return {(u, a, v, tuple(r)) for _, u, a, v, r in rows}

    ray_rows = _decisions(led, res.run_id)
    assert len(ray_rows) == n_rows * len(AGENTS)
    assert key(ray_rows) == key(_decisions(tmp_path / "local", local.run_id))
    assert res.counters.rows == n_rows and res.plan.manifest_rows == n_rows

    # Each partition wrote under shard=<md5_number(registrable domain) % n>, as docs/ledger.md says.
    con = duckdb.connect()
    bad = con.execute(
        "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)"
        " WHERE md5_number(coalesce(registrable_domain, '')) % 5 <> shard",
        [f"{led}/decisions/run={res.run_id}/shard=*/*.parquet"],
    ).fetchone()
    assert bad == (0,)
    # The driver's row is the run's latest state, with the whole run's counts.
    lcon = Ledger(led).connect()
    status, decided = lcon.execute(
        "SELECT status, decisions FROM runs WHERE run_id = ?", [res.run_id]
    ).fetchone()
    lcon.close()
    assert (status, decided) == ("finished", n_rows * len(AGENTS))
    assert shard_status(Ledger(led), res.run_id) == dict.fromkeys(range(5), "finished")


class _CrashingWriter(LedgerWriter):
    """Kills its process right after its first decision segment is committed (first time only)."""

    marker = ""

    def _flush_shard(self, k: int) -> None:
        before = self.decisions_written
        super()._flush_shard(k)
        if self.decisions_written > before and self.marker:
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return  # the retry: behave
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os._exit(1)


def _crashing_ledger(marker: str, root: str) -> Ledger:
    class CrashingLedger(Ledger):
        def writer(self, run: Any = None, **kw: Any) -> LedgerWriter:  # type: ignore[override]
            w = _CrashingWriter(self, run, **kw)
            w.marker = marker
            return w.open()

    return CrashingLedger(root)


def test_killed_worker_is_retried_without_double_counting(
    tmp_path: Path, ray_local: None, web: Any
) -> None:
    # Workers cannot import this test module: ship the crash hook by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    manifest, n_rows = _manifest(tmp_path)
    marker = tmp_path / "crashed"
    led = tmp_path / "led"
    res = run_audit_ray(
        manifest,
        led,
        _config(flush_rows=7),  # many small segments: the crash lands mid-partition
        partitions=3,
        workers=2,
        max_retries=2,
        poll_interval=0.2,
        ledger_factory=partial(_crashing_ledger, str(marker)),
    )
    assert marker.exists(), "the fault was never injected"
    assert res.status == "finished" and not res.failed
    assert len(res.retried) == 1

    con = duckdb.connect()
    files = f"{led}/decisions/run={res.run_id}/*/*.parquet"
    per_key = con.execute(
        "SELECT max(n), min(n), count(*), sum(n) FROM (SELECT input_row, agent, count(*) AS n"
        " FROM read_parquet(?) GROUP BY ALL)",
        [files],
    ).fetchone()
    assert per_key == (1, 1, n_rows * len(AGENTS), n_rows * len(AGENTS))
    # Every manifest row is there, each with both agents.
    assert sorted(r[0] for r in _decisions(led, res.run_id))[::2] == list(range(n_rows))


def test_failed_partition_is_reported_and_a_rerun_resumes(
    tmp_path: Path, ray_local: None, web: Any
) -> None:
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    manifest, n_rows = _manifest(tmp_path)
    led = tmp_path / "led"
    # No retries: the crashed partition fails for good; the others still complete.
    with pytest.raises(PartitionFailed) as info:
        run_audit_ray(
            manifest,
            led,
            _config(flush_rows=7),
            partitions=3,
            workers=2,
            max_retries=0,
            poll_interval=0.2,
            ledger_factory=partial(_crashing_ledger, str(tmp_path / "crashed")),
        )
    first = info.value.result
    assert len(first.failed) == 1 and len(first.results) == 2
    con = Ledger(led).connect()
    assert con.execute("SELECT status FROM runs WHERE run_id = ?", [first.run_id]).fetchone() == (
        "interrupted",
    )
    con.close()
    # Relaunching the same run id decides only what is missing.
    again = run_audit_ray(
        manifest, led, _config(), partitions=3, workers=2, run_id=first.run_id, poll_interval=0.2
    )
    assert again.resumed and again.status == "finished"
    assert again.counters.skipped_rows > 0
    rows = _decisions(led, first.run_id)
    assert len(rows) == n_rows * len(AGENTS)
    assert len({(r[0], r[2]) for r in rows}) == n_rows * len(AGENTS)


def test_shard_primitive_agrees_with_the_ledger_hash() -> None:
    for url in ("http://www.d3.test/a", "http://blog.d3.test/b", "not a url", "http://[::1]/"):
        host = None if url == "not a url" else url.split("/")[2]
        dom = registrable_domain(host)
        assert shard_of_url(url, 7) == shard_of(dom, 7)
    assert shard_of_url("http://www.d3.test/", 7) == shard_of_url("http://blog.d3.test/", 7)


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EngineUnavailable, match=r"tdmscan\[ray\]"):
        require_engine("ray")
    assert require_engine("local") is None
    with pytest.raises(EngineUnavailable, match="unknown engine"):
        require_engine("spark")


def test_cli_engine_ray_audits_every_row(tmp_path: Path, ray_local: None, web: Any) -> None:
    from click.testing import CliRunner

    from tdmscan.cli import main

    manifest, n_rows = _manifest(tmp_path)
    led = tmp_path / "ledger"
    args = ["audit", str(manifest), "--ledger", str(led), "--engine", "ray", "--partitions", "3"]
    args += [x for a in AGENTS for x in ("--agent", a)] + ["--timeout", "5", "--json"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    run_id = json.loads(res.stdout)["run_id"]
    rows = _decisions(led, run_id)
    assert len(rows) == n_rows * len(AGENTS)
    assert len({(r[0], r[2]) for r in rows}) == len(rows)
    _assert_each_file_fetched_once(web)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--partitions", "2"], "--engine ray"),
        (["--engine", "ray", "--shard", "1/2"], "--shard"),
    ],
)
def test_cli_engine_usage_errors(tmp_path: Path, extra: list[str], message: str) -> None:
    from click.testing import CliRunner

    from tdmscan.cli import main

    manifest, _ = _manifest(tmp_path)
    res = CliRunner().invoke(
        main, ["audit", str(manifest), "--ledger", str(tmp_path / "l"), *extra]
    )
    assert res.exit_code == 2
    assert message in res.output
