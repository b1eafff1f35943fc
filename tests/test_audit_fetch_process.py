"""Audits with the fetch process (two cores) decide and record exactly what in-process ones do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tdmscan.audit import AuditConfig, AuditRunner, open_manifest
from tdmscan.audit.runner import FETCH_PROCESS_MIN_ORIGINS
from tdmscan.cli import main
from tdmscan.fakeweb import demo_sites_path, load_sites
from tdmscan.ledger import Ledger

COLUMNS = (
    "input_row, url, agent, verdict, reasons, robots_branch, robots_matched_line,"
    " robots_matched_rule, tdm_reservation, tdm_source, tdm_policy, licences, errors,"
    " to_json(evidence) AS evidence"
)


def _manifest(tmp_path: Path) -> Path:
    hosts = [s.host for s in load_sites(demo_sites_path())]
    paths = ["/", "/articles/a.html", "/open/x", "/private/p", "/img/a.jpg", "/robots.txt"]
    lines = [f"http://{h}{p}" for h in hosts for p in paths]
    lines += ["ftp://nope.test/x", "not a url", "http://UPPER.example:80/a/../b"]
    m = tmp_path / "m.txt"
    m.write_text("\n".join(lines) + "\n")
    return m


def _audit(tmp_path: Path, name: str, manifest: Path, **kw: Any) -> tuple[Any, list[dict]]:
    led = Ledger(tmp_path / name)
    cfg = AuditConfig(
        agents=("tdmscan", "GPTBot"), timeout=3.0, workdir=tmp_path, ledger_shards=4, **kw
    )
    res = AuditRunner(open_manifest(manifest), led, cfg, resume=False).run()
    con = led.connect()
    try:
        rows = con.sql(f"SELECT {COLUMNS} FROM decisions ORDER BY input_row, agent")
        out = rows.to_arrow_table().to_pylist()
        fetches = con.sql("SELECT kind, url, status, sha256 FROM fetches ORDER BY url")
        res.extra["fetches"] = fetches.fetchall()
    finally:
        con.close()
    return res, out


def test_fetch_process_matches_in_process(tmp_path: Path, demo_web: Any, fakeweb_env: Any):
    fakeweb_env(demo_web)
    m = _manifest(tmp_path)
    local, want = _audit(tmp_path, "local", m, fetch_process=False)
    remote, got = _audit(tmp_path, "remote", m, fetch_process=True)
    assert got == want
    assert len(got) == 2 * len(m.read_text().splitlines())
    # The same origin files were fetched and recorded, and the counts travel back.
    assert remote.extra["fetches"] == local.extra["fetches"]
    assert remote.requests == local.requests > 0
    assert remote.origins_fetched == local.origins_fetched > 0
    assert remote.counters.verdicts == local.counters.verdicts


def test_fetch_process_auto_threshold_and_conflicts(tmp_path: Path) -> None:
    from tdmscan.audit.plan import PlanStats

    m = tmp_path / "m.txt"
    m.write_text("http://a.test/\n")
    led = Ledger(tmp_path / "L")

    def runner(**kw: Any) -> AuditRunner:
        return AuditRunner(open_manifest(m), led, AuditConfig(**kw), resume=False)

    fields = PlanStats.__dataclass_fields__
    base = dict.fromkeys(fields, 0)
    big = PlanStats(**{**base, "todo_origins": FETCH_PROCESS_MIN_ORIGINS})
    small = PlanStats(**{**base, "todo_origins": FETCH_PROCESS_MIN_ORIGINS - 1})
    assert runner()._use_fetch_process(big) is True or (__import__("os").cpu_count() or 1) == 1
    assert runner()._use_fetch_process(small) is False
    assert runner(deep=True)._use_fetch_process(big) is False
    assert runner(fetch_process=False)._use_fetch_process(big) is False
    assert runner(fetch_process=True)._use_fetch_process(small) is True
    with pytest.raises(ValueError, match="fetch_process"):
        runner(fetch_process=True, deep=True)._use_fetch_process(small)


def test_cli_fetch_process_flag(tmp_path: Path, demo_web: Any, fakeweb_env: Any) -> None:
    fakeweb_env(demo_web)
    m = _manifest(tmp_path)
    led = tmp_path / "led"
    args = ["audit", str(m), "--ledger", str(led), "--timeout", "3", "--json", "--quiet"]
    args += ["--agent", "tdmscan", "--agent", "GPTBot"]
    r = CliRunner().invoke(main, [*args, "--fetch-process", "on"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["status"] == "finished"
    n = len(m.read_text().splitlines())
    assert out["rows_decided"] == n and out["decisions"] == 2 * n
    hosts = {u.split("/")[2] for u in m.read_text().splitlines() if u.startswith("http://")}
    assert out["requests"] >= 3 * (len(hosts) - 1)  # one URL's host is a spelling variant
    r = CliRunner().invoke(main, [*args, "--fetch-process", "on", "--deep"])
    assert r.exit_code != 0 and "--deep" in r.output


def _recording(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every FetchProcess the runner makes, to check what became of it."""
    made: list[Any] = []
    original = AuditRunner._remote_process

    def record(self: AuditRunner, scanner: Any) -> Any:
        proc = original(self, scanner)
        made.append(proc)
        return proc

    monkeypatch.setattr(AuditRunner, "_remote_process", record)
    return made


