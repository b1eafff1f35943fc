"""``tdmscan serve`` under load and faults, with the in-process Scanner as the baseline.

Everything on loopback: the fake web in its own process (bench generator, plus slow and
dead origins), ``tdmscan serve`` in its own process routed through it, and the load
generator (aiohttp clients) in this process. Phases:

1. **cold batch**: every bench URL once through ``POST /v1/check`` (fills the origin cache);
2. **baseline**: an in-process ``Scanner`` (same agents, same fake web) warmed on the same
   origins, then ``await scanner.check(url)`` one after another: checks/s and latency;
3. **warm GET**: C concurrent loopback clients calling ``GET /v1/check`` on cached origins:
   throughput, p50/p99 per request, at several C; **warm batch**: ``POST /v1/check`` with
   1,000 URLs per request;
4. **head-of-line**: warm GETs on fast origins, and cold checks of fresh fast origins, while
   other clients keep checking slow origins (robots.txt answers after 3 s) and dead ones
   (never answer: the fetch deadline ends them) -- compared with the same load alone;
5. **SIGKILL**: a paced load at R checks/s, ``kill -9`` at a random moment, rows acknowledged
   to clients vs rows in the ledger (lost = acknowledged and not on disk), repeated; then a
   restart on the same ledger opens a new run.

    python benchmarks/bench_serve.py            # ~2 minutes
    python benchmarks/bench_serve.py --quick    # ~30 s
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from tdmscan.fakeweb import FakeWeb, Resp, Site, bench_generator
from tdmscan.scanner import Scanner

SRC = str(Path(__file__).resolve().parents[1] / "src")
OPEN = "User-agent: *\nAllow: /\n"
_LISTENING = re.compile(r"listening on (http://\S+)")


# ---------------------------------------------------------------------- processes


class ServeProc:
    def __init__(self, ledger: Path, proxy: str, *args: str) -> None:
        self.ledger, self.proxy, self.args = ledger, proxy, args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> ServeProc:
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        }
        env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
        env["HTTP_PROXY"] = env["HTTPS_PROXY"] = self.proxy
        cmd = [sys.executable, "-m", "tdmscan", "serve", "--ledger", str(self.ledger)]
        cmd += ["--port", "0", *self.args]
        self.proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            m = _LISTENING.search(line)
            if m:
                self.url = m.group(1)
                break
        else:
            raise RuntimeError("tdmscan serve did not start")
        # Keep draining stderr so the child never blocks on a full pipe.
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()
        return self

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


@dataclass
class Load:
    label: str
    requests: int
    urls: int
    seconds: float
    latencies: list[float]
    errors: int
    server_cpu: float = 0.0
    client_cpu: float = 0.0

    def line(self) -> str:
        ms = [x * 1000 for x in self.latencies]
        return (
            f"{self.label:<34} {self.urls / self.seconds:9,.0f} checks/s "
            f"p50 {percentile(ms, 0.50):7.2f} ms  p99 {percentile(ms, 0.99):8.2f} ms  "
            f"errors={self.errors}"
            + (
                f"  cpu server {self.server_cpu:.2f} s client {self.client_cpu:.2f} s"
                if self.server_cpu or self.client_cpu
                else ""
            )
            + (
                f" ({self.server_cpu / self.urls * 1e6:.0f} us server CPU/check)"
                if self.server_cpu and self.urls
                else ""
            )
            + (
                f" ({self.client_cpu / self.urls * 1e6:.0f} us CPU/check)"
                if self.label.startswith("in-process") and self.urls
                else ""
            )
        )


# ---------------------------------------------------------------------- load


async def fetch_outcomes(base: str) -> dict[str, int]:
    """The server's fetch outcome counters: a fast figure must not hide timeouts."""
    from prometheus_client.parser import text_string_to_metric_families

    async with aiohttp.ClientSession(base) as s, s.get("/metrics") as r:
        text = await r.text()
    out: dict[str, int] = {}
    for fam in text_string_to_metric_families(text):
        if fam.name == "tdmscan_serve_fetches":
            for sample in fam.samples:
                out[sample.labels["outcome"]] = int(sample.value)
    return out


