"""Ledger throughput: the writer against a bare pyarrow write, and report queries at 10 M rows.

    python benchmarks/bench_ledger.py [--decisions 200000] [--query-rows 10000000] [--keep DIR]

1. Writer: ``Decision`` objects through ``LedgerWriter.add_many`` (16 shards, 10,000-row
   segments, fsync + rename + chain per segment), next to ``pq.write_table`` of the very same
   Arrow table in one file (what the writer produced, read back), and next to the naive
   ``Table.from_pylist([d.to_dict() ...])`` conversion. Target: writer within 1.5x of the bare
   write.
2. Query: 10 M synthetic decisions over 200 k registrable domains generated with DuckDB
   straight into the ledger layout (chained segments, 16 shards), then GROUP BY reports
   through the views.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tdmscan.ledger import Ledger, RunInfo
from tdmscan.ledger import schema as S
from tdmscan.ledger.segments import segment_name, write_segment
from tdmscan.types import Decision, Evidence, RobotsOutcome


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            mem = f", {int(fh.readline().split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs{mem}; Python {sys.version.split()[0]}, "
        f"duckdb {duckdb.__version__}, pyarrow {pa.__version__}, {platform.platform()}"
    )


def make_decisions(n: int) -> list[Decision]:
    now = datetime.now(UTC)
    robots_cache: dict[int, RobotsOutcome] = {}
    out = []
    for i in range(n):
        h = i % 20_000
        ro = robots_cache.get(h)
        if ro is None:
            ro = RobotsOutcome(
                branch="parsed",
                status=200,
                url=f"https://www.d{h}.example.com/robots.txt",
                sha256=f"{h:064x}",
                fetched_at=now,
                verdict="disallow" if h % 3 == 0 else "no-rule",
                matched_line=4 if h % 3 == 0 else None,
                matched_rule="Disallow: /" if h % 3 == 0 else None,
                group="GPTBot" if h % 3 == 0 else None,
            )
            robots_cache[h] = ro
        reserved = h % 3 == 0
        ev = (
            (
                Evidence(
                    "robots",
                    "robots.txt line 4",
                    "Disallow: /",
                    "reserved",
                    reason="robots:disallow",
                    sha256=ro.sha256,
                    decisive=True,
                ),
            )
            if reserved
            else ()
        )
        out.append(
            Decision(
                url=f"https://www.d{h}.example.com/articles/{i}.html",
                agent=("GPTBot", "CCBot", "ClaudeBot")[i % 3],
                verdict="reserved" if reserved else "allowed",
                reasons=("robots:disallow",) if reserved else (),
                evidence=ev,
                robots=ro,
            )
        )
    return out


def bench_writer(n: int, root: str) -> None:
    print(f"\n== writer: {n:,} decisions ==")
    t = time.perf_counter()
    ds = make_decisions(n)
    print(f"building Decision objects (not timed below): {time.perf_counter() - t:.2f} s")
    led = Ledger(os.path.join(root, "writer"))
    run = RunInfo(kind="benchmark")
    best_writer = float("inf")
    for _ in range(3):
        run = RunInfo(kind="benchmark")
        t = time.perf_counter()
        with led.writer(run, shards=16, flush_rows=10_000, flush_seconds=None) as w:
            w.add_many(ds)
        best_writer = min(best_writer, time.perf_counter() - t)
    files = [
        os.path.join(dp, f)
        for dp, _, fs in os.walk(os.path.join(led.root, "decisions", f"run={run.run_id}"))
        for f in fs
        if f.endswith(".parquet")
    ]
    table = pa.concat_tables([pq.read_table(f, partitioning=None) for f in files])
    assert table.num_rows == n
    best_bare = float("inf")
    out = os.path.join(root, "bare.parquet")
    for _ in range(3):
        t = time.perf_counter()
        pq.write_table(table, out, compression="zstd", row_group_size=10_000)
        best_bare = min(best_bare, time.perf_counter() - t)
    best_direct = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        direct = direct_table(ds)
        pq.write_table(direct, out, compression="zstd", row_group_size=10_000)
        best_direct = min(best_direct, time.perf_counter() - t)
    t = time.perf_counter()
    naive = pa.Table.from_pylist([d.to_dict() for d in ds])
    pq.write_table(naive, os.path.join(root, "naive.parquet"), compression="zstd")
    naive_s = time.perf_counter() - t
    segs = len(files)
    print(
        f"writer (add_many + {segs} atomic segments, fsync, chain): {best_writer:.2f} s "
        f"= {n / best_writer:,.0f} decisions/s"
    )
    print(
        f"bare pq.write_table, same {table.num_columns}-column table, one file: {best_bare:.2f} s "
        f"= {n / best_bare:,.0f} rows/s"
    )
    print(
        f"bare build (one list comprehension per column) + pq.write_table, one file: "
        f"{best_direct:.2f} s = {n / best_direct:,.0f} rows/s"
    )
    print(f"naive from_pylist(to_dict()) + write: {naive_s:.2f} s = {n / naive_s:,.0f} rows/s")
    print(f"writer / bare write of the prebuilt table = {best_writer / best_bare:.2f}x")
    print(f"writer / bare build + write = {best_writer / best_direct:.2f}x (target <= 1.5x)")
    print(f"writer vs naive: {naive_s / best_writer:.1f}x faster")


def direct_table(ds: list[Decision]) -> pa.Table:
    """The straightforward conversion a caller would write: no sharding, no atomic commit."""
    rb = [d.robots for d in ds]
    cols = {
        "url": [d.url for d in ds],
        "final_url": [d.final_url for d in ds],
        "agent": [d.agent for d in ds],
        "purpose": [d.purpose for d in ds],
        "mode": [d.mode for d in ds],
        "verdict": [d.verdict for d in ds],
        "reasons": [list(d.reasons) for d in ds],
        "checked_at": pa.repeat(pa.scalar(datetime.now(UTC), S.TS), len(ds)),
        "evidence": [[e.to_dict() for e in d.evidence] for d in ds],
        "licences": [list(d.licences) for d in ds],
        "errors": [list(d.errors) for d in ds],
        "tdm_reservation": [d.tdm_reservation for d in ds],
        "tdm_source": [d.tdm_source for d in ds],
        "tdm_policy": [d.tdm_policy for d in ds],
        "tdmrep_sha256": [d.tdmrep_sha256 for d in ds],
    }
    for f in (
        "url",
        "sha256",
        "status",
        "branch",
        "verdict",
        "matched_rule",
        "matched_line",
        "group",
        "truncated",
        "error",
        "fetched_at",
    ):
        cols[f"robots_{f}"] = [None if r is None else getattr(r, f) for r in rb]
    fields = {f.name: f.type for f in S.DECISIONS}
    return pa.table(
        {k: pa.array(v, fields[k]) if isinstance(v, list) else v for k, v in cols.items()}
    )


GEN_SQL = """
SELECT
  printf('%08x-0000-8000-8000-%012x', {k}, r.range) AS decision_id,
  '{run_id}' AS run_id,
  'https://www.' || d.domain || '/p/' || r.range AS url,
  NULL::VARCHAR AS final_url,
  'https://www.' || d.domain AS origin,
  'www.' || d.domain AS host,
  d.domain AS registrable_domain,
  (['GPTBot', 'CCBot', 'ClaudeBot', 'Google-Extended'])[1 + r.range % 4] AS agent,
  'train-ai' AS purpose,
  'conservative' AS mode,
  CASE WHEN d.idx % 5 = 0 THEN 'reserved' WHEN r.range % 97 = 0 THEN 'unknown' ELSE 'allowed' END
    AS verdict,
  CASE WHEN d.idx % 5 = 0 THEN ['robots:disallow'] WHEN r.range % 97 = 0
    THEN ['robots:unreachable'] ELSE []::VARCHAR[] END AS reasons,
  TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_microseconds(r.range) AS checked_at,
  'https://www.' || d.domain || '/robots.txt' AS robots_url,
  md5(d.domain) || md5(d.domain) AS robots_sha256,
  TIMESTAMPTZ '2026-01-01 00:00:00+00' AS robots_fetched_at,
  200::SMALLINT AS robots_status,
  'parsed' AS robots_branch,
  CASE WHEN d.idx % 5 = 0 THEN 'disallow' ELSE 'no-rule' END AS robots_verdict,
  CASE WHEN d.idx % 5 = 0 THEN 'Disallow: /' END AS robots_matched_rule,
  CASE WHEN d.idx % 5 = 0 THEN 3 END AS robots_matched_line
