"""A run written by several shards: the runs view combines them, run_shards keeps each one."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tdmscan.audit.manifest import open_manifest
from tdmscan.audit.runner import AuditConfig, AuditRunner, find_resumable_run
from tdmscan.engines.sharding import run_shard, shard_of_url, shard_status
from tdmscan.fakeweb import Resp, Site
from tdmscan.ledger import Ledger, RunInfo
from tdmscan.ledger import schema as S
from tdmscan.types import Decision

N = 2
AGENTS = ("tdmscan", "GPTBot")
SITES = [
    Site("a.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /private/\n")}),
    Site("g.test", {"/robots.txt": Resp(body="User-agent: GPTBot\nDisallow: /\n")}),
    Site("b.test", {"/robots.txt": Resp(404)}),
    Site("c.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /\n")}),
    Site("d.test", {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n")}),
    Site("e.test", {"/robots.txt": Resp(503)}),
]
URLS = [f"http://{h}.test/{p}" for h in "agbcde" for p in ("ok", "private/x", "z")]
URLS += ["not a url", "ftp://a.test/file"]


@pytest.fixture
def web(fakeweb: Any, fakeweb_env: Any) -> Any:
    fw = fakeweb(SITES)
    fakeweb_env(fw)
    return fw


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    p = tmp_path / "m.txt"
    p.write_text("\n".join(URLS) + "\n")
    # Both shards must have work, or the test would prove nothing.
    assert {shard_of_url(u, N) for u in URLS} == set(range(N))
    return p


def _config(k: int) -> AuditConfig:
    return AuditConfig(agents=AGENTS, timeout=3, concurrency=4, flush_rows=5, shard=(k, N))


def _audit(manifest: Path, led: Ledger, k: int, run_id: str | None = None) -> Any:
    runner = AuditRunner(open_manifest(manifest), led, _config(k), run_id=run_id)
    return runner.run()


def _run_row(led: Ledger, run_id: str) -> dict[str, Any]:
    con = led.connect()
    try:
        rel = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        rows = rel.fetchall()
        assert len(rows) == 1, rows
        return dict(zip([d[0] for d in rel.description], rows[0], strict=True))
    finally:
        con.close()


def _counts_from_decisions(led: Ledger, run_id: str, shard: int | None = None) -> dict[str, Any]:
    """An independent count, straight from the decisions view."""
    con = led.connect()
    try:
        q = "SELECT verdict, count(*) FROM decisions WHERE run_id = ?"
        args: list[Any] = [run_id]
        if shard is not None:
            q += " AND shard = ?"
            args.append(shard)
        by = dict(con.execute(q + " GROUP BY verdict", args).fetchall())
    finally:
        con.close()
    verdicts = {v: int(by.get(v, 0)) for v in S.VERDICT_COUNTS.names}
    return {"decisions": sum(verdicts.values()), "verdicts": verdicts}


def test_two_shards_of_one_run(tmp_path: Path, web: Any, manifest: Path) -> None:
    led = Ledger(tmp_path / "led")
    run_id = "job-array-1"

    r0 = _audit(manifest, led, 0, run_id)
    assert r0.status == "finished" and r0.run_id == run_id
    row = _run_row(led, run_id)
    # Shard 1 has not run: the run is not finished, and its counts are shard 0's alone.
    assert row["status"] == "interrupted" and row["finished_at"] is None
    c0 = _counts_from_decisions(led, run_id, shard=0)
    assert c0["decisions"] > 0
    assert row["decisions"] == c0["decisions"] == _counts_from_decisions(led, run_id)["decisions"]
    assert row["verdict_counts"] == c0["verdicts"]
    assert row["shard_n"] == N and row["shard_k"] is None
    assert shard_status(led, run_id) == {0: "finished"}

    r1 = _audit(manifest, led, 1, run_id)
    assert r1.status == "finished"
    row = _run_row(led, run_id)
    total = _counts_from_decisions(led, run_id)
    assert row["status"] == "finished" and row["error"] is None
    assert row["decisions"] == total["decisions"] == r0.counters.decisions + r1.counters.decisions
    assert row["verdict_counts"] == total["verdicts"]
    assert row["decisions"] == len(URLS) * len(AGENTS)  # every row, every agent, once
    assert shard_status(led, run_id) == {0: "finished", 1: "finished"}

    con = led.connect()
    try:
        shards = con.execute(
            "SELECT shard_k, shard_n, status, decisions, started_at, finished_at"
            " FROM run_shards WHERE run_id = ? ORDER BY shard_k",
            [run_id],
        ).fetchall()
        # Every shard row counts only its own shard's decisions.
        assert [(k, n, s, d) for k, n, s, d, _, _ in shards] == [
            (k, N, "finished", _counts_from_decisions(led, run_id, k)["decisions"])
            for k in range(N)
        ]
        assert row["started_at"] == min(s[4] for s in shards)
        assert row["finished_at"] == max(s[5] for s in shards)
        fetches = con.execute("SELECT count(*) FROM fetches WHERE run_id = ?", [run_id]).fetchall()[
            0
        ]
        assert row["fetches"] == fetches[0]
        # run_history keeps every row: a start and an end per shard.
        hist = con.execute(
            "SELECT shard_k, status FROM run_history WHERE run_id = ? ORDER BY updated_at",
            [run_id],
        ).fetchall()
        assert sorted(hist) == [(0, "finished"), (0, "running"), (1, "finished"), (1, "running")]
    finally:
        con.close()


def test_rerunning_an_interrupted_shard_resumes_it(
    tmp_path: Path, web: Any, manifest: Path
) -> None:
    led = Ledger(tmp_path / "led")
    r0 = _audit(manifest, led, 0)  # no run id: a new run
    run_id = r0.run_id
    m = open_manifest(manifest)
    cfg1 = _config(1)
    # Shard 1 of the same run starts and is interrupted before deciding anything.
    info = RunInfo(
        kind="audit",
        run_id=run_id,
        agents=AGENTS,
        config=cfg1.decision_config(m),
        input_sha256=m.content_hash(),
        shard=(1, N),
    )
    with pytest.raises(KeyboardInterrupt), led.writer(info, shards=N):
        raise KeyboardInterrupt
    row = _run_row(led, run_id)
    assert row["status"] == "interrupted"
    assert row["error"] == "shard 1/2: KeyboardInterrupt: "
    assert shard_status(led, run_id) == {0: "finished", 1: "interrupted"}
    assert find_resumable_run(led, m.content_hash(), info.config_sha256, (1, N)) == run_id
    # Shard 0 finished: rerunning it does not pick the run up again.
    cfg0 = RunInfo(config=_config(0).decision_config(m)).config_sha256
    assert find_resumable_run(led, m.content_hash(), cfg0, (0, N)) is None

    # Rerunning shard 1 without a run id resumes that shard of that run.
    r1 = _audit(manifest, led, 1)
    assert r1.run_id == run_id and r1.resumed
    row = _run_row(led, run_id)
    assert row["status"] == "finished" and row["error"] is None
    assert row["decisions"] == _counts_from_decisions(led, run_id)["decisions"]
    assert row["decisions"] == len(URLS) * len(AGENTS)
    assert find_resumable_run(led, m.content_hash(), info.config_sha256, (1, N)) is None


def _url_in(k: int, n: int) -> str:
    """A URL that shard k of n owns (a writer files decisions by their domain's shard)."""
    return next(u for i in range(1000) if shard_of_url(u := f"https://s{i}.example/", n) == k)


def test_running_shard_makes_the_run_running(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    base = {"run_id": "R", "config": {"x": 1}}
    with led.writer(RunInfo(shard=(0, 3), **base), shards=3) as w:
        w.add(Decision(url=_url_in(0, 3), agent="A", verdict="allowed"))
    w1 = led.writer(RunInfo(shard=(1, 3), **base), shards=3)
    try:
        assert _run_row(led, "R")["status"] == "running"
    finally:
        w1.close()
    # Shard 2 never ran.
    row = _run_row(led, "R")
    assert row["status"] == "interrupted" and row["decisions"] == 1
    with led.writer(RunInfo(shard=(2, 3), **base), shards=3):
        pass
    assert _run_row(led, "R")["status"] == "finished"


def test_run_level_row_after_the_shards_wins(tmp_path: Path) -> None:
    """The Ray driver's closing row (unsharded, written after its partitions) is the verdict."""
    led = Ledger(tmp_path / "L")
    driver = led.writer(RunInfo(run_id="R"), shards=2)
    for k in range(2):
        with led.writer(RunInfo(run_id="R", shard=(k, 2)), shards=2) as w:
            w.add(Decision(url=_url_in(k, 2), agent="A", verdict="reserved"))
    row = _run_row(led, "R")  # the driver is still running; the shards say finished
    assert row["status"] == "finished" and row["decisions"] == 2
    assert row["pid"] == os.getpid()
    driver.close(error=RuntimeError("partition 1 failed"))
    row = _run_row(led, "R")
    assert row["status"] == "interrupted" and row["error"] == "RuntimeError: partition 1 failed"
    assert row["shard_k"] is None and row["decisions"] == 2


def test_writer_rejects_mismatched_shards(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="out of range"):
        RunInfo(shard=(2, 2))
    with pytest.raises(ValueError, match="shards=N"):
        Ledger(tmp_path / "L").writer(RunInfo(shard=(0, 4)), shards=16)


def _legacy_runs_row(run_id: str, status: str, config: dict[str, Any], at: datetime) -> pa.Table:
    """A runs row as written before runs v2: no shard_k / shard_n columns."""
    schema = pa.schema([f for f in S.RUNS if f.name not in ("shard_k", "shard_n")])
    cfg = json.dumps(config, sort_keys=True, separators=(",", ":"))
    row = {
        "run_id": run_id,
        "kind": "audit",
        "status": status,
        "started_at": at,
        "finished_at": at if status != "running" else None,
        "updated_at": at,
        "agents": ["A"],
        "config_json": cfg,
        "config_sha256": hashlib.sha256(cfg.encode()).hexdigest(),
        "decisions": 3,
        "verdict_counts": {"allowed": 3, "reserved": 0, "unknown": 0, "invalid": 0},
        "fetches": 1,
        "shards": 16,
    }
    return pa.Table.from_pylist([row], schema=schema)


def test_ledger_without_shard_columns_still_reads(tmp_path: Path) -> None:
    """Old segments (and an old ledger without the v2 schema anchor) read through the views."""
    root = tmp_path / "L"
    led = Ledger(root)
    with led.writer(RunInfo(run_id="new")) as w:  # an unsharded run written now
        w.add(Decision(url="https://a.example/", agent="A", verdict="allowed"))
    d = root / "runs" / "run=old"
    d.mkdir(parents=True)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    t1 = datetime(2025, 1, 2, tzinfo=UTC)
    pq.write_table(_legacy_runs_row("old", "running", {"m": 1}, t0), d / "part-a.parquet")
    pq.write_table(_legacy_runs_row("old", "finished", {"m": 1}, t1), d / "part-b.parquet")
    # An old job-array run: its shards are known from config_json only.
    d2 = root / "runs" / "run=oldarray"
    d2.mkdir(parents=True)
    pq.write_table(
        _legacy_runs_row("oldarray", "finished", {"shard": [0, 2]}, t1), d2 / "part-a.parquet"
    )
    # Remove the v2 anchor, as in a ledger no v2 writer has opened (and read it read-only).
    for p in (root / "runs" / "run=_schema").glob("_schema-v2.parquet"):
        p.unlink()
    for ledger in (Ledger(root, create=False), Ledger(root)):
        con = ledger.connect()
        try:
            got = dict(con.sql("SELECT run_id, status FROM runs").fetchall())
            assert got == {"new": "finished", "old": "finished", "oldarray": "interrupted"}
            assert con.execute("SELECT count(*) FROM run_history").fetchall()[0] == (5,)
            cols = {r[0]: r[1] for r in con.sql("DESCRIBE runs").fetchall()}
            assert cols["shard_k"] == "INTEGER" and cols["shard_n"] == "INTEGER"
            old = con.execute(
                "SELECT decisions, shard_k FROM runs WHERE run_id = 'old'"
            ).fetchall()[0]
            assert old == (3, None)
            assert con.sql(
                "SELECT shard_k, shard_n, status FROM run_shards WHERE run_id = 'oldarray'"
            ).fetchall() == [(0, 2, "finished")]
        finally:
            con.close()


def test_empty_ledger_has_run_shards(tmp_path: Path) -> None:
    con = Ledger(tmp_path / "L").connect()
    assert con.sql("SELECT count(*) FROM run_shards").fetchall() == [(0,)]
    assert con.sql("SELECT count(*) FROM runs").fetchall() == [(0,)]


def test_run_shard_records_its_shard(tmp_path: Path, web: Any, manifest: Path) -> None:
    led = Ledger(tmp_path / "led")
    for k in range(N):
        run_shard(manifest, led, _config(0), shard=(k, N), run_id="R")
    assert shard_status(led, "R") == {0: "finished", 1: "finished"}
    assert _run_row(led, "R")["status"] == "finished"
