"""The aiohttp application and the process around it (signals, shutdown, the ledger run)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from typing import Any

from aiohttp import web

from . import openapi as _openapi
from .routes import GATE, OPENAPI, add_routes, errors_and_metrics, make_auth
from .service import Gate, ServeConfig

#: How long a stopping server waits for requests in flight before closing their connections.
SHUTDOWN_GRACE = 10.0


def create_app(config: ServeConfig, gate: Gate | None = None) -> web.Application:
    """The application. Its startup opens the gate (Scanner + ledger run), cleanup closes it."""
    gate = gate or Gate(config)
    app = web.Application(
        middlewares=[errors_and_metrics, make_auth(config.token)],
        # Bodies are read by the handlers under their own cap (a JSON 413); this only bounds
        # what aiohttp itself would buffer.
        client_max_size=config.max_body_bytes + 1,
    )
    app[GATE] = gate
    app[OPENAPI] = _openapi.build(config.max_urls, config.max_body_bytes)
    add_routes(app)

    async def start(_app: web.Application) -> None:
        await gate.start()

    async def stop(_app: web.Application) -> None:
        await gate.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


async def serve(
    config: ServeConfig,
    *,
    ready: Callable[[str, Gate], Any] | None = None,
    stop: asyncio.Event | None = None,
) -> Gate:
    """Run until SIGTERM/SIGINT (or ``stop`` is set); the ledger run is finished on the way out.

    ``ready(url, gate)`` is called once the socket listens (``url`` has the real port when
    ``config.port`` is 0).
    """
    gate = Gate(config)
    app = create_app(config, gate)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        await runner.setup()  # runs on_startup: the ledger run is open from here on
        try:
            site = web.TCPSite(runner, config.host, config.port, shutdown_timeout=SHUTDOWN_GRACE)
            try:
                await site.start()
            except OSError as exc:
                # The run was opened by on_startup: mark it interrupted with why.
                await gate.close(error=exc)
                raise
            host, port = _bound(runner, config)
            if ready is not None:
                ready(f"http://{_url_host(host)}:{port}", gate)
            await stop.wait()
        finally:
            # Stops listening, lets requests in flight finish, then on_cleanup closes the gate:
            # buffered rows flushed, the run marked finished.
            await runner.cleanup()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    return gate


def _bound(runner: web.AppRunner, config: ServeConfig) -> tuple[str, int]:
    for addr in runner.addresses:
        if isinstance(addr, tuple) and len(addr) >= 2:
            return str(addr[0]), int(addr[1])
    return config.host, config.port


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
