"""Ledger write throughput: local disk vs an S3-compatible server (moto, on loopback).

The same decisions are written through the same writer (``flush_rows`` rows per segment) to
a local directory (the baseline, in the same run) and to ``s3://`` on moto's server: every
segment is one write-once object plus one conditional chain-entry create there, against a
temporary file, ``fsync``, ``flock`` and ``rename`` locally. Then ``count(*)`` through the
views, read in place. moto is a single-threaded Python server, so the S3 figure is a floor
for a real object store (which adds network latency instead).

    python benchmarks/bench_ledger_store.py --rows 200000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from tdmscan.ledger import Ledger, RunInfo
from tdmscan.types import Decision


def write(uri: str, rows: int, flush_rows: int) -> tuple[float, int, float]:
    led = Ledger(uri)
    decisions = [
        Decision(
            url=f"https://h{i % 5000}.site{i % 997}.test/p/{i}",
            agent="B",
            verdict=("allowed", "reserved")[i % 2],
            reasons=("robots-allow",),
        )
        for i in range(rows)
    ]
    t = time.perf_counter()
    with led.writer(RunInfo(run_id="bench"), flush_rows=flush_rows, flush_seconds=None) as w:
        w.add_many(decisions)
    secs = time.perf_counter() - t
    segs = sum(1 for e in led.live_segments("decisions") if e["rows"])
    t = time.perf_counter()
    (n,) = led.connect().execute("SELECT count(*) FROM decisions").fetchone()
    assert n == rows
    return secs, segs, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--flush-rows", type=int, default=10_000)
    args = ap.parse_args()
    from s3_server import make_bucket, s3_server

    tmp = tempfile.mkdtemp(prefix="bench-store-")
    results = {"local disk": write(f"{tmp}/led", args.rows, args.flush_rows)}
    with s3_server():
        make_bucket("bench")
        results["s3 (moto)"] = write("s3://bench/led", args.rows, args.flush_rows)
    base = results["local disk"][0]
    print(f"{args.rows:,} decisions, {args.flush_rows:,} rows per segment")
    print(
        f"{'store':<12} {'write s':>8} {'rows/s':>10} {'segments/s':>11} {'x local':>8}"
        f" {'count(*) s':>11}"
    )
    for name, (secs, segs, read_s) in results.items():
        print(
            f"{name:<12} {secs:>8.2f} {args.rows / secs:>10,.0f} {segs / secs:>11.1f}"
            f" {secs / base:>8.2f} {read_s:>11.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
