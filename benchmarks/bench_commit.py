"""What time-bounded commits cost: one audit, committing every 10 s (the writer's old
default), 2 s (the audit's default) and 0.5 s, each against a fake web in its own process.

    python benchmarks/bench_commit.py [--urls 300000 --origins 6000 --rounds 2]

Figures are ratios to the 10 s run of the same round (same manifest, same fake web), plus the
number of decision segments each run wrote (what compaction later merges).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tdmscan.fakeweb import SpawnedFakeWeb


def audit(manifest: Path, ledger: Path, env: dict[str, str], seconds: float) -> tuple[float, int]:
    args = [sys.executable, "-m", "tdmscan", "audit", str(manifest), "--ledger", str(ledger)]
    args += ["--commit-seconds", str(seconds), "--json", "--quiet"]
    t = time.perf_counter()
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - t
    rows = json.loads(out.stdout.strip().splitlines()[-1])["rows_decided"]
    segments = sum(1 for _ in (ledger / "decisions").rglob("part-*.parquet"))
    return rows / elapsed, segments


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--urls", type=int, default=300_000)
    ap.add_argument("--origins", type=int, default=6_000)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    fw = SpawnedFakeWeb.start(generator="bench", n_hosts=a.origins)
    try:
        env = {**os.environ, **fw.proxy_env()}
        with tempfile.TemporaryDirectory() as tmp:
            manifest = Path(tmp) / "m.txt"
            with open(manifest, "w") as fh:
                for i in range(a.urls):
                    fh.write(f"http://s{i % a.origins}.bench.test/p/{i}\n")
            settings = (10.0, 2.0, 0.5)
            for r in range(a.rounds):
                # The order rotates each round, so no setting always runs first (or last).
                got = {}
                for seconds in settings[r % 3 :] + settings[: r % 3]:
                    got[seconds] = audit(manifest, Path(tmp) / f"L{r}-{seconds}", env, seconds)
                base = got[10.0][0]
                for seconds in settings:
                    rate, segs = got[seconds]
                    print(
                        f"round {r} commit every {seconds:>4} s: {rate:9,.0f} URLs/s "
                        f"({rate / base:.3f}x of 10 s)  decision segments {segs}",
                        flush=True,
                    )
    finally:
        fw.stop()


if __name__ == "__main__":
    main()