async def get_load(
    base: str,
    urls: list[str],
    concurrency: int,
    label: str,
    *,
    expect: dict[str, str | None] | None,
    agent: str | None = None,
    seconds: float | None = None,
) -> Load:
    """``concurrency`` clients, each its own connection, calling GET /v1/check over ``urls``
    (for at most ``seconds`` when given: a busy machine still ends each phase)."""
    lat: list[float] = []
    errors = 0
    it = iter(urls)
    stop_at = time.perf_counter() + seconds if seconds else float("inf")
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(base, connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            for url in it:
                t0 = time.perf_counter()
                if t0 > stop_at:
                    return
                params = {"url": url} if agent is None else {"url": url, "agent": agent}
                async with session.get("/v1/check", params=params) as r:
                    body = await r.read()
                lat.append(time.perf_counter() - t0)
                if r.status != 200:
                    errors += 1
                    continue
                if expect is not None:
                    verdict = json.loads(body)["verdict"]
                    if expect.get(url, verdict) != verdict:
                        errors += 1

        c0 = time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - t0
        client_cpu = time.process_time() - c0
    return Load(label, len(lat), len(lat), seconds, lat, errors, client_cpu=client_cpu)


async def batch_load(
    base: str, urls: list[str], per_request: int, clients: int, label: str
) -> Load:
    chunks = [urls[i : i + per_request] for i in range(0, len(urls), per_request)]
    it = iter(chunks)
    lat: list[float] = []
    errors = 0
    n = 0
    async with aiohttp.ClientSession(base) as session:

        async def worker() -> None:
            nonlocal errors, n
            for chunk in it:
                t0 = time.perf_counter()
                async with session.post("/v1/check", json=chunk) as r:
                    lines = (await r.read()).splitlines()
                lat.append(time.perf_counter() - t0)
                n += len(lines)
                if r.status != 200 or len(lines) != len(chunk):
                    errors += 1

        c0 = time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - t0
    return Load(label, len(lat), n, seconds, lat, errors, client_cpu=time.process_time() - c0)


async def baseline(urls: list[str], warm: list[str], proxy: str, ledger: Path | None) -> Load:
    """In-process Scanner.check on cached origins, one after another (no HTTP in between);
    with ``ledger``, recording every decision as the service does."""
    saved = {k: os.environ.get(k) for k in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "no_proxy")}
    os.environ["HTTP_PROXY"] = os.environ["HTTPS_PROXY"] = proxy
    os.environ.pop("NO_PROXY", None)
    os.environ.pop("no_proxy", None)
    try:
        async with Scanner(agents=["tdmscan"], ledger=ledger) as scanner:
            async for _ in scanner.check_many(warm, concurrency=100):
                pass
            lat = []
            c0 = time.process_time()
            t0 = time.perf_counter()
            for url in urls:
                s = time.perf_counter()
                await scanner.check(url)
                lat.append(time.perf_counter() - s)
            seconds = time.perf_counter() - t0
            cpu = time.process_time() - c0
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    label = "in-process Scanner.check" + (" + ledger" if ledger else "")
    return Load(label, len(urls), len(urls), seconds, lat, 0, client_cpu=cpu)


# ---------------------------------------------------------------------- head-of-line


async def head_of_line(
    base: str, warm_urls: list[str], fresh_hosts: list[str], slow: list[str], dead: list[str]
) -> tuple[Load, Load, Load, Load, dict[str, float]]:
    """Fast-origin latency alone, then again while slow and dead origins are being checked."""

    async def fast(label: str, fresh: list[str]) -> tuple[Load, Load]:
        warm = await get_load(base, warm_urls, 16, f"{label}: warm GET C=16", expect=None)
        cold = await get_load(
            base, [f"http://{h}/x" for h in fresh], 8, f"{label}: cold GET C=8", expect=None
        )
        return warm, cold

    half = len(fresh_hosts) // 2
    alone = await fast("alone", fresh_hosts[:half])

    faulty_lat: list[float] = []

    async def faulty(urls: list[str]) -> None:
        # One connection per request (no client-side limit), so every slow and dead check is
        # at the server at once rather than queued in this client.
        async with aiohttp.ClientSession(
            base,
            timeout=aiohttp.ClientTimeout(total=120),
            connector=aiohttp.TCPConnector(limit=0),
        ) as s:

            async def one(url: str) -> None:
                t0 = time.perf_counter()
                async with s.get("/v1/check", params={"url": url}) as r:
                    await r.read()
                faulty_lat.append(time.perf_counter() - t0)

            await asyncio.gather(*(one(u) for u in urls))

    bg = asyncio.ensure_future(faulty([*slow, *dead]))
    await asyncio.sleep(0.5)  # the slow and dead fetches are now holding their slots
    loaded = await fast("with slow+dead origins", fresh_hosts[half:])
    await bg
    info = {
        "slow_dead_checks": len(faulty_lat),
        "slow_dead_p50_s": percentile(faulty_lat, 0.5),
        "slow_dead_max_s": max(faulty_lat) if faulty_lat else float("nan"),
    }
    return alone[0], alone[1], loaded[0], loaded[1], info


# ---------------------------------------------------------------------- SIGKILL


