"""Cold-scan and warm-check throughput of tdmscan.Scanner against a bare aiohttp client.

The fake web runs in its own process (``FakeWeb.spawn``) with the deterministic bench
generator; every client goes through it as an HTTP proxy, so each virtual origin still gets
its own connection, as in a real fan-out. For each (origins, concurrency) pair:

* ``scanner``: ``Scanner.check_many`` over ``urls_per_origin`` URLs per origin (cold cache),
  so every origin's three files are fetched once and every URL is decided;
* ``bare``: plain ``aiohttp.ClientSession`` fetching the same three files per origin with
  the same number of origins in flight and the same connection limit, doing nothing else:
  ``bare sequential`` one request after another per origin (one keep-alive connection, the
  scanner's own pattern, the baseline the targets refer to), ``bare parallel`` three at once.

The server's own counts are checked after every scanner run (exactly three requests per
origin) and timeouts are counted, so a fast figure cannot hide lost or repeated work.

    python benchmarks/bench_scan.py            # 2,000 and 20,000 origins, C=100 and 500
    python benchmarks/bench_scan.py --quick    # 500 origins, a few seconds
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass

import aiohttp

from tdmscan.fakeweb import FakeWeb, bench_generator
from tdmscan.fetch import SITE_PATHS, FetchLimits
from tdmscan.scanner import Scanner


@dataclass
class Run:
    label: str
    origins: int
    urls: int
    concurrency: int
    seconds: float
    requests: int
    timeouts: int
    errors: int

    @property
    def origins_per_s(self) -> float:
        return self.origins / self.seconds

    @property
    def urls_per_s(self) -> float:
        return self.urls / self.seconds

    def line(self) -> str:
        return (
            f"{self.label:<15} N={self.origins:>6} C={self.concurrency:>3} "
            f"{self.seconds:7.2f} s {self.origins_per_s:8.0f} origins/s "
            f"{self.urls_per_s:8.0f} URLs/s {self.requests / self.seconds:8.0f} req/s "
            f"timeouts={self.timeouts} errors={self.errors}"
        )


async def bare_aiohttp(
    hosts: list[str], concurrency: int, proxy: str, *, sequential: bool = True
) -> Run:
    """The three site files per origin with nothing else: ``sequential`` one after another
    (one keep-alive connection, as the scanner fetches them), else three in parallel."""
    timeouts = errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=2, keepalive_timeout=2.0)
    async with aiohttp.ClientSession(connector=connector) as session:
        sem = asyncio.Semaphore(concurrency)

        async def one(url: str) -> None:
            nonlocal timeouts, errors
            try:
                async with session.get(url, proxy=proxy, allow_redirects=False) as r:
                    await r.read()
            except TimeoutError:
                timeouts += 1
            except aiohttp.ClientError:
                errors += 1

        async def origin(host: str) -> None:
            async with sem:
                if sequential:
                    for p in SITE_PATHS:
                        await one(f"http://{host}{p}")
                else:
                    await asyncio.gather(*(one(f"http://{host}{p}") for p in SITE_PATHS))

        start = time.perf_counter()
        await asyncio.gather(*(origin(h) for h in hosts))
        took = time.perf_counter() - start
    label = "bare sequential" if sequential else "bare parallel"
    return Run(label, len(hosts), 0, concurrency, took, 3 * len(hosts), timeouts, errors)


async def scanner_scan(
    kind: str, hosts: list[str], urls_per_origin: int, concurrency: int
) -> tuple[Run, Scanner]:
    urls = [f"http://{h}/page/{j}.html" for j in range(urls_per_origin) for h in hosts]
    limits = FetchLimits(global_concurrency=concurrency)
    scanner = Scanner(["BenchBot"], fetcher=kind, limits=limits)
    start = time.perf_counter()
    n = 0
    async for _d in scanner.check_many(urls, concurrency=concurrency):
        n += 1
    took = time.perf_counter() - start
    assert n == len(urls)
    timeouts = errors = 0
    kinds: Counter[str] = Counter()
    for h in hosts:
        files = scanner._sites.peek(f"http://{h}").files  # type: ignore[union-attr]
        for f in (files.robots, files.tdmrep, files.ai_txt):
            if f.error == "timeout":
                timeouts += 1
            elif f.error:
                errors += 1
                kinds[f.error] += 1
    if kinds:
        print(f"  fetch errors: {dict(kinds)}")
    run = Run(
        f"scanner/{kind}",
        len(hosts),
        len(urls),
        concurrency,
        took,
        scanner.stats.requests,
        timeouts,
        errors,
    )
    return run, scanner


async def warm_checks(scanner: Scanner, hosts: list[str], seconds: float = 2.0) -> float:
    """Sequential ``check`` calls on cached origins: decisions per second on one core."""
    urls = [f"http://{h}/warm/{i}.html" for i, h in enumerate(hosts[:1000])]
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for u in urls:
            await scanner.check(u)
        n += len(urls)
    rate = n / (time.perf_counter() - start)
    assert scanner.stats.origins_fetched == len(hosts)  # nothing was re-fetched
    return rate


async def main_async(args: argparse.Namespace) -> int:
    sizes = [500] if args.quick else args.origins
    concurrencies = [100] if args.quick else args.concurrency
    biggest = max(sizes)
    failures = 0
    warmup = 200
    with FakeWeb.spawn(generator="bench", n_hosts=biggest + warmup, max_seconds=1800) as fw:
        os.environ["HTTP_PROXY"] = os.environ["http_proxy"] = fw.proxy_url
        for name in ("NO_PROXY", "no_proxy"):
            os.environ.pop(name, None)
        gen = bench_generator(biggest + warmup)
        print(f"fake web pid {fw.proc.pid} on {fw.proxy_url}; python {sys.version.split()[0]}")
        # Warm-up on hosts outside every measured set: imports, the catalogue, both processes'
        # first-connection costs (the measured runs below start cold only in the cache).
        spare = gen.hosts()[biggest:]
        _, s = await scanner_scan("aiohttp", spare[: warmup // 2], 1, 50)
        await s.aclose()
        await bare_aiohttp(spare[warmup // 2 :], 50, fw.proxy_url)
        warm_scanner: Scanner | None = None
        for n in sizes:
            hosts = gen.hosts()[:n]
            for c in concurrencies:
                # httpx collapses at C=500 (measured here): time it only where it finishes.
                with_httpx = args.httpx and n <= 2000 and c <= 100
                for kind in ["aiohttp", *(["httpx"] if with_httpx else [])]:
                    fw.reset_counts()
                    run, scanner = await scanner_scan(kind, hosts, args.urls_per_origin, c)
                    hits = fw.total_hits()
                    ok = hits == 3 * n and run.timeouts == 0
                    failures += not ok
                    print(run.line() + ("" if ok else f"   !! server saw {hits} requests"))
                    if warm_scanner is None and kind == "aiohttp":
                        warm_scanner = scanner
                    else:
                        await scanner.aclose()
                for sequential in (True, False):
                    fw.reset_counts()
                    bare = await bare_aiohttp(hosts, c, fw.proxy_url, sequential=sequential)
                    print(bare.line())
        assert warm_scanner is not None
        rate = await warm_checks(warm_scanner, gen.hosts()[: sizes[0]])
        await warm_scanner.aclose()
        print(f"warm check: {rate:,.0f} checks/s (sequential, one core, cached origins)")
    return 1 if failures else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="500 origins at C=100 only")
    p.add_argument("--origins", type=int, nargs="+", default=[2000, 20000])
    p.add_argument("--concurrency", type=int, nargs="+", default=[100, 500])
    p.add_argument("--urls-per-origin", type=int, default=5)
    p.add_argument("--httpx", action="store_true", help="also time the httpx fetcher (N<=2000)")
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
