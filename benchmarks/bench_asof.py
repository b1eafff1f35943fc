"""As-of audits at scale: 1 million URLs against an index of 100,000 archived robots.txt.

Three phases, each in a fresh child process so its peak RSS (``ru_maxrss``) is its own:

* ``index``: ``tdmscan archive index`` over robots.txt WARCs holding ``--captures`` captures
  (``--origins`` origins, each captured ``captures / origins`` times, 30 days apart);
* ``asof``: ``tdmscan audit --as-of archive`` of a ``--urls`` manifest whose capture times lie
  around those captures (some inside the 24 h window before a copy, some only after one,
  some in no window), against the index;
* ``live`` (the baseline, same run): the in-process live audit of the same manifest on the
  fake web (``s<N>.bench.test`` hosts served by ``FakeWeb.spawn`` in another process,
  ``--fetch-process off``), i.e. what the same URLs cost when every origin is fetched.

Each phase checks its own result: the index holds every capture, the as-of ledger one
decision per manifest row with ``captured_at`` kept, and every as-of decision without a
copy in the window is ``unknown`` (never ``allowed``).

    python benchmarks/bench_asof.py                                # 1M URLs, 100k captures
    python benchmarks/bench_asof.py --urls 100000 --captures 10000 --origins 2000
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(days=30)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def capture_time(origin: int, k: int) -> datetime:
    return T0 + k * STEP + timedelta(seconds=(origin * 7919) % 86_400)


def make_warcs(d: Path, n_origins: int, per_origin: int, files: int = 10) -> int:
    """robots.txt response records, gzip per record (as Common Crawl's robotstxt WARCs)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from tdmscan.fakeweb import bench_generator

    gen = bench_generator(n_origins)
    n = 0
    bufs = [io.BytesIO() for _ in range(files)]
    writers = [WARCWriter(b, gzip=True) for b in bufs]
    for k in range(per_origin):
        for i in range(n_origins):
            host = gen.host(i)
            resp = gen(host, "/robots.txt")
            assert resp is not None
            body = resp.body if isinstance(resp.body, bytes) else str(resp.body).encode()
            # Every second capture of an origin says something else: the choice of copy matters.
            status = resp.status
            if k % 2 == 1 and status == 200:
                body = body + f"\nDisallow: /page/{k}\n".encode()
            http = StatusAndHeaders(
                f"{status} X", [("Content-Type", "text/plain")], protocol="HTTP/1.1"
            )
            w = writers[n % files]
            rec = w.create_warc_record(
                f"http://{host}/robots.txt",
                "response",
                payload=io.BytesIO(body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": capture_time(i, k).strftime("%Y-%m-%dT%H:%M:%SZ")},
            )
            w.write_record(rec)
            n += 1
    for j, b in enumerate(bufs):
        (d / f"robots-{j:02d}.warc.gz").write_bytes(b.getvalue())
    return n


def make_manifest(path: Path, n_urls: int, n_origins: int, per_origin: int, seed: int = 1) -> None:
    """Shuffled URLs; each capture time within 36 h either side of one of its origin's copies."""
    from tdmscan.fakeweb import bench_generator

    gen = bench_generator(n_origins)
    rnd = random.Random(seed)
    hosts = [gen.host(i) for i in range(n_origins)]
    urls, stamps = [], []
    for j in range(n_urls):
        i = rnd.randrange(n_origins)
        at = capture_time(i, rnd.randrange(per_origin)) + timedelta(
            seconds=rnd.randint(-36 * 3600, 36 * 3600)
        )
        urls.append(f"http://{hosts[i]}/page/{j}.html")
        stamps.append(at.strftime("%Y%m%d%H%M%S"))
    pq.write_table(pa.table({"url": urls, "timestamp": stamps}), path, compression="zstd")


# ----------------------------------------------------------------------------- phases


def phase_index(d: Path) -> dict[str, object]:
    from tdmscan.audit.archive import build_index

    t = time.perf_counter()
    s = build_index(sorted(d.glob("robots-*.warc.gz")), d / "index.duckdb", overwrite=True)
    return {"seconds": time.perf_counter() - t, "captures": s.captures, "skipped": s.skipped}


def _audit(d: Path, as_of: bool, concurrency: int) -> dict[str, object]:
    from tdmscan.audit import AuditConfig, AuditRunner, open_manifest
    from tdmscan.ledger import Ledger

    led = Ledger(d / ("ledger-asof" if as_of else "ledger-live"))
    kw: dict[str, object] = {}
    if as_of:
        kw = {"as_of": "archive", "archive": (str(d / "index.duckdb"),)}
    config = AuditConfig(
        agents=("GPTBot",),
        concurrency=concurrency,
        memory_limit="1GB",
        workdir=d,
        fetch_process=False,
        **kw,  # type: ignore[arg-type]
    )
    t = time.perf_counter()
    r = AuditRunner(open_manifest(d / "manifest.parquet"), led, config, resume=False).run()
    seconds = time.perf_counter() - t
    con = led.connect()
    n, n_cap, allowed_without_copy, no_copy = con.execute(
        "SELECT count(*), count(captured_at),"
        " count(*) FILTER (WHERE verdict = 'allowed' AND robots_fetched_at IS NULL"
        "                  AND list_contains(reasons, 'archive:no-capture')),"
        " count(*) FILTER (WHERE list_contains(reasons, 'archive:no-capture'))"
        " FROM decisions WHERE run_id = ?",
        [r.run_id],
    ).fetchone()
    verdicts = dict(
        con.execute(
            "SELECT verdict, count(*) FROM decisions WHERE run_id = ? GROUP BY 1", [r.run_id]
        ).fetchall()
    )
    con.close()
    return {
        "seconds": seconds,
        "decisions": n,
        "with_captured_at": n_cap,
        "no_copy_in_window": no_copy,
        "allowed_without_copy": allowed_without_copy,
        "verdicts": verdicts,
        "groups": r.plan.origins,
    }


def child(args: argparse.Namespace) -> int:
    d = Path(args.dir)
    if args.phase == "index":
        out = phase_index(d)
    else:
        out = _audit(d, args.phase == "asof", args.concurrency)
    out["peak_rss_mib"] = peak_mib()
    print(json.dumps(out))
    return 0


def run_phase(phase: str, d: Path, env: dict[str, str] | None, concurrency: int) -> dict:
    p = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--dir", str(d), "--concurrency",
         str(concurrency)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )  # fmt: skip
    if p.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--urls", type=int, default=1_000_000)
    ap.add_argument("--captures", type=int, default=100_000)
    ap.add_argument("--origins", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--skip-live", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--phase", choices=["index", "asof", "live"], help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        return child(args)

    per_origin = max(1, args.captures // args.origins)
    d = Path(tempfile.mkdtemp(prefix="bench-asof-"))
    try:
        t = time.perf_counter()
        n = make_warcs(d, args.origins, per_origin)
        make_manifest(d / "manifest.parquet", args.urls, args.origins, per_origin)
        warc_mb = sum(f.stat().st_size for f in d.glob("*.warc.gz")) / 1e6
        print(
            f"input:    {n:,} robots.txt captures of {args.origins:,} origins"
            f" ({warc_mb:.1f} MB of WARC), {args.urls:,} URLs;"
            f" generated in {time.perf_counter() - t:.1f} s"
        )
        ix = run_phase("index", d, None, args.concurrency)
        print(
            f"index:    {ix['seconds']:8.1f} s  {n / ix['seconds']:,.0f} captures/s,"
            f" peak RSS {ix['peak_rss_mib']:,.0f} MiB"
            f" ({(d / 'index.duckdb').stat().st_size / 1e6:.1f} MB index)"
        )
        ok = ix["captures"] == n
        asof = run_phase("asof", d, None, args.concurrency)
        print(
            f"as-of:    {asof['seconds']:8.1f} s  {args.urls / asof['seconds']:,.0f} URLs/s,"
            f" peak RSS {asof['peak_rss_mib']:,.0f} MiB; {asof['groups']:,} (origin, copy)"
            f" groups; verdicts {asof['verdicts']}; {asof['no_copy_in_window']:,} without a copy"
            " in the window"
        )
        ok = ok and asof["decisions"] == asof["with_captured_at"] == args.urls
        ok = ok and asof["allowed_without_copy"] == 0
        if not args.skip_live:
            from tdmscan.fakeweb import FakeWeb

            fw = FakeWeb.spawn(generator="bench", n_hosts=args.origins, max_seconds=3600)
            try:
                env = {**os.environ, **fw.proxy_env()}
                live = run_phase("live", d, env, args.concurrency)
            finally:
                fw.stop()
            print(
                f"live:     {live['seconds']:8.1f} s  {args.urls / live['seconds']:,.0f} URLs/s,"
                f" peak RSS {live['peak_rss_mib']:,.0f} MiB (baseline: in-process live audit"
                f" of the same manifest on the fake web); verdicts {live['verdicts']}"
            )
            print(
                f"ratio:    as-of / live = {asof['seconds'] / live['seconds']:.2f}x time,"
                f" {asof['peak_rss_mib'] / live['peak_rss_mib']:.2f}x peak RSS"
            )
            ok = ok and live["decisions"] == args.urls
        print("checks:   " + ("OK" if ok else "MISMATCH"))
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {d}")
        else:
            import shutil

            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
