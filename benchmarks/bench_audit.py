"""``tdmscan audit`` at scale: 1 million URLs over 20,000 origins on the fake web.

The fake web runs in its own process (``FakeWeb.spawn`` with the bench generator) and the
audit runs in this process, so ``ru_maxrss`` is the audit's own peak. Reported:

* URLs/s and origins/s of the whole audit (plan + fetch + decide + ledger write);
* peak RSS of this process (``resource.getrusage``);
* requests the fake web served, which must equal origins x 3 (robots.txt, tdmrep.json,
  ai.txt, each once per origin), and decisions in the ledger, which must equal the URLs;
* bare-fetch baselines in the same run: plain aiohttp fetching the same origin files with the
  same concurrency and nothing else, once one request after another per origin (one
  keep-alive connection, the scanner's own pattern: the target is audit time <= 1.3x this
  one) and once with three parallel requests per origin (three connections).

    python benchmarks/bench_audit.py                         # 1,000,000 URLs / 20,000 origins
    python benchmarks/bench_audit.py --urls 100000 --origins 2000
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import pyarrow as pa
import pyarrow.parquet as pq

from tdmscan.audit import AuditConfig, AuditRunner, open_manifest
from tdmscan.audit.progress import PlainProgress
from tdmscan.fakeweb import FakeWeb, bench_generator
from tdmscan.fetch import SITE_PATHS
from tdmscan.ledger import Ledger


def make_manifest(path: Path, n_urls: int, n_origins: int, seed: int = 1) -> None:
    """Shuffled, so the plan really has to group: consecutive rows rarely share an origin."""
    gen = bench_generator(n_origins)
    rnd = random.Random(seed)
    hosts = [gen.host(i) for i in range(n_origins)]
    rows = list(range(n_urls))
    rnd.shuffle(rows)
    urls = [f"http://{hosts[j % n_origins]}/page/{j}.html" for j in rows]
    sizes = [1000 + (j % 5000) for j in rows]
    pq.write_table(pa.table({"url": urls, "content_length": sizes}), path, compression="zstd")


async def bare_fetch(
    hosts: list[str], concurrency: int, proxy: str, *, sequential: bool = True
) -> tuple[float, int, int]:
    """Seconds, responses and failures for the three site files of every origin.

    ``sequential``: one request after another per origin, as the scanner does, so the three
    share a keep-alive connection; else three parallel requests (three connections).
    """
    ok = failed = 0
    errors: collections.Counter[str] = collections.Counter()
    # Same connection policy as the scanner's fetcher: a short keep-alive, or 20,000 hosts x 3
    # idle connections exhaust the file-descriptor limit and the baseline "wins" by failing.
    connector = aiohttp.TCPConnector(limit=concurrency * 3, limit_per_host=3, keepalive_timeout=2.0)
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sem = asyncio.Semaphore(concurrency)

        async def get(url: str) -> None:
            nonlocal ok, failed
            try:
                async with session.get(url, proxy=proxy, allow_redirects=False) as r:
                    await r.read()
                ok += 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                failed += 1
                errors[type(exc).__name__] += 1

        async def origin(host: str) -> None:
            async with sem:
                if sequential:
                    for p in SITE_PATHS:
                        await get(f"http://{host}{p}")
                else:
                    await asyncio.gather(*(get(f"http://{host}{p}") for p in SITE_PATHS))

        start = time.perf_counter()
        await asyncio.gather(*(origin(h) for h in hosts))
        if errors:
            print(f"baseline errors: {dict(errors)}")
        return time.perf_counter() - start, ok, failed


def cpu_s(pid: int | None = None) -> float:
    """User+system CPU seconds of this process, or of ``pid`` read from /proc."""
    if pid is None:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    if pid == -1:  # children already waited for: the audit's fetch process
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument("--origins", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--agent", action="append", default=None)
    ap.add_argument("--training-agents", action="store_true")
    ap.add_argument("--memory-limit", default="512MB")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--window", type=int, default=None, help="origins fetched ahead")
    ap.add_argument("--fetch-process", choices=["auto", "on", "off"], default="auto")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    manifest = tmp / "manifest.parquet"
    t = time.perf_counter()
    make_manifest(manifest, args.urls, args.origins)
    print(
        f"manifest: {args.urls:,} URLs over {args.origins:,} origins "
        f"({manifest.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t:.1f}s"
    )
    rss_before = rss_mib()

    fw = FakeWeb.spawn(generator="bench", n_hosts=args.origins, max_seconds=3600)
    try:
        for k in ("HTTP_PROXY", "http_proxy"):
            os.environ[k] = fw.proxy_url
        for k in ("NO_PROXY", "no_proxy"):
            os.environ.pop(k, None)
        fw.reset_counts()
        ledger = Ledger(tmp / "ledger")
        config = AuditConfig(
            agents=tuple(args.agent or ["tdmscan"]),
            training_agents=args.training_agents,
            concurrency=args.concurrency,
            memory_limit=args.memory_limit,
            workdir=tmp,
            window=args.window,
            fetch_process={"auto": None, "on": True, "off": False}[args.fetch_process],
        )
        marks: dict[str, float] = {}
        runner = AuditRunner(
            open_manifest(manifest),
            ledger,
            config,
            reporter=PlainProgress(sys.stderr, interval=15),
            resume=False,
            on_plan=lambda st: marks.setdefault("plan", time.perf_counter()),
        )
        cpu0, web0, kids0 = cpu_s(), cpu_s(fw.proc.pid), cpu_s(-1)
        start = time.perf_counter()
        result = runner.run()
        audit_s = time.perf_counter() - start
        audit_cpu, audit_web = cpu_s() - cpu0, cpu_s(fw.proc.pid) - web0
        fetch_cpu = cpu_s(-1) - kids0
        plan_s = marks.get("plan", start) - start
        peak = rss_mib()
        requests = fw.total_hits()
        con = ledger.connect()
        decided = con.execute(
            "SELECT count(*), count(DISTINCT input_row) FROM decisions WHERE run_id = ?",
            [result.run_id],
        ).fetchone()
        con.close()
        assert decided is not None

        c = result.counters
        n_agents = len(result.agents)
        print(
            f"audit:    {audit_s:8.1f} s  (plan {plan_s:.1f} s,"
            f" fetch+decide {audit_s - plan_s:.1f} s)"
        )
        print(
            f"          {args.urls / audit_s:10,.0f} URLs/s   {c.origins / audit_s:8,.0f} origins/s"
        )
        print(
            f"          {c.decisions:,} decisions ({n_agents} agent(s)),"
            f" ledger holds {decided[0]:,}"
            f" for {decided[1]:,} rows"
        )
        print(
            f"          CPU: audit process {audit_cpu:.1f} s, its fetch process {fetch_cpu:.1f} s,"
            f" fake web {audit_web:.1f} s"
        )
        print(f"          peak RSS {peak:,.0f} MiB (before the audit {rss_before:,.0f} MiB)")
        print(
            f"requests: {requests:,} served by the fake web, expected {3 * args.origins:,}"
            f" (origins x 3) -> {'OK' if requests == 3 * args.origins else 'MISMATCH'}"
        )
        ok = requests == 3 * args.origins and decided[1] == args.urls
        if not args.skip_baseline:
            hosts = [bench_generator(args.origins).host(i) for i in range(args.origins)]
            bare: dict[bool, float] = {}
            for sequential in (True, False):
                fw.reset_counts()
                cpu0, web0 = cpu_s(), cpu_s(fw.proc.pid)
                bare_s, got, failed = asyncio.run(
                    bare_fetch(hosts, args.concurrency, fw.proxy_url, sequential=sequential)
                )
                bare_cpu, bare_web = cpu_s() - cpu0, cpu_s(fw.proc.pid) - web0
                bare[sequential] = bare_s
                how = "one connection per origin" if sequential else "3 parallel requests"
                print(
                    f"baseline: {bare_s:8.1f} s  bare aiohttp, {how}, C={args.concurrency}"
                    f" ({got:,} responses, {failed} failed) -> {args.origins / bare_s:,.0f}"
                    f" origins/s; CPU client {bare_cpu:.1f} s, fake web {bare_web:.1f} s"
                )
            print(
                f"ratio:    audit / bare (one connection per origin, the scanner's pattern)"
                f" = {audit_s / bare[True]:.2f}x (target <= 1.3x)"
            )
            print(f"          audit / bare (3 parallel requests) = {audit_s / bare[False]:.2f}x")
        print(f"targets:  1M URLs < 300 s: {audit_s:.0f} s; peak RSS < 1024 MiB: {peak:,.0f} MiB")
        return 0 if ok else 1
    finally:
        fw.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


if __name__ == "__main__":
    sys.exit(main())
