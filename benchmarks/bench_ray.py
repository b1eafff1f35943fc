"""In-process audit vs the Ray engine on the same manifest and the same fake web.

The fake web runs in its own process with the bench generator on the ``test`` suffix, so
every host ``s<N>.test`` is its own registrable domain and the origins spread over all
partitions (``s<N>.bench.test`` would all hash to one shard). Reported for each engine: wall
time, URLs/s, origins/s, requests the fake web served (must be origins x 3: each origin file
once in the whole cluster) and decisions in the ledger (must be URLs x agents). For Ray the
fixed costs are split out: ``ray.init`` (local instance), actor start-up, the audit itself,
``ray.shutdown``.

    python benchmarks/bench_ray.py                                  # 200,000 URLs / 4,000 origins
    python benchmarks/bench_ray.py --urls 1000000 --origins 20000 --partitions 4
    python benchmarks/bench_ray.py --address auto                   # an existing cluster

On one 2-core machine Ray cannot beat the in-process engine: the fake web, the driver and
the actors share the same two cores. The point is the per-worker rate and the fixed costs,
which are what the sizing table in docs/scale-out.md is built from.
"""

from __future__ import annotations

import argparse
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tdmscan.audit import AuditConfig
from tdmscan.engines.sharding import run_shard
from tdmscan.fakeweb import SpawnedFakeWeb, bench_generator
from tdmscan.ledger import Ledger

DOMAIN = "test"  # s<N>.test: one registrable domain per host


def make_manifest(path: Path, n_urls: int, n_origins: int, seed: int = 1) -> None:
    gen = bench_generator(n_origins, domain=DOMAIN)
    rnd = random.Random(seed)
    hosts = [gen.host(i) for i in range(n_origins)]
    rows = list(range(n_urls))
    rnd.shuffle(rows)
    urls = [f"http://{hosts[j % n_origins]}/page/{j}.html" for j in rows]
    pq.write_table(pa.table({"url": urls}), path, compression="zstd")


def spawn_web(n_origins: int) -> SpawnedFakeWeb:
    args = [sys.executable, "-m", "tdmscan.fakeweb", "--bench-hosts", str(n_origins)]
    args += ["--bench-domain", DOMAIN, "--max-seconds", "3600"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline().decode().strip() if ready else ""
    prefix = "listening on http://127.0.0.1:"
    if not line.startswith(prefix):
        proc.kill()
        raise RuntimeError(f"fake web did not start: {line!r}")
    return SpawnedFakeWeb(proc, int(line[len(prefix) :]))


def ledger_counts(led: Path, run_id: str) -> tuple[int, int]:
    con = Ledger(led).connect()
    try:
        row = con.execute(
            "SELECT count(*), count(DISTINCT input_row) FROM decisions WHERE run_id = ?",
            [run_id],
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0]), int(row[1])


def report(name: str, secs: float, urls: int, origins: int, served: int, decided: int) -> bool:
    ok = served == 3 * origins and decided == urls
    print(
        f"{name:<10} {secs:8.1f} s  {urls / secs:10,.0f} URLs/s  {origins / secs:8,.0f} origins/s"
        f"  requests {served:,} (expect {3 * origins:,})  rows {decided:,}"
        f"  {'OK' if ok else 'MISMATCH'}"
    )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--urls", type=int, default=200_000)
    ap.add_argument("--origins", type=int, default=4_000)
    ap.add_argument("--concurrency", type=int, default=200, help="origins at once, per worker")
    ap.add_argument("--partitions", type=int, default=None, help="default: workers")
    ap.add_argument("--workers", type=int, default=None, help="default: cluster CPUs")
    ap.add_argument("--address", default=None, help="Ray address (default: a local instance)")
    ap.add_argument("--skip-local", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    tmp = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    manifest = tmp / "manifest.parquet"
    make_manifest(manifest, args.urls, args.origins)
    print(f"manifest: {args.urls:,} URLs over {args.origins:,} origins (one domain each)")
    config = AuditConfig(concurrency=args.concurrency, workdir=tmp)
    fw = spawn_web(args.origins)
    ok = True
    try:
        for k in ("HTTP_PROXY", "http_proxy"):
            os.environ[k] = fw.proxy_url
        for k in ("NO_PROXY", "no_proxy"):
            os.environ.pop(k, None)

        if not args.skip_local:
            fw.reset_counts()
            t = time.perf_counter()
            res: Any = run_shard(manifest, tmp / "local", config, shard=None)
            secs = time.perf_counter() - t
            ok &= report(
                "in-process",
                secs,
                args.urls,
                args.origins,
                fw.total_hits(),
                ledger_counts(tmp / "local", res.run_id)[1],
            )

        import ray

        from tdmscan.engines.ray_engine import run_audit_ray

        t = time.perf_counter()
        init_kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        ray.init(address=args.address, **init_kw)
        init_s = time.perf_counter() - t
        cpus = int(ray.cluster_resources().get("CPU", 1))
        fw.reset_counts()
        t = time.perf_counter()
        rr = run_audit_ray(
            manifest,
            tmp / "ray",
            config,
            partitions=args.partitions,
            workers=args.workers,
            resume=False,
        )
        total_s = time.perf_counter() - t
        t = time.perf_counter()
        ray.shutdown()
        down_s = time.perf_counter() - t
        ok &= report(
            "ray",
            rr.elapsed_s,
            args.urls,
            args.origins,
            fw.total_hits(),
            ledger_counts(tmp / "ray", rr.run_id)[1],
        )
        per_worker = args.origins / rr.elapsed_s / rr.workers
        print(
            f"ray fixed: init {init_s:.1f} s, actors {rr.startup_s:.1f} s,"
            f" shutdown {down_s:.1f} s; audit incl. actors {total_s:.1f} s"
        )
        print(
            f"ray shape: {rr.workers} workers x {rr.partitions} partitions on {cpus} CPUs ->"
            f" {per_worker:,.0f} origins/s per worker,"
            f" {args.urls / rr.elapsed_s / rr.workers:,.0f} URLs/s per worker"
        )
        return 0 if ok else 1
    finally:
        fw.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