def ledger_urls(ledger: Path, run_id: str | None = None) -> set[str]:
    from tdmscan.ledger import Ledger

    con = Ledger(ledger).connect()
    try:
        if run_id is None:
            return {r[0] for r in con.execute("SELECT url FROM decisions").fetchall()}
        q = "SELECT url FROM decisions WHERE run_id = ?"
        return {r[0] for r in con.execute(q, [run_id]).fetchall()}
    finally:
        con.close()


async def paced_until_killed(
    srv: ServeProc, hosts: list[str], rate: float, kill_after: float
) -> tuple[set[str], str]:
    """Checks at ``rate``/s on cached origins; kill -9 after ``kill_after`` s. Returns the
    URLs whose answer reached the client, and the run id."""
    acked: set[str] = set()
    async with aiohttp.ClientSession(srv.url) as s:
        async with s.get("/healthz") as r:
            run_id = (await r.json())["run_id"]
        t0 = time.perf_counter()
        i = 0
        pending: set[asyncio.Task[None]] = set()

        async def one(url: str) -> None:
            try:
                async with s.get("/v1/check", params={"url": url}) as r:
                    if r.status == 200:
                        await r.read()
                        acked.add(url)
            except aiohttp.ClientError:
                pass

        while True:
            now = time.perf_counter() - t0
            if now >= kill_after:
                srv.stop(signal.SIGKILL)
                break
            due = int(now * rate)
            while i < due:
                t = asyncio.ensure_future(one(f"http://{hosts[i % len(hosts)]}/k{i}"))
                pending.add(t)
                t.add_done_callback(pending.discard)
                i += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*pending, return_exceptions=True)
    return acked, run_id


