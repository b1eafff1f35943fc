"""Crash and interrupt safety: SIGKILL or Ctrl-C midway, resume, every row decided exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tdmscan.fakeweb import Resp, Site
from tdmscan.ledger import Ledger

N_HOSTS = 80
PER_HOST = 25
AGENTS = ["tdmscan", "GPTBot"]


def _sites() -> list[Site]:
    robots = Resp(body="User-agent: GPTBot\nDisallow: /x/\n", delay=0.15)
    return [Site(f"h{i}.r{i}.test", {"/robots.txt": robots}) for i in range(N_HOSTS)]


def _manifest(tmp_path: Path) -> Path:
    lines = []
    for j in range(PER_HOST):
        for i in range(N_HOSTS):
            lines.append(f"http://h{i}.r{i}.test/{'x' if j % 3 == 0 else 'p'}/{j}")
    lines += ["junk line", "ftp://h1.r1.test/", f"http://h0.r0.test/{'y' * 9000}"]
    lines.append(lines[0])  # a duplicate
    p = tmp_path / "manifest.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


def _cmd(manifest: Path, led: Path, *extra: str) -> list[str]:
    args = [sys.executable, "-m", "tdmscan", "audit", str(manifest), "--ledger", str(led)]
    for a in AGENTS:
        args += ["--agent", a]
    # Small, odd segment size: a URL's two agent rows can straddle a segment boundary, which
    # is exactly the case a resume must handle without deciding either agent twice.
    args += [
        "--concurrency",
        "4",
        "--timeout",
        "5",
        "--flush-rows",
        "37",
        "--progress-interval",
        "0.2",
    ]
    return args + list(extra)


def _env(fw: Any) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        env[k] = fw.proxy_url
    for k in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    return env


def _decision_files(led: Path) -> list[Path]:
    d = led / "decisions"
    return (
        [p for p in d.rglob("part-*.parquet") if not p.name.startswith(".")] if d.exists() else []
    )


def _wait_for_segments(
    proc: subprocess.Popen[bytes], led: Path, n: int, timeout: float = 60
) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if len(_decision_files(led)) >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"audit ended before it could be interrupted: {proc.returncode}")
        time.sleep(0.02)
    pytest.fail("no decision segment appeared")


def _check_exactly_once(led: Path, n_rows: int) -> str:
    con = duckdb.connect()
    glob = f"{led}/decisions/*/*/*.parquet"
    per = con.sql(
        f"SELECT input_row, agent, count(*) AS n, count(DISTINCT run_id) AS runs"
        f" FROM read_parquet('{glob}') GROUP BY ALL"
    ).fetchall()
    assert {r[2] for r in per} == {1}, "a (row, agent) was decided twice"
    assert {r[3] for r in per} == {1}
    rows = {r[0] for r in per}
    assert rows == set(range(n_rows)) - _blank_lines(), "a row was skipped"
    per_row = con.sql(
        f"SELECT input_row, list(agent ORDER BY agent) FROM read_parquet('{glob}') GROUP BY 1"
    ).fetchall()
    assert all(sorted(a) == sorted(AGENTS) for _, a in per_row)
    runs = con.sql(f"SELECT DISTINCT run_id FROM read_parquet('{glob}')").fetchall()
    assert len(runs) == 1
    return str(runs[0][0])


def _blank_lines() -> set[int]:
    return set()


@pytest.mark.slow
def test_sigkill_midway_then_resume(tmp_path: Path, fakeweb: Any) -> None:
    fw = fakeweb(_sites())
    m = _manifest(tmp_path)
    n_rows = len(m.read_text().splitlines())
    led = tmp_path / "led"
    proc = subprocess.Popen(
        _cmd(m, led), env=_env(fw), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_for_segments(proc, led, 3)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = (
        duckdb.connect()
        .execute(f"SELECT count(*) FROM read_parquet('{led}/decisions/*/*/*.parquet')")
        .fetchone()
    )
    assert before is not None and 0 < before[0] < n_rows * len(AGENTS)

    # Same manifest, same ledger, no --resume: the unfinished run is picked up automatically.
    done = subprocess.run([*_cmd(m, led), "--json"], env=_env(fw), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    assert out["resumed"] is True
    assert out["plan"]["todo_rows"] < n_rows
    run_id = _check_exactly_once(led, n_rows)
    assert run_id == out["run_id"]
    con = Ledger(led).connect()
    status = con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchone()
    assert status == ("finished",)


@pytest.mark.slow
def test_ctrl_c_flushes_marks_interrupted_and_says_how_to_resume(
    tmp_path: Path, fakeweb: Any
) -> None:
    fw = fakeweb(_sites())
    m = _manifest(tmp_path)
    n_rows = len(m.read_text().splitlines())
    led = tmp_path / "led"
    proc = subprocess.Popen(
        _cmd(m, led), env=_env(fw), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_for_segments(proc, led, 2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert "--resume" in text
    run_id = text.split("--resume", 1)[1].split()[0]
    con = Ledger(led).connect()
    assert con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchone() == (
        "interrupted",
    )
    con.close()
    done = subprocess.run(
        [*_cmd(m, led), "--resume", run_id, "--json"],
        env=_env(fw),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert _check_exactly_once(led, n_rows) == run_id


def _deep_sites() -> tuple[list[Site], Any]:
    robots = Resp(body="User-agent: GPTBot\nDisallow: /x/\n", delay=0.05)
    page = Resp(
        body="<html><head><title>p</title></head></html>", content_type="text/html", delay=0.05
    )

    def pages(host: str, path: str) -> Resp | None:
        return page if host.endswith(".test") else None

    return [Site(f"h{i}.r{i}.test", {"/robots.txt": robots}) for i in range(N_HOSTS)], pages


@pytest.mark.slow
@pytest.mark.parametrize("after_segments", [1, 3, 6])
def test_sigterm_during_deep_audit_ends_like_ctrl_c(
    tmp_path: Path, fakeweb: Any, after_segments: int
) -> None:
    """SIGTERM (what Slurm and Kubernetes send) mid --deep audit: exit 130, the resume line,
    no traceback, and the resumed run decides every row exactly once."""
    sites, gen = _deep_sites()
    fw = fakeweb(sites, gen)
    m = _manifest(tmp_path)
    n_rows = len(m.read_text().splitlines())
    led = tmp_path / "led"
    env = {**_env(fw), **fw.proxy_env()}
    proc = subprocess.Popen(
        _cmd(m, led, "--deep"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_for_segments(proc, led, after_segments)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = err.decode()
    assert proc.returncode == 130, text
    for bad in ("Traceback", "Exception ignored", "Task exception", "Error"):
        assert bad not in text, text
    assert "Interrupted:" in text and "--resume" in text
    run_id = text.split("--resume", 1)[1].split()[0]
    done = subprocess.run(
        [*_cmd(m, led, "--deep"), "--resume", run_id, "--json"],
        env=env,
        capture_output=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert _check_exactly_once(led, n_rows) == run_id