def test_child_spawned_during_plan_is_killed_when_the_plan_rules_it_out(
    tmp_path: Path, demo_web: Any, fakeweb_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Auto mode spawns the child as soon as the manifest has enough rows; with too few
    origins the audit runs in-process and the child never lives past the plan."""
    fakeweb_env(demo_web)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    hosts = [s.host for s in load_sites(demo_sites_path())]
    assert len(hosts) < FETCH_PROCESS_MIN_ORIGINS
    lines = [f"http://{hosts[i % len(hosts)]}/p{i}" for i in range(FETCH_PROCESS_MIN_ORIGINS)]
    m = tmp_path / "m.txt"
    m.write_text("\n".join(lines) + "\n")
    made = _recording(monkeypatch)
    res, rows = _audit(tmp_path, "auto", m)
    assert len(made) == 1
    child = made[0]
    assert child.returncode is not None  # reaped, not left running
    assert child.requests == 0 and child.pending == 0
    # Decided in-process: the scanner's own requests, every row twice (two agents).
    assert res.requests >= 3 * len(hosts)
    assert len(rows) == 2 * len(lines)


def test_child_spawned_during_plan_is_used_and_closed(
    tmp_path: Path, demo_web: Any, fakeweb_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakeweb_env(demo_web)
    made = _recording(monkeypatch)
    m = _manifest(tmp_path)
    res, rows = _audit(tmp_path, "on", m, fetch_process=True)
    assert len(made) == 1 and made[0].returncode == 0
    assert res.requests == made[0].requests > 0
    assert len(rows) == 2 * len(m.read_text().splitlines())


def test_child_spawned_during_plan_is_reaped_when_the_plan_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tdmscan.audit.plan import Plan

    made = _recording(monkeypatch)

    def broken(self: Plan, shard: Any = None) -> None:
        raise RuntimeError("resolve failed")

    monkeypatch.setattr(Plan, "resolve", broken)
    m = _manifest(tmp_path)
    with pytest.raises(RuntimeError, match="resolve failed"):
        _audit(tmp_path, "fail", m, fetch_process=True)
    assert len(made) == 1 and made[0].returncode is not None


def test_broken_child_falls_back_in_auto_mode_and_fails_when_asked_for(
    tmp_path: Path, demo_web: Any, fakeweb_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fetch process is an optimisation: in auto mode a child that cannot start means
    fetching in-process (with a warning), never a failed audit; asked for, it is an error."""
    from tdmscan.audit import runner as runner_mod
    from tdmscan.audit.fetch_process import FetchProcess

    fakeweb_env(demo_web)
    monkeypatch.setattr(runner_mod, "FETCH_PROCESS_MIN_ORIGINS", 1)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr(FetchProcess, "child_args", ("-c", "import sys; sys.exit(3)"))
    m = _manifest(tmp_path)
    n = len(m.read_text().splitlines())
    with pytest.warns(RuntimeWarning, match="no fetch process"):
        res, rows = _audit(tmp_path, "auto", m)
    assert len(rows) == 2 * n and res.requests > 0 and res.status == "finished"
    with pytest.raises(RuntimeError, match="failed to start"):
        _audit(tmp_path, "forced", m, fetch_process=True)
