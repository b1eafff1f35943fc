"""Rows read per partition: the manifest split once by shard vs every partition reading it all.

Baseline in the same run: the unsplit way (each of N partitions loads the whole manifest into
its plan and keeps its shard). Reported per partition: rows loaded and plan time (load +
resolve), and the one-off cost of the split.

    python benchmarks/bench_split.py                 # 1,000,000 URLs, 20,000 origins, N=8
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tdmscan.audit.manifest import open_manifest
from tdmscan.audit.plan import Plan
from tdmscan.engines.split import ShardPart, split_manifest


def make_manifest(path: Path, n_urls: int, n_origins: int) -> None:
    """Hosts of distinct registrable domains (the fake web's bench hosts share one domain,
    which would put every row in one shard)."""
    rnd = random.Random(1)
    rows = list(range(n_urls))
    rnd.shuffle(rows)
    urls = [f"http://www.site{j % n_origins}.test/page/{j}.html" for j in rows]
    pq.write_table(pa.table({"url": urls}), path, compression="zstd")


def plan_rows(manifest: object, k: int, n: int, work: Path) -> tuple[int, int, float]:
    t = time.perf_counter()
    with Plan(work, memory_limit="512MB") as plan:
        loaded = plan.load(manifest)  # type: ignore[arg-type]
        plan.resolve((k, n))
        st = plan.stats()
    return loaded, st.shard_rows, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument("--origins", type=int, default=20_000)
    ap.add_argument("--partitions", type=int, default=8)
    args = ap.parse_args()
    n = args.partitions
    tmp = Path(tempfile.mkdtemp(prefix="bench-split-"))
    path = tmp / "m.parquet"
    make_manifest(path, args.urls, args.origins)
    m = open_manifest(path)
    t = time.perf_counter()
    counts = split_manifest(m, n, tmp / "split", workdir=tmp)
    split_s = time.perf_counter() - t
    print(
        f"manifest {args.urls:,} URLs / {args.origins:,} origins, {n} partitions;"
        f" split once in {split_s:.1f} s"
    )
    print(
        f"{'k':>3} {'rows read (split)':>18} {'plan s':>7} {'rows read (unsplit)':>20}"
        f" {'plan s':>7}  shard rows"
    )
    tot_s = tot_u = 0.0
    for k in range(n):
        part = ShardPart.of(m, str(tmp / "split"), k)
        r_s, shard_s, s_s = plan_rows(part, k, n, tmp)
        r_u, shard_u, s_u = plan_rows(m, k, n, tmp)
        assert shard_s == shard_u == counts[k], (k, shard_s, shard_u, counts[k])
        tot_s += s_s
        tot_u += s_u
        print(f"{k:>3} {r_s:>18,} {s_s:>7.2f} {r_u:>20,} {s_u:>7.2f}  {shard_u:,}")
    print(
        f"sum of plan time: split {tot_s:.1f} s (+{split_s:.1f} s once) vs unsplit {tot_u:.1f} s"
        f" -> {tot_u / (tot_s + split_s):.2f}x less work overall"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
