"""``python -m tdmscan.fakeweb``: serve a site set (and/or generated bench hosts) until killed.

Prints ``listening on http://127.0.0.1:PORT`` once ready, then nothing else on stdout (the
spawning process stops reading after that line). Stops by itself after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from . import FakeWeb, bench_generator, demo_sites_path, load_sites
from .server import DEFAULT_MAX_SECONDS


def _raise_fd_limit() -> None:
    # Benchmarks open thousands of sockets; the soft limit is often 1024.
    with contextlib.suppress(Exception):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tdmscan.fakeweb", description=__doc__)
    ap.add_argument(
        "--sites", action="append", default=[], help="site description JSON (repeatable)"
    )
    ap.add_argument("--demo", action="store_true", help="serve the bundled demo sites")
    ap.add_argument(
        "--bench-hosts",
        type=int,
        default=None,
        metavar="N",
        help="also answer s0..s(N-1).bench.test with generated files (0 = unbounded)",
    )
    ap.add_argument("--bench-domain", default="bench.test")
    ap.add_argument("--host", default="127.0.0.1", help="bind address (keep it on loopback)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS)
    args = ap.parse_args(argv)

    sites = []
    if args.demo:
        sites += load_sites(demo_sites_path())
    for path in args.sites:
        sites += load_sites(path)
    generator = None
    if args.bench_hosts is not None:
        generator = bench_generator(args.bench_hosts or None, domain=args.bench_domain)
    _raise_fd_limit()
    fw = FakeWeb(sites, generator, host=args.host, port=args.port, max_seconds=args.max_seconds)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await fw.serve(announce=True)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
