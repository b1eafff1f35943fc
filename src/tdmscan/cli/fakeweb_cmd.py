"""``tdmscan fakeweb``: serve the demo sites, or your own site map, on loopback as an HTTP proxy.

Lets a user try every command, and their own crawler, offline: point the client's HTTP proxy
at the printed address and ask for ``http://<declared host>/...``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import signal
import threading
from pathlib import Path
from typing import Any

import click

from ._common import fail

#: A small site map in the format ``tdmscan fakeweb SITES.json`` reads (``--example``).
EXAMPLE_SITES: dict[str, Any] = {
    "sites": [
        {
            "host": "shop.test",
            "note": "robots.txt disallows /private/; tdmrep.json reserves /books/; two pages: noai",
            "routes": {
                "/robots.txt": "User-agent: *\nDisallow: /private/\n",
                "/": {
                    "body": "<html><head><title>Shop</title></head></html>",
                    "content_type": "text/html",
                },
                "/noai.html": {
                    "body": '<html><head><meta name="robots" content="noai"></head></html>',
                    "content_type": "text/html",
                },
                "/header.html": {
                    "body": "<html><head></head></html>",
                    "content_type": "text/html",
                    "headers": [["X-Robots-Tag", "noai"]],
                },
                "/.well-known/tdmrep.json": {
                    "body": '[{"location": "/books/*", "tdm-reservation": 1}]',
                    "content_type": "application/json",
                },
            },
        },
        {
            "host": "down.test",
            "note": "robots.txt answers 503: every URL is unknown (retry later)",
            "routes": {"/robots.txt": 503},
        },
    ]
}


@click.command("fakeweb")
@click.argument(
    "site_maps",
    nargs=-1,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="[SITES.json]...",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Also serve the bundled demo sites (the default when no site map is given).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free port).",
)
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Stop after this many seconds (0: run until Ctrl-C or SIGTERM).",
)
@click.option(
    "--example",
    is_flag=True,
    help="Print an example site map (JSON) and exit: a start for your own.",
)
def fakeweb(
    site_maps: tuple[Path, ...], demo: bool, port: int, max_seconds: float, example: bool
) -> None:
    """Serve the demo sites or your own site map on loopback, as an HTTP proxy, for trying the
    CLI and your crawler offline.

    Only plain http:// URLs of the declared hosts are answered (an https CONNECT is refused,
    an undeclared host gets 502). Prints the proxy address and the environment to use, then
    serves until Ctrl-C. See docs/fakeweb.md for the site map format.
    """
    from ..fakeweb import FakeWeb, demo_sites_path, load_sites

    if example:
        click.echo(json.dumps(EXAMPLE_SITES, indent=1))
        return
    sites: list[Any] = []
    if demo or not site_maps:
        sites += load_sites(demo_sites_path())
    for p in site_maps:
        try:
            sites += load_sites(p)
        except FileNotFoundError:
            raise fail(f"{p}: no such file") from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise fail(f"{p}: not a site map ({exc}); see `tdmscan fakeweb --example`") from None
    fw = FakeWeb(sites, port=port, max_seconds=max_seconds or None)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, task.cancel)
        ready = threading.Event()
        serving = loop.create_task(fw.serve(ready=ready))
        while not ready.is_set():
            if serving.done():
                serving.result()  # the bind failed: raise its error
            await asyncio.sleep(0.01)
        _announce(fw, [s.host for s in sites])
        with contextlib.suppress(asyncio.CancelledError):
            await serving

    try:
        asyncio.run(run())
    except OSError as exc:
        raise fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        pass


def _announce(fw: Any, hosts: list[str]) -> None:
    env = fw.proxy_env()
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    first = hosts[0] if hosts else "example.test"
    shown = ", ".join(hosts[:12]) + (f" (+{len(hosts) - 12} more)" if len(hosts) > 12 else "")
    lines = [
        f"listening on {fw.proxy_url} (an HTTP proxy; http:// only)",
        f"serving {len(hosts)} site(s): {shown}",
        "",
        "In another shell:",
        f"  export {exports}",
        f"  tdmscan check http://{first}/",
        f"  curl -x {fw.proxy_url} http://{first}/robots.txt",
        "",
        "Any client that honours HTTP_PROXY (httpx, aiohttp with trust_env, requests, curl, "
        "Scrapy) reaches these hosts; TDMSCAN_GUARD_EXEMPT lets tdmscan's own address guard "
        "allow them. Stop with Ctrl-C.",
    ]
    click.echo("\n".join(lines))