# ---------------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> None:
    n = args.origins
    per = args.urls_per_origin
    gen = bench_generator(n)
    hosts = gen.hosts()
    n_faulty = args.faulty
    slow_sites = [Site(f"slow{i}.test", {"/robots.txt": Resp(body=OPEN, delay=3.0)})
                  for i in range(n_faulty)]  # fmt: skip
    dead_sites = [Site(f"dead{i}.test", {"/robots.txt": Resp(hang=True)}) for i in range(n_faulty)]
    fresh = [f"fresh{i}.test" for i in range(args.fresh)]
    fresh_sites = [Site(h, {"/robots.txt": Resp(body=OPEN)}) for h in fresh]
    web = FakeWeb.spawn(
        [*slow_sites, *dead_sites, *fresh_sites], generator="bench", n_hosts=n, max_seconds=3600
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    load1, load5, _ = os.getloadavg()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load1:.1f} (1 min) {load5:.1f} (5 min), "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    print(
        f"fake web: {n:,} bench origins x {per} URLs, {n_faulty} slow (3 s) + {n_faulty} dead "
        f"origins, {len(fresh)} fresh origins; all processes share the machine's cores"
    )
    try:
        urls = [f"http://{h}/page{j}.html" for h in hosts for j in range(per)]
        expect = {u: gen.expected(u.split("/")[2]) for u in urls}
        srv = ServeProc(tmp / "ledger", web.proxy_url, "--timeout", str(args.timeout)).start()
        try:
            cold = await batch_load(srv.url, urls, 1000, 4, "cold batch POST (4 x 1,000 URLs)")
            print(cold.line())
            print(f"{'  fetch outcomes (server /metrics)':<34} {await fetch_outcomes(srv.url)}")
            rng = random.Random(1)
            sample = [rng.choice(urls) for _ in range(args.requests)]

            bare = await baseline(sample, urls, web.proxy_url, None)
            print(bare.line())
            base = await baseline(sample, urls, web.proxy_url, tmp / "baseline-ledger")
            print(base.line())
            results = []
            for c in args.concurrency:
                c0 = srv.cpu_seconds()
                load = await get_load(
                    srv.url, sample, c, f"serve warm GET C={c}", expect=None, seconds=args.seconds
                )
                load.server_cpu = srv.cpu_seconds() - c0
                results.append(load)
                print(
                    load.line(),
                    f" = {base.urls / base.seconds / (load.urls / load.seconds):.1f}x"
                    " baseline time/check",
                )
            c0 = srv.cpu_seconds()
            wb = await batch_load(srv.url, sample * 2, 1000, 2, "serve warm batch POST (1,000/req)")
            wb.server_cpu = srv.cpu_seconds() - c0
            print(wb.line())
            # Correct answers, not just fast ones: every verdict as the generator expects.
            verified = [u for u in sample[:2000] if expect[u] is not None]
            check = await get_load(srv.url, verified, 16, "verify", expect=expect, agent="GPTBot")
            print(
                f"{'answers verified (GPTBot, generator)':<34} {len(verified):,} URLs, "
                f"wrong or failed: {check.errors}"
            )
        finally:
            srv.stop()

        # Head-of-line: a fresh server per fetch-slot setting (its caches start cold), warmed
        # on the fast origins, then fast checks alone and next to slow and dead origins.
        warm_urls = sample[: args.requests // 4]
        for slots in args.fetch_concurrency:
            srv = ServeProc(
                tmp / f"hol-{slots}",
                web.proxy_url,
                "--timeout",
                str(args.timeout),
                "--fetch-concurrency",
                str(slots),
            ).start()
            try:
                await batch_load(srv.url, warm_urls, 1000, 2, "warm")
                print(
                    f"head-of-line, --fetch-concurrency {slots}, --timeout {args.timeout:g} "
                    f"({n_faulty} slow + {n_faulty} dead origins checked at once):"
                )
                hol = await head_of_line(
                    srv.url,
                    warm_urls,
                    fresh,
                    [f"http://slow{i}.test/x" for i in range(n_faulty)],
                    [f"http://dead{i}.test/x" for i in range(n_faulty)],
                )
                outcomes = await fetch_outcomes(srv.url)
            finally:
                srv.stop()
            for load in hol[:4]:
                print("  " + load.line())
            print(
                f"  {'slow+dead checks themselves':<32} {hol[4]['slow_dead_checks']} checks, "
                f"p50 {hol[4]['slow_dead_p50_s']:.2f} s, max {hol[4]['slow_dead_max_s']:.2f} s"
            )
            print(f"  {'fetch outcomes (server /metrics)':<32} {outcomes}")

        # SIGKILL: what a kill -9 loses, against the flush window.
        flush = args.flush_seconds
        ledger = tmp / "kill-ledger"
        print(f"SIGKILL at a random moment, {args.rate:.0f} checks/s, --flush-seconds {flush:g}:")
        worst = 0
        for attempt in range(args.kills):
            srv = ServeProc(ledger, web.proxy_url, "--flush-seconds", str(flush)).start()
            try:
                # Warm the origins first, so the rate is the only variable.
                await batch_load(srv.url, [f"http://{h}/w" for h in hosts[:200]], 200, 1, "warm")
                kill_after = random.Random(attempt).uniform(2.0, 2.0 + 2 * flush)
                acked, run_id = await paced_until_killed(srv, hosts[:200], args.rate, kill_after)
            finally:
                srv.stop(signal.SIGKILL)
            on_disk = ledger_urls(ledger, run_id)
            lost = len(acked - on_disk)
            rate = len(acked) / kill_after  # the rate reached, not the one asked for
            worst = max(worst, lost)
            print(
                f"  kill {attempt + 1}: after {kill_after:.2f} s, acknowledged {len(acked):,}, "
                f"on disk {len(on_disk & acked):,}, lost {lost:,} = {lost / rate:.2f} s "
                f"of checks (window {flush:g} s)"
            )
        srv = ServeProc(ledger, web.proxy_url).start()
        async with aiohttp.ClientSession(srv.url) as s, s.get("/healthz") as r:
            new_run = (await r.json())["run_id"]
        srv.stop()
        from tdmscan.ledger import Ledger

        con = Ledger(ledger).connect()
        try:
            statuses = con.execute("SELECT status, count(*) FROM runs GROUP BY 1 ORDER BY 1")
            statuses = statuses.fetchall()
        finally:
            con.close()
        print(
            f"  worst loss {worst:,} rows = {worst / args.rate:.2f} s at {args.rate:.0f}/s; "
            f"restart opened run {new_run}; runs by status: {dict(statuses)}"
        )
        print(
            f"summary: warm GET best {max(r.urls / r.seconds for r in results):,.0f} checks/s "
            f"vs in-process {base.urls / base.seconds:,.0f} checks/s "
            f"(median latency in-process {statistics.median(base.latencies) * 1e6:.0f} us)"
        )
    finally:
        web.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--origins", type=int, default=2000)
    ap.add_argument("--urls-per-origin", type=int, default=5)
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=8.0, help="cap per warm GET phase")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64, 256])
    ap.add_argument("--faulty", type=int, default=150, help="slow and dead origins, each")
    ap.add_argument("--fresh", type=int, default=400, help="fresh fast origins for cold checks")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--flush-seconds", type=float, default=2.0)
    ap.add_argument("--fetch-concurrency", type=int, nargs="+", default=[100, 512], help="HOL runs")
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--kills", type=int, default=3)
    a = ap.parse_args()
    if a.quick:
        a.origins, a.requests, a.concurrency, a.faulty, a.fresh, a.kills = (
            300,
            4000,
            [16, 64],
            80,
            80,
            1,
        )
        a.timeout = 4.0
        a.seconds = 3.0
    asyncio.run(main(a))