FROM range({start}, {stop}) r
JOIN doms d ON d.idx = r.range % {n_domains}
WHERE d.shard = {k}
"""


def bench_query(rows: int, root: str, shards: int = 16, n_domains: int = 200_000) -> None:
    print(f"\n== query: {rows:,} decisions over {n_domains:,} domains, {shards} shards ==")
    led = Ledger(os.path.join(root, "query"))
    run = RunInfo(kind="benchmark")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"CREATE TABLE doms AS SELECT range AS idx, 'd' || range || '.example' || (range % 50) "
        f"|| '.com' AS domain, (md5_number('d' || range || '.example' || (range % 50) || '.com')"
        f" % {shards})::INTEGER AS shard FROM range({n_domains})"
    )
    target = S.with_metadata("decisions", S.DECISIONS, run.tool_version)
    t0 = time.perf_counter()
    chunk = 2_500_000
    for k in range(shards):
        for start in range(0, rows, chunk):
            sql = GEN_SQL.format(
                k=k,
                run_id=run.run_id,
                start=start,
                stop=min(rows, start + chunk),
                n_domains=n_domains,
            )
            got = con.sql(sql).to_arrow_table()
            cols = [
                got.column(f.name).cast(f.type)
                if f.name in got.column_names
                else pa.nulls(got.num_rows, f.type)
                for f in S.DECISIONS
            ]
            table = pa.Table.from_arrays(cols, schema=target)
            write_segment(
                led.root,
                led.chain,
                "decisions",
                f"decisions/run={run.run_id}/shard={k}",
                table,
                name=segment_name(run.run_id),
                run_id=run.run_id,
            )
    gen = time.perf_counter() - t0
    size = sum(
        os.path.getsize(os.path.join(dp, f))
        for dp, _, fs in os.walk(os.path.join(led.root, "decisions"))
        for f in fs
    )
    print(f"generated and wrote in {gen:.1f} s ({size / 1e6:.0f} MB on disk)")
    q = led.connect()
    n = q.execute("SELECT count(*) FROM decisions").fetchall()[0][0]
    assert n == rows, n
    queries = {
        "count(*)": "SELECT count(*) FROM decisions",
        "GROUP BY verdict": "SELECT verdict, count(*) FROM decisions GROUP BY verdict",
        "GROUP BY agent, verdict, reasons[1]": (
            "SELECT agent, verdict, reasons[1] AS reason, count(*) FROM decisions GROUP BY ALL"
        ),
        "GROUP BY registrable_domain, verdict (top 100)": (
            "SELECT registrable_domain, verdict, count(*) AS n FROM decisions GROUP BY ALL "
            "ORDER BY n DESC LIMIT 100"
        ),
        "one shard (partition pruning)": (
            "SELECT verdict, count(*) FROM decisions WHERE shard = 3 GROUP BY ALL"
        ),
        "point lookup by url": "SELECT * FROM decisions WHERE url = 'https://www.d12345.example45.com/p/12345'",
    }
    for name, sql in queries.items():
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            q.execute(sql).fetchall()
            best = min(best, time.perf_counter() - t)
        print(f"{name:<48} {best * 1000:8.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--decisions", type=int, default=200_000)
    ap.add_argument("--query-rows", type=int, default=10_000_000)
    ap.add_argument("--keep", help="Write the ledgers here and keep them.")
    args = ap.parse_args()
    print(machine())
    root = args.keep or tempfile.mkdtemp(prefix="tdmscan-bench-")
    try:
        if args.decisions:
            bench_writer(args.decisions, root)
        if args.query_rows:
            bench_query(args.query_rows, root)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
