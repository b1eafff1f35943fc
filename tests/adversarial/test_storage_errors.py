"""A ledger that cannot be written (disk full, file size limit, permissions) ends the audit with
one line saying what and where, and the resume command; resuming then loses and duplicates
nothing."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tdmscan.fakeweb import FakeWeb

N_HOSTS, N_URLS = 200, 6000


def _audit(args: list[str], env: dict[str, str], fsize: int | None = None) -> Any:
    def limit() -> None:
        # A file size limit fails writes with EFBIG as a full disk fails them with ENOSPC;
        # Python ignores SIGXFSZ, so the write raises instead of killing the process.
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [sys.executable, "-m", "tdmscan", "audit", *args],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=240,
    )


@pytest.fixture
def bench_web() -> Any:
    with FakeWeb(generator="bench", n_hosts=N_HOSTS) as fw:
        yield fw


def _env(fw: Any) -> dict[str, str]:
    return {**os.environ, **fw.proxy_env(), "PYTHONPATH": os.pathsep.join(sys.path)}


def test_file_too_large_is_one_line_with_the_resume_command(bench_web: Any, tmp_path: Path):
    manifest = tmp_path / "m.txt"
    urls = [f"http://s{i % N_HOSTS}.bench.test/p{i}" for i in range(N_URLS)]
    manifest.write_text("\n".join(urls) + "\n")
    ledger = tmp_path / "L"
    env = _env(bench_web)
    r = _audit([str(manifest), "--ledger", str(ledger)], env, fsize=20_000)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, r.stderr
    line = errors[0]
    assert "File too large" in line and str(ledger) in line and "--resume " in line
    # The command it prints is the one that finishes the run.
    resume = line.split("resume with: ", 1)[1].split()
    assert resume[:2] == ["tdmscan", "audit"]
    r = _audit([*resume[2:], "--quiet", "--json"], env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["status"] == "finished" and out["resumed"]
    con = duckdb.connect()
    rows = con.execute(
        "SELECT count(*), count(DISTINCT input_row) FROM read_parquet(?, hive_partitioning=true) "
        "WHERE run_id = ? AND agent = 'tdmscan'",
        [str(ledger / "decisions" / "**" / "*.parquet"), out["run_id"]],
    ).fetchone()
    assert rows == (N_URLS, N_URLS)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_ledger_is_one_line(bench_web: Any, tmp_path: Path):
    manifest = tmp_path / "m.txt"
    manifest.write_text("http://s1.bench.test/x\n")
    ledger = tmp_path / "L"
    env = _env(bench_web)
    assert _audit([str(manifest), "--ledger", str(ledger), "--quiet"], env).returncode == 0
    for d in ledger.rglob("*"):
        if d.is_dir():
            d.chmod(0o555)
    ledger.chmod(0o555)
    try:
        r = _audit([str(manifest), "--ledger", str(ledger), "--new-run"], env)
    finally:
        for d in [ledger, *ledger.rglob("*")]:
            if d.is_dir():
                d.chmod(0o755)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.startswith("Error:")]) == 1
