"""Flat memory: peak RSS and time per URL of ``tdmscan audit`` from 1 M to 20 M URLs.

Each size runs in a fresh child process (so ``ru_maxrss`` is that audit's own peak, not the
manifest generator's or an earlier size's), against the fake web in its own process, 50 URLs
per origin. The manifest is generated in chunks straight to Parquet. The baseline is the
smallest size of the same run: time per URL and peak RSS of every larger size are reported
as ratios to it (flat memory means RSS ratio ~1, constant time per URL means ~1).

    python benchmarks/bench_scale.py                       # 1M 5M 10M 20M, local ledger
    python benchmarks/bench_scale.py --sizes 1000000 2000000 --ledger s3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

URLS_PER_ORIGIN = 50
CHUNK = 1_000_000


def make_manifest(path: Path, n_urls: int, n_origins: int, seed: int = 1) -> None:
    from tdmscan.fakeweb import bench_generator

    gen = bench_generator(n_origins)
    hosts = [gen.host(i) for i in range(n_origins)]
    rnd = random.Random(seed)
    schema = pa.schema([("url", pa.string()), ("content_length", pa.int64())])
    with pq.ParquetWriter(path, schema, compression="zstd") as w:
        for start in range(0, n_urls, CHUNK):
            rows = list(range(start, min(n_urls, start + CHUNK)))
            rnd.shuffle(rows)  # consecutive rows rarely share an origin
            urls = [f"http://{hosts[j % n_origins]}/page/{j}.html" for j in rows]
            w.write_table(
                pa.table({"url": urls, "content_length": [1000 + j % 5000 for j in rows]})
            )


def child(manifest: str, ledger: str, workdir: str) -> None:
    """Run one audit; print its figures as one JSON line."""
    from tdmscan.audit import AuditConfig, AuditRunner, open_manifest
    from tdmscan.ledger import Ledger

    led = Ledger(ledger)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    runner = AuditRunner(
        open_manifest(manifest),
        led,
        AuditConfig(concurrency=200, memory_limit="512MB", workdir=Path(workdir)),
        resume=False,
    )
    t = time.perf_counter()
    res = runner.run()
    secs = time.perf_counter() - t
    con = led.connect()
    (n,) = con.execute("SELECT count(*) FROM decisions WHERE run_id = ?", [res.run_id]).fetchone()
    con.close()
    print(
        json.dumps(
            {
                "audit_s": secs,
                "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_before_mib": rss0,
                "decisions": n,
                "status": res.status,
            }
        ),
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000, 10_000_000, 20_000_000]
    )
    ap.add_argument("--ledger", choices=["local", "s3"], default="local")
    ap.add_argument("--child", nargs=3, metavar=("MANIFEST", "LEDGER", "WORKDIR"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0

    from tdmscan.fakeweb import FakeWeb

    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    s3 = None
    if args.ledger == "s3":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from s3_server import make_bucket, s3_server

        s3 = s3_server()
        s3.__enter__()
        make_bucket("bench")
    base: dict[str, float] | None = None
    print(
        f"{'URLs':>12} {'origins':>9} {'audit s':>9} {'us/URL':>8} {'x base':>7}"
        f" {'peak RSS MiB':>13} {'x base':>7}  decisions"
    )
    try:
        for n in args.sizes:
            origins = max(1, n // URLS_PER_ORIGIN)
            manifest = tmp / f"m{n}.parquet"
            make_manifest(manifest, n, origins)
            ledger = str(tmp / f"led{n}") if s3 is None else f"s3://bench/led{n}"
            fw = FakeWeb.spawn(generator="bench", n_hosts=origins, max_seconds=7200)
            try:
                # proxy_env: the proxy and the address guard's exemption for its hosts.
                env = {**os.environ, **fw.proxy_env()}
                if s3 is not None:
                    env["NO_PROXY"] = "127.0.0.1"
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(manifest), ledger, str(tmp)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            finally:
                fw.stop()
            r = json.loads(out.strip().splitlines()[-1])
            per_url = r["audit_s"] / n * 1e6
            if base is None:
                base = {"per_url": per_url, "rss": r["rss_mib"]}
            print(
                f"{n:>12,} {origins:>9,} {r['audit_s']:>9.1f} {per_url:>8.2f}"
                f" {per_url / base['per_url']:>7.2f} {r['rss_mib']:>13,.0f}"
                f" {r['rss_mib'] / base['rss']:>7.2f}  {r['decisions']:,} ({r['status']})",
                flush=True,
            )
            manifest.unlink()
    finally:
        if s3 is not None:
            s3.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
