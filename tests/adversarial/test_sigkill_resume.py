"""SIGKILL at random points, then resume: nothing lost, nothing decided twice, and decisions
reach disk by time (every --commit-seconds), not only every 10,000 rows per shard."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tdmscan.fakeweb import Resp, Site

N_HOSTS = 120
PER_HOST = 40


def _run(manifest: Path, led: Path, env: dict[str, str], *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "tdmscan", "audit", str(manifest), "--ledger", str(led)]
    args += ["--concurrency", "4", "--timeout", "5", "--commit-seconds", "0.5", "--quiet"]
    return subprocess.Popen(
        [*args, *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _segments(led: Path) -> int:
    d = led / "decisions"
    return (
        sum(1 for p in d.rglob("part-*.parquet") if not p.name.startswith(".")) if d.exists() else 0
    )


def _rows(led: Path) -> list[tuple[int, int]]:
    glob = f"{led}/decisions/*/*/part-*.parquet"
    return (
        duckdb.connect()
        .sql(
            f"SELECT input_row, count(*) FROM read_parquet('{glob}') "
            "WHERE agent = 'tdmscan' GROUP BY 1"
        )
        .fetchall()
    )


@pytest.mark.slow
def test_sigkill_at_random_points_then_resume(tmp_path: Path, fakeweb: Any) -> None:
    seed = random.randrange(1 << 30)
    rnd = random.Random(seed)
    robots = Resp(body="User-agent: *\nDisallow: /x/\n", delay=0.2)
    fw = fakeweb([Site(f"h{i}.k.test", {"/robots.txt": robots}) for i in range(N_HOSTS)])
    env = {**os.environ, **fw.proxy_env(), "PYTHONPATH": os.pathsep.join(sys.path)}
    manifest = tmp_path / "m.txt"
    urls = [
        f"http://h{i}.k.test/{'x' if j % 3 else 'p'}/{j}"
        for j in range(PER_HOST)
        for i in range(N_HOSTS)
    ]
    manifest.write_text("\n".join(urls) + "\n")
    n = len(urls)
    led = tmp_path / "L"

    # First run: wait for the first decision segment. 4,800 rows over 16 shards never fill a
    # 10,000-row segment, so only the time-bounded commit can write it while the run is on.
    proc = _run(manifest, led, env)
    end = time.monotonic() + 60
    while _segments(led) == 0:
        assert proc.poll() is None, f"run ended before any segment: {proc.stderr.read()!r}"
        assert time.monotonic() < end, "no decision reached disk within 60 s"
        time.sleep(0.02)
    time.sleep(rnd.uniform(0, 1.0))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kills = 1
    # Resume, killing again at random points, until a run finishes.
    while kills < 6:
        proc = _run(manifest, led, env, "--resume")
        try:
            proc.wait(timeout=rnd.uniform(0.5, 3.0))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            continue
        assert proc.returncode == 0, (seed, proc.stderr.read())
        break
    else:
        proc = _run(manifest, led, env, "--resume")
        assert proc.wait(timeout=240) == 0, (seed, proc.stderr.read())
    rows = _rows(led)
    assert len(rows) == n, f"seed {seed}: {n - len(rows)} rows lost"
    assert {c for _, c in rows} == {1}, f"seed {seed}: a row was decided twice"
