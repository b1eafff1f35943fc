"""fetch/ units through httpx.MockTransport: statuses, redirects, caps, deadline, guard, cache."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import ipaddress
import re
import socket
import time
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import istr

from tdmscan.fakeweb import Resp, Site
from tdmscan.fetch import (
    CrawlDelayGate,
    FetchLimits,
    OriginCache,
    fetch_site_files,
    is_public_address,
    keep_stale_robots,
    make_fetcher,
    proxy_for,
)
from tdmscan.fetch.aiohttp_fetcher import AiohttpFetcher, _Deadlines, _Gate, _Slots
from tdmscan.fetch.base import Hop, _fetched, _route_prefix, _Trail, origin_key
from tdmscan.fetch.body import BodyReader
from tdmscan.fetch.guard import ip_literal
from tdmscan.types import Fetched, SiteFiles

pytestmark = pytest.mark.anyio

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_env_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


class _Stream(httpx.AsyncByteStream):
    """A streamed body, so httpx does not read and decode it inside the mock."""

    def __init__(self, chunks):
        self._chunks = chunks

    async def __aiter__(self):
        for c in self._chunks:
            yield c


def mock(handler, **limits):
    return make_fetcher(transport=httpx.MockTransport(handler), limits=FetchLimits(**limits))


def bomb(decoded_size: int) -> bytes:
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * MiB
    parts = [co.compress(block) for _ in range(decoded_size // MiB)]
    return b"".join(parts) + co.flush()


# ------------------------------------------------------------------------- statuses & redirects


@pytest.mark.parametrize("status", [200, 204, 401, 403, 404, 410, 429, 500, 503])
async def test_status_is_returned_as_fetched(status):
    async with mock(lambda r: httpx.Response(status, text="x")) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=100)
    assert got.status == status and got.error is None
    assert got.url == got.final_url == "http://a.test/robots.txt"
    assert got.unreachable == (status in (429, 500, 503))
    assert got.fetched_at is not None and got.fetched_at.tzinfo is not None
    assert got.elapsed is not None and got.elapsed >= 0


def _chain_handler(hops: int, across_hosts: bool = True):
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("n", "0"))
        if n < hops:
            host = f"h{n + 1}.test" if across_hosts else request.url.host
            return httpx.Response(301, headers={"Location": f"http://{host}/robots.txt?n={n + 1}"})
        return httpx.Response(200, text="User-agent: *\nDisallow: /\n")

    return handler


async def test_five_redirects_are_followed_and_recorded():
    async with mock(_chain_handler(5)) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=1000)
    assert got.status == 200 and got.error is None
    assert got.final_url == "http://h5.test/robots.txt?n=5"
    assert len(got.redirects) == 5 and got.redirects[0] == "http://a.test/robots.txt"
    assert f.requests == 6


async def test_six_redirects_is_too_many():
    async with mock(_chain_handler(6)) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=1000)
    assert got.error == "too-many-redirects"
    assert got.status == 301 and not got.ok and not got.unreachable
    assert f.requests == 6


async def test_a_body_shorter_than_its_content_length_is_a_failed_fetch():
    class Short(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield b"User-agent: *\n"

    def handler(request):
        return httpx.Response(200, headers={"Content-Length": "100"}, stream=Short())

    async with mock(handler) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=1000)
    assert got.error == "short-body" and got.status == 200 and got.unreachable


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_short_body_from_a_real_socket_is_unreachable_for_both_fetchers(kind):
    """A server that declares 100 bytes, sends a robots.txt prefix and closes: whichever of
    the client library or the reader notices, the fetch failed and the policy says unknown."""
    from tdmscan.policy import evaluate

    wire = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nUser-agent: *\nAllow: /\n"

    async def handle(stream):
        async with stream:
            try:
                await stream.receive()
                await stream.send(wire)
            except Exception:
                pass

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        f = make_fetcher(kind, allow_private=True)
        got = await f.get(f"http://127.0.0.1:{port}/robots.txt", max_bytes=1000)
        await f.aclose()
        tg.cancel_scope.cancel()
    await listener.aclose()
    assert got.status == 200 and got.error in ("reset", "short-body") and got.unreachable
    assert evaluate("http://a.test/x", agent="MyBot", robots_txt=got).verdict == "unknown"


async def test_redirect_loop_stops_at_the_first_repeat():
    def handler(request):
        nxt = "/b" if request.url.path == "/robots.txt" else "/robots.txt"
        return httpx.Response(302, headers={"Location": nxt})

    async with mock(handler) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=1000)
    assert got.error == "redirect-loop" and got.status == 302
    assert not got.ok and not got.unreachable
    assert f.requests == 2 and got.redirects == ("http://a.test/robots.txt", "http://a.test/b")


async def test_max_redirects_is_configurable():
    async with mock(_chain_handler(2), max_redirects=1) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=1000)
    assert got.error == "too-many-redirects"


async def test_relative_redirect_and_non_http_redirect():
    def handler(request):
        if request.url.path == "/robots.txt":
            return httpx.Response(302, headers={"Location": "/real/robots.txt"})
        if request.url.path == "/real/robots.txt":
            return httpx.Response(200, text="ok")
        return httpx.Response(404)

    async with mock(handler) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=100)
        assert got.body == b"ok" and got.final_url == "http://a.test/real/robots.txt"
    async with mock(lambda r: httpx.Response(301, headers={"Location": "ftp://x/"})) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=100)
        assert got.error == "bad-redirect"


async def test_request_headers():
    seen = {}

    def handler(request):
        seen.update(request.headers)
        return httpx.Response(200)

    ua = FetchLimits.user_agent_for("MyBot", "https://example.org/bot")
    async with mock(handler, user_agent=ua) as f:
        await f.get("http://a.test/robots.txt", max_bytes=100)
    assert (
        seen["user-agent"].startswith("MyBot/") and "https://example.org/bot" in seen["user-agent"]
    )
    assert seen["accept-encoding"] == "gzip, deflate"


# ------------------------------------------------------------------------- caps and decoding


async def test_byte_cap_truncates():
    body = b"a" * (3 * MiB)
    async with mock(
        lambda r: httpx.Response(
            200, stream=_Stream([body[i : i + 65536] for i in range(0, len(body), 65536)])
        )
    ) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=MiB)
    assert got.truncated and len(got.body) == MiB and got.status == 200 and got.error is None


async def test_gzip_bomb_is_cut_off_at_the_decoded_cap():
    raw = bomb(256 * MiB)  # ~250 KiB on the wire
    assert len(raw) < MiB
    chunks = [raw[i : i + 65536] for i in range(0, len(raw), 65536)]
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/plain"}
    async with mock(lambda r: httpx.Response(200, headers=headers, stream=_Stream(chunks))) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=MiB)
    assert got.truncated and len(got.body) <= MiB
    assert got.body[:10] == b"\0" * 10


def test_body_reader_bounds_every_inflate_step():
    raw = bomb(64 * MiB)
    reader = BodyReader(max_bytes=100 * KiB, content_encoding="gzip")
    # The whole bomb in one chunk: a naive decompress() would return 64 MiB here.
    assert reader.feed(raw) is True
    assert reader.truncated and len(reader.body) == 100 * KiB


def test_body_reader_decodes_gzip_members_deflate_and_raw_deflate():
    text = b"User-agent: *\nDisallow: /x\n" * 10
    r = BodyReader(max_bytes=MiB, content_encoding="gzip")
    r.feed(gzip.compress(text) + gzip.compress(text))
    assert r.body == text + text and not r.truncated
    r = BodyReader(max_bytes=MiB, content_encoding="deflate")
    r.feed(zlib.compress(text))
    assert r.body == text
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    r = BodyReader(max_bytes=MiB, content_encoding="deflate")
    r.feed(co.compress(text) + co.flush())
    assert r.body == text


async def test_gzip_robots_is_decoded():
    text = b"User-agent: *\nDisallow: /private/\n"
    headers = {"Content-Encoding": "gzip"}
    async with mock(
        lambda r: httpx.Response(200, headers=headers, stream=_Stream([gzip.compress(text)]))
    ) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=MiB)
    assert got.body == text and not got.truncated


async def test_unsupported_content_encoding_is_an_error():
    async with mock(
        lambda r: httpx.Response(200, headers={"Content-Encoding": "br"}, stream=_Stream([b"xx"]))
    ) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=MiB)
    assert got.status == 200 and got.error == "content-encoding" and got.unreachable


async def test_stop_at_head():
    head = b"<html><head><title>t</title><meta name=robots content=noai></head>"
    rest = [b"<body>" + b"x" * 65536 for _ in range(50)]
    calls = {"chunks": 0}

    class Counting(_Stream):
        async def __aiter__(self):
            for c in self._chunks:
                calls["chunks"] += 1
                yield c

    headers = {"Content-Type": "text/html"}
    async with mock(
        lambda r: httpx.Response(200, headers=headers, stream=Counting([head, *rest]))
    ) as f:
        got = await f.get("http://a.test/page", max_bytes=512 * KiB, stop_at_head=True)
    assert got.body.startswith(head) and len(got.body) <= len(head)
    assert calls["chunks"] == 1
    # A marker split across two chunks is still seen.
    async with mock(
        lambda r: httpx.Response(
            200, headers=headers, stream=Counting([b"<head></he", b"ad>", *rest])
        )
    ) as f:
        got = await f.get("http://a.test/page", max_bytes=512 * KiB, stop_at_head=True)
    assert got.body == b"<head></head>"


async def test_stop_at_head_ignores_non_html():
    body = b"</head>" + b"x" * 1000
    headers = {"Content-Type": "application/json"}
    async with mock(
        lambda r: httpx.Response(200, headers=headers, stream=_Stream([body[:10], body[10:]]))
    ) as f:
        got = await f.get("http://a.test/x", max_bytes=MiB, stop_at_head=True)
    assert got.body == body


# ------------------------------------------------------------------------- deadline and errors


async def test_deadline_turns_a_stalled_server_into_timeout():
    async def handler(request):
        await anyio.sleep(30)
        return httpx.Response(200)

    start = time.monotonic()
    async with mock(handler, total_timeout=0.3) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=100)
    assert got.error == "timeout" and got.status is None and got.unreachable
    assert time.monotonic() - start < 2.0


async def test_deadline_covers_a_dripping_body():
    class Drip(httpx.AsyncByteStream):
        async def __aiter__(self):
            while True:
                await anyio.sleep(0.05)
                yield b"x"

    async with mock(lambda r: httpx.Response(200, stream=Drip()), total_timeout=0.3) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=MiB)
    assert got.error == "timeout"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (httpx.ConnectTimeout("t"), "timeout"),
        (httpx.ReadTimeout("t"), "timeout"),
        (httpx.ConnectError("refused"), "connect"),
        (httpx.ReadError("reset"), "reset"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "reset"),
    ],
)
async def test_transport_errors_map_to_codes(exc, code):
    def handler(request):
        raise exc

    async with mock(handler) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=100)
    assert got.status is None and got.error == code and got.unreachable


async def test_reset_mid_body_keeps_status_and_is_unreachable():
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield b"User-agent: *\n"
            raise httpx.ReadError("connection reset")

    async with mock(lambda r: httpx.Response(200, stream=Broken())) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=MiB)
    assert got.status == 200 and got.error == "reset" and got.unreachable and not got.ok


# ------------------------------------------------------------------------- address guard


@pytest.mark.parametrize(
    "addr",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "239.1.2.3",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "2002:a00:1::1",
    ],
)
def test_non_public_addresses(addr):
    assert not is_public_address(addr)
    assert not is_public_address(ipaddress.ip_address(addr))


@pytest.mark.parametrize(
    "addr", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"]
)
def test_public_addresses(addr):
    assert is_public_address(addr)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/robots.txt",
        "http://10.0.0.7:8080/robots.txt",
        "http://[::1]/robots.txt",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
        "http://[::ffff:192.168.0.1]/",
    ],
)
async def test_ip_literal_targets_are_refused(url):
    called = []
    async with mock(lambda r: called.append(r) or httpx.Response(200)) as f:
        got = await f.get(url, max_bytes=100)
    assert got.error == "refused-address" and got.status is None and not called
    assert got.unreachable


async def test_redirect_to_private_address_is_refused():
    def handler(request):
        return httpx.Response(301, headers={"Location": "http://192.168.0.1/robots.txt"})

    async with mock(handler) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=100)
    assert got.error == "refused-address"
    assert got.redirects == ("http://a.test/robots.txt",)


async def test_allow_private():
    f = make_fetcher(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, text="ok")), allow_private=True
    )
    async with f:
        got = await f.get("http://127.0.0.1/robots.txt", max_bytes=100)
    assert got.status == 200 and got.body == b"ok"


@pytest.mark.parametrize("var", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_guard_holds_when_a_proxy_applies(monkeypatch, var):
    """A proxy inside a private network reaches private addresses: literals stay refused."""
    monkeypatch.setenv(var, "http://proxy.example:3128")
    assert proxy_for("http://10.0.0.1/robots.txt") == "http://proxy.example:3128"
    called = []
    async with mock(lambda r: called.append(r) or httpx.Response(200, text="ok")) as f:
        got = await f.get("http://10.0.0.1/robots.txt", max_bytes=100)
    assert got.error == "refused-address" and not called


async def test_no_proxy_restores_the_guard(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "10.0.0.1,.internal")
    assert proxy_for("http://10.0.0.1/") is None
    assert proxy_for("http://x.internal/") is None
    assert proxy_for("https://10.0.0.2/") is None  # only HTTP_PROXY set
    async with mock(lambda r: httpx.Response(200)) as f:
        got = await f.get("http://10.0.0.1/robots.txt", max_bytes=100)
    assert got.error == "refused-address"


class _Server:
    """A loopback HTTP/1.1 server answering 200 to anything (for the real-network guard)."""

    async def __aenter__(self):
        async def handle(stream):
            async with stream:
                try:
                    await stream.receive()
                    await stream.send(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                    )
                except Exception:
                    pass

        self.listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        self.port = self.listener.extra(anyio.abc.SocketAttribute.local_port)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self.listener.serve, handle)
        return self

    async def __aexit__(self, *exc):
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(None, None, None)
        await self.listener.aclose()


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_guard_checks_resolved_addresses(kind):
    """``localhost`` is a name, not a literal: the guard must act after resolution."""
    async with _Server() as srv:
        url = f"http://localhost:{srv.port}/robots.txt"
        async with make_fetcher(kind) as f:
            got = await f.get(url, max_bytes=100)
        assert got.error == "refused-address", got
        async with make_fetcher(kind, allow_private=True) as f:
            got = await f.get(url, max_bytes=100)
        assert got.status == 200 and got.body == b"ok"


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_guard_rebinding(kind, monkeypatch):
    """A name that resolves to a private address at connect time is refused (no name check)."""
    real = socket.getaddrinfo

    def fake(host, *a, **k):
        if host in ("rebind.test", b"rebind.test"):
            host = "127.0.0.1"
        return real(host, *a, **k)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    async with make_fetcher(kind) as f:
        got = await f.get("http://rebind.test:9/robots.txt", max_bytes=100)
    assert got.error == "refused-address"


@pytest.mark.parametrize("kind", ["httpx", "aiohttp"])
async def test_dns_failure(kind):
    async with make_fetcher(kind, limits=FetchLimits(total_timeout=5)) as f:
        got = await f.get("http://no-such-host.invalid/robots.txt", max_bytes=100)
    assert got.error in ("dns", "timeout") and got.unreachable


# ------------------------------------------------------------------------- site files


async def test_fetch_site_files_fetches_three_paths_with_caps():
    seen = []

    def handler(request):
        seen.append(request.url.path)
        return httpx.Response(
            200 if request.url.path == "/robots.txt" else 404, stream=_Stream([b"y" * (2 * MiB)])
        )

    limits = FetchLimits(robots_max_bytes=600 * KiB, file_max_bytes=10 * KiB)
    async with make_fetcher(transport=httpx.MockTransport(handler), limits=limits) as f:
        files = await fetch_site_files(f, "http://a.test")
    assert sorted(seen) == ["/.well-known/tdmrep.json", "/ai.txt", "/robots.txt"]
    assert files.origin == "http://a.test"
    assert len(files.robots.body) == 600 * KiB and files.robots.truncated
    assert len(files.tdmrep.body) == 10 * KiB and files.tdmrep.status == 404
    assert files.ai_txt.status == 404


def test_robots_cap_never_below_500_kib():
    with pytest.raises(ValueError):
        FetchLimits(robots_max_bytes=100 * KiB)
    FetchLimits(robots_max_bytes=500 * KiB)


async def test_per_origin_concurrency_limit():
    active = {"now": 0, "max": 0}

    async def handler(request):
        active["now"] += 1
        active["max"] = max(active["max"], active["now"])
        await anyio.sleep(0.02)
        active["now"] -= 1
        return httpx.Response(200)

    async with mock(handler, per_origin_concurrency=2) as f, anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(lambda i=i: f.get(f"http://a.test/{i}", max_bytes=10))
    assert active["max"] == 2
    assert len(f._per_origin) == 0  # no table growth once idle


# ------------------------------------------------------------------------- origin cache


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


async def test_cache_ttl():
    clock = Clock()
    cache: OriginCache[int] = OriginCache(ttl=100, clock=clock)
    calls = []

    async def loader(prev):
        calls.append(prev)
        return len(calls)

    assert await cache.get("http://a.test", loader) == 1
    clock.t += 99
    assert await cache.get("http://a.test", loader) == 1
    clock.t += 2
    assert await cache.get("http://a.test", loader) == 2
    assert calls == [None, 1]  # the expired value is handed to the loader
    assert cache.stats.hits == 1 and cache.stats.misses == 2


async def test_cache_lru_bound():
    cache: OriginCache[str] = OriginCache(max_size=100)

    async def loader(prev):
        return "v"

    for i in range(1000):
        await cache.get(f"http://s{i}.test", loader)
        if i == 50:
            await cache.get("http://s0.test", loader)  # keep s0 recent
    assert len(cache) == 100
    assert cache.stats.evictions == 900
    assert "http://s999.test" in cache and "http://s1.test" not in cache


async def test_single_flight_1000_concurrent_gets():
    cache: OriginCache[str] = OriginCache()
    calls = 0

    async def loader(prev):
        nonlocal calls
        calls += 1
        await anyio.sleep(0.05)
        return "signals"

    results = []

    async def one():
        results.append(await cache.get("http://a.test", loader))

    async with anyio.create_task_group() as tg:
        for _ in range(1000):
            tg.start_soon(one)
    assert calls == 1 and results == ["signals"] * 1000
    assert cache.stats.coalesced == 999


async def test_single_flight_failure_is_not_cached_and_waiters_retry():
    cache: OriginCache[str] = OriginCache()
    calls = 0

    async def loader(prev):
        nonlocal calls
        calls += 1
        await anyio.sleep(0.01)
        if calls == 1:
            raise RuntimeError("boom")
        return "ok"

    outcomes = []

    async def one():
        try:
            outcomes.append(await cache.get("k", loader))
        except RuntimeError:
            outcomes.append("error")

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
    assert outcomes.count("error") == 1 and outcomes.count("ok") == 9 and calls == 2


async def test_single_flight_leader_cancelled():
    cache: OriginCache[str] = OriginCache()
    started = anyio.Event()
    scopes = []

    async def slow(prev):
        started.set()
        await anyio.sleep(10)
        return "never"

    async def fast(prev):
        return "fast"

    async def leader():
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            await cache.get("k", slow)

    result = []

    async def waiter():
        result.append(await cache.get("k", fast))

    async with anyio.create_task_group() as tg:
        tg.start_soon(leader)
        await started.wait()
        tg.start_soon(waiter)
        await anyio.sleep(0.01)
        scopes[0].cancel()
    assert result == ["fast"]


def _robots(status=200, at=None, **kw):
    return Fetched(status=status, body=b"User-agent: *\nDisallow: /\n", fetched_at=at, **kw)


def test_stale_copy_rules():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    good = SiteFiles("http://a.test", robots=_robots(200, t0))
    down = SiteFiles("http://a.test", robots=Fetched(status=503, fetched_at=t0 + timedelta(days=2)))
    kept = keep_stale_robots(down, good, now=t0 + timedelta(days=2))
    assert kept.robots.stale and kept.robots.status == 200 and kept.robots.fetched_at == t0
    assert kept.robots.body == good.robots.body
    # Beyond the limit: no stale copy.
    assert keep_stale_robots(down, good, now=t0 + timedelta(days=31)) is down
    assert keep_stale_robots(down, good, now=t0 + timedelta(days=3), stale_limit=86400) is down
    # The age counts from the original fetch, even through an earlier stale copy.
    again = keep_stale_robots(down, kept, now=t0 + timedelta(days=20))
    assert again.robots.stale and again.robots.fetched_at == t0
    assert keep_stale_robots(down, kept, now=t0 + timedelta(days=30, seconds=1)) is down
    # Only an unreachable fetch falls back; 404 is an answer; a 404 is never kept as a copy.
    gone = SiteFiles("http://a.test", robots=Fetched(status=404))
    assert keep_stale_robots(gone, good, now=t0) is gone
    nf = SiteFiles("http://a.test", robots=Fetched(status=404, fetched_at=t0))
    assert keep_stale_robots(down, nf, now=t0) is down
    timeout = SiteFiles("http://a.test", robots=Fetched(error="timeout"))
    assert keep_stale_robots(timeout, good, now=t0).robots.stale


async def test_cache_with_stale_copy_through_the_loader():
    """The scanner's pattern: expired value in, stale robots carried forward on failure."""
    clock = Clock()
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    cache: OriginCache[SiteFiles] = OriginCache(ttl=86400, clock=clock)
    answers = iter([_robots(200, now[0]), Fetched(status=503)])

    async def loader(prev):
        new = SiteFiles("http://a.test", robots=next(answers))
        return keep_stale_robots(new, prev, now=now[0])

    first = await cache.get("http://a.test", loader)
    assert not first.robots.stale
    clock.t += 86401
    now[0] += timedelta(days=1, seconds=1)
    second = await cache.get("http://a.test", loader)
    assert second.robots.stale and second.robots.status == 200


# ------------------------------------------------------------------------- crawl delay


def test_crawl_delay_gate_books_slots_and_caps():
    clock = Clock(0.0)
    gate = CrawlDelayGate(max_delay=5.0, clock=clock)
    assert gate.reserve("http://a.test", None) == 0
    assert gate.reserve("http://a.test", 2) == 0
    assert gate.reserve("http://a.test", 2) == 2
    assert gate.reserve("http://a.test", 2) == 4
    assert gate.reserve("http://b.test", 2) == 0  # per origin
    assert gate.reserve("http://c.test", 100) == 0 and gate.reserve("http://c.test", 100) == 5
    assert gate.clamped == 2
    clock.t = 100
    assert gate.reserve("http://a.test", 2) == 0


# ------------------------------------------------------------------------- aiohttp internals
# AiohttpFetcher.get runs on its own asyncio primitives (one shared deadline timer, synchronous
# slots) instead of the base class's anyio ones; these pin the same rules down for it.


def _proxied(fakeweb, monkeypatch, sites):
    fw = fakeweb(sites)
    monkeypatch.setenv("HTTP_PROXY", fw.proxy_url)
    return fw


def _idle(f: AiohttpFetcher) -> bool:
    """No deadline, origin entry or global slot left behind."""
    return (
        len(f._deadlines) == 0
        and len(f._slots) == 0
        and f._slots._global.free == f.limits.global_concurrency
    )


async def test_aiohttp_deadline_keeps_the_redirect_trail(fakeweb, monkeypatch):
    _proxied(
        fakeweb,
        monkeypatch,
        [
            Site("a.test", {"/robots.txt": Resp(301, location="http://b.test/robots.txt")}),
            Site("b.test", {"/robots.txt": Resp(hang=True), "/ok": Resp(body="fine")}),
        ],
    )
    start = time.monotonic()
    async with AiohttpFetcher(limits=FetchLimits(total_timeout=0.3)) as f:
        got = await f.get("http://a.test/robots.txt", max_bytes=100)
        assert got.error == "timeout" and got.status is None and got.unreachable
        assert got.redirects == ("http://a.test/robots.txt",)
        assert got.final_url == "http://b.test/robots.txt"
        assert f.requests == 2
        # The deadline's cancellation was taken back: the task carries on undisturbed.
        assert asyncio.current_task().cancelling() == 0
        await asyncio.sleep(0.01)
        assert _idle(f)
        again = await f.get("http://b.test/ok", max_bytes=100)
        assert again.ok and again.body == b"fine"
    assert time.monotonic() - start < 2.0


async def test_aiohttp_deadline_covers_a_dripping_body(fakeweb, monkeypatch):
    _proxied(fakeweb, monkeypatch, [Site("a.test", {"/": Resp(body=b"x" * 100_000, drip=2000)})])
    async with AiohttpFetcher(limits=FetchLimits(total_timeout=0.3)) as f:
        got = await f.get("http://a.test/", max_bytes=MiB)
        assert got.error == "timeout" and _idle(f)


async def test_aiohttp_cancelling_the_caller_propagates(fakeweb, monkeypatch):
    _proxied(fakeweb, monkeypatch, [Site("a.test", {"/robots.txt": Resp(hang=True)})])
    async with AiohttpFetcher(limits=FetchLimits(total_timeout=5)) as f:
        task = asyncio.create_task(f.get("http://a.test/robots.txt", max_bytes=100))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert _idle(f)


async def test_aiohttp_outer_deadline_is_not_the_fetchers(fakeweb, monkeypatch):
    """A shorter deadline around ``get`` fires as the caller's, never as ``error="timeout"``."""
    _proxied(fakeweb, monkeypatch, [Site("a.test", {"/robots.txt": Resp(hang=True)})])
    async with AiohttpFetcher(limits=FetchLimits(total_timeout=5)) as f:
        got = None
        with anyio.move_on_after(0.2) as scope:
            got = await f.get("http://a.test/robots.txt", max_bytes=100)
        assert scope.cancelled_caught and got is None
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await f.get("http://a.test/robots.txt", max_bytes=100)
        assert _idle(f)


async def test_aiohttp_reads_whole_bodies_caps_and_decodes(fakeweb, monkeypatch):
    big = bytes(range(256)) * 1200  # 300 KiB: several reads
    _proxied(
        fakeweb,
        monkeypatch,
        [
            Site(
                "a.test",
                {
                    "/big": Resp(body=big),
                    "/gz": Resp(body="User-agent: *\nDisallow: /\n", gzip=True),
                    "/two": Resp(headers=[("X-Robots-Tag", "noai"), ("X-Robots-Tag", "noimageai")]),
                },
            )
        ],
    )
    async with AiohttpFetcher() as f:
        got = await f.get("http://a.test/big", max_bytes=MiB)
        assert got.body == big and not got.truncated
        assert got.sha256 == Fetched(body=big).sha256
        capped = await f.get("http://a.test/big", max_bytes=1000)
        assert capped.body == big[:1000] and capped.truncated
        gz = await f.get("http://a.test/gz", max_bytes=1000)
        assert gz.body == b"User-agent: *\nDisallow: /\n"
        assert all(type(k) is str and type(v) is str for k, v in gz.headers)
        assert gz.header("content-encoding") == "gzip"
        two = await f.get("http://a.test/two", max_bytes=1000)
        assert two.header_values("x-robots-tag") == ["noai", "noimageai"]


class _FakeHops(AiohttpFetcher):
    """``get`` with the network replaced: each hop holds for ``hold`` seconds (or until
    cancelled) and answers 200, recording how many hops ran at once per origin and overall."""

    def __init__(self, hold: float = 0.02, **kw):
        super().__init__(**kw)
        self.hold = hold
        self.active: dict[str, int] = {}
        self.peak: dict[str, int] = {}

    def _count(self, key: str, step: int) -> None:
        self.active[key] = self.active.get(key, 0) + step
        self.peak[key] = max(self.peak.get(key, 0), self.active[key])

    async def _hop(self, url, *, max_bytes, stop_at_head, proxy):
        key = origin_key(url)
        self._count(key, 1)
        self._count("*", 1)
        try:
            await asyncio.sleep(self.hold)
        finally:
            self._count(key, -1)
            self._count("*", -1)
        return Hop(200, (("Content-Type", "text/plain"),), b"ok")


async def test_aiohttp_slots_per_origin_and_global():
    f = _FakeHops(limits=FetchLimits(per_origin_concurrency=2, global_concurrency=3))
    urls = [f"http://{h}.test/{i}" for h in ("a", "b", "c") for i in range(6)]
    got = await asyncio.gather(*(f.get(u, max_bytes=10) for u in urls))
    assert all(g.ok for g in got)
    assert f.peak["*"] == 3
    assert max(v for k, v in f.peak.items() if k != "*") == 2
    assert _idle(f)


async def test_aiohttp_slots_survive_cancelled_waiters():
    f = _FakeHops(hold=0.05, limits=FetchLimits(per_origin_concurrency=1, global_concurrency=2))
    urls = [f"http://a.test/{i}" for i in range(6)]  # 0 runs, 1-5 wait for the origin
    urls += [f"http://b.test/{i}" for i in range(3)]  # 6 runs (global now full), 7-8 wait
    urls += [f"http://c.test/{i}" for i in range(2)]  # 9 waits for a global slot, 10 for c's
    tasks = [asyncio.create_task(f.get(u, max_bytes=10)) for u in urls]
    await asyncio.sleep(0.01)
    assert f._slots._global.free == 0 and len(f._slots._global.waiters) == 1
    cancelled = (1, 3, 7, 9)
    for i in cancelled:
        tasks[i].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for i, r in enumerate(results):
        if i in cancelled:
            assert isinstance(r, asyncio.CancelledError)
        else:
            assert r.ok
    assert f.peak["http://a.test"] == 1 and f.peak["http://c.test"] == 1 and f.peak["*"] == 2
    assert _idle(f)


def test_slots_accounting():
    slots = _Slots(2, 3)
    a1, a2 = slots.take("a"), slots.take("a")
    assert a1 is a2 and slots.take("a") is None  # origin full
    b1 = slots.take("b")
    assert b1 is not None and slots.take("c") is None  # global full
    slots.release("a", a1)
    assert slots.take("a") is a2  # the origin's slot and a global one came back
    slots.release("a", a2)
    slots.release("a", a2)
    slots.release("b", b1)
    assert len(slots) == 0 and slots._global.free == 3
    c = slots.take("c")
    assert c is not None and c.free == 1 and c.users == 1


async def test_gate_passes_on_a_slot_given_to_a_cancelled_waiter():
    gate = _Gate(0)
    first = asyncio.create_task(gate.wait())
    second = asyncio.create_task(gate.wait())
    await asyncio.sleep(0)
    gate.give()  # hands the slot to ``first``...
    first.cancel()  # ...which is cancelled before it runs: ``second`` must get the slot
    with pytest.raises(asyncio.CancelledError):
        await first
    await asyncio.wait_for(second, 1)
    gate.give()
    assert gate.free == 1 and not gate.waiters


async def test_aiohttp_fake_hops_time_out_and_follow_slots():
    f = _FakeHops(hold=10, limits=FetchLimits(total_timeout=0.1, per_origin_concurrency=1))
    start = time.monotonic()
    got = await asyncio.gather(*(f.get(f"http://a.test/{i}", max_bytes=10) for i in range(3)))
    # One at a time, each with its own deadline counted from when it got its slots.
    assert [g.error for g in got] == ["timeout"] * 3
    assert 0.28 <= time.monotonic() - start < 2.0
    assert all(0.09 <= g.elapsed < 1.0 for g in got)
    assert _idle(f)


async def test_deadlines_expire_in_order_and_rearm():
    deadlines = _Deadlines(0.1)
    loop = asyncio.get_running_loop()

    async def body(hold: float):
        d = deadlines.enter()
        start = loop.time()
        try:
            await asyncio.sleep(hold)
        except asyncio.CancelledError:
            assert deadlines.leave(d)
            await asyncio.sleep(0)  # no leftover cancellation
            return "timeout", loop.time() - start, asyncio.current_task().cancelling()
        assert not deadlines.leave(d)
        return "done", loop.time() - start, asyncio.current_task().cancelling()

    quick = asyncio.create_task(body(0.01))
    await asyncio.sleep(0.05)
    slow = asyncio.create_task(body(10))
    assert await quick == ("done", pytest.approx(0.01, abs=0.05), 0)
    status, took, cancelling = await slow
    assert status == "timeout" and 0.1 <= took + 0.005 < 0.5 and cancelling == 0
    assert len(deadlines) == 0
    later = asyncio.create_task(body(10))  # the queue ran empty: a new entry arms a new timer
    status, took, _ = await later
    assert status == "timeout" and took < 0.5
    deadlines.close()


@pytest.mark.parametrize("outer_first", [True, False])
async def test_deadline_and_outer_cancel_at_once_is_a_cancellation(outer_first):
    """Both before the task runs again, in either order: the outer cancellation wins."""
    deadlines = _Deadlines(10)
    entered = asyncio.Event()

    async def body():
        d = deadlines.enter()
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if not deadlines.leave(d):
                raise
            return "timeout"

    task = asyncio.create_task(body())
    await entered.wait()

    def expire_now():
        for d in deadlines._queue:
            d.when = 0.0
        deadlines._expire()

    first, second = (task.cancel, expire_now) if outer_first else (expire_now, task.cancel)
    first()
    second()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(deadlines) == 0
    deadlines.close()


async def test_deadline_alone_is_a_timeout():
    deadlines = _Deadlines(10)
    entered = asyncio.Event()

    async def body():
        d = deadlines.enter()
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if not deadlines.leave(d):
                raise
            await asyncio.sleep(0)
            return "timeout", asyncio.current_task().cancelling()

    task = asyncio.create_task(body())
    await entered.wait()
    for d in deadlines._queue:
        d.when = 0.0
    deadlines._expire()
    assert await task == ("timeout", 0)
    deadlines.close()


def _reference_fetched(status, headers, body, error, trail, fetched_at, elapsed, truncated):
    return Fetched(
        status=status,
        headers=headers,
        body=body,
        error=error,
        url=trail.url,
        final_url=trail.current,
        redirects=tuple(trail.redirects),
        fetched_at=fetched_at,
        elapsed=elapsed,
        truncated=truncated,
    )


@pytest.mark.parametrize(
    "headers",
    [
        (),
        (("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")),
        ((istr("Content-Type"), "text/plain"), (istr("X-Robots-Tag"), "noai")),
        ((b"Content-Type", b"text/plain"), ("X", "y")),
        [("Content-Type", "text/plain")],
        {"Content-Type": "text/plain"},
        (("a", "b", "c"), ("Content-Type", "text/plain")),
        ((1, 2),),
    ],
)
@pytest.mark.parametrize("body", [b"", b"User-agent: *\n", bytearray(b"xy"), "text"])
def test_fetched_fast_construction_equals_the_constructor(headers, body):
    trail = _Trail("http://a.test/robots.txt", "http://b.test/robots.txt")
    trail.redirects.append("http://a.test/robots.txt")
    args = (200, headers, body, None, trail, datetime.now(UTC), 0.25, True)
    fast, ref = _fetched(*args), _reference_fetched(*args)
    assert type(fast) is Fetched
    for name in (f.name for f in dataclasses.fields(Fetched)):
        a, b = getattr(fast, name), getattr(ref, name)
        assert a == b and type(a) is type(b), name
    assert [tuple(map(type, h)) for h in fast.headers] == [tuple(map(type, h)) for h in ref.headers]
    assert _fetched(None, (), b"", "timeout", trail, None, 1.0, False) == _reference_fetched(
        None, (), b"", "timeout", trail, None, 1.0, False
    )


def _reference_route(url: str, proxies: dict[str, str]):
    host = urlsplit(url).hostname or ""
    ip = ip_literal(host)
    return (
        origin_key(url),
        proxy_for(url, proxies),
        ip is not None and not is_public_address(ip),
        host,
        False,
    )


_ROUTE_URLS = [
    "http://a.test/robots.txt",
    "http://A.Test/ai.txt",
    "https://a.test:8443/x?y#z",
    "http://a.test?q=/x",
    "http://a.test#frag/x",
    "http://user:pw@a.test/x",
    "http://10.0.0.1/robots.txt",
    "http://10.0.0.1:8080/robots.txt",
    "http://[::1]/robots.txt",
    "http://[fe80::1%25eth0]/",
    "http://8.8.8.8/x",
    "http://s1.bench.test/.well-known/tdmrep.json",
    "http://a.te\tst/x",
    "http:///x",
    "HTTP://a.test/x",
    "ftp://a.test/x",
    "http://a.test",
    "http://internal.corp/x",
    "http://x.internal:81/y",
]


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"HTTP_PROXY": "http://proxy.example:3128"},
        {"HTTP_PROXY": "proxy.example:3128", "NO_PROXY": "10.0.0.1,.internal,a.test:8443"},
        {"ALL_PROXY": "http://p.example:1", "NO_PROXY": "*"},
        {"HTTPS_PROXY": "http://p.example:1"},
    ],
)
async def test_route_cache_matches_the_uncached_rules(monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    f = make_fetcher("aiohttp")
    for _ in range(2):  # second round from the cache
        for url in _ROUTE_URLS:
            assert tuple(f._route(url)) == _reference_route(url, f.proxies), url
    assert len(f._routes) > 0


def test_route_cache_refuses_a_bad_port_every_time(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    f = make_fetcher("aiohttp")
    for _ in range(2):
        with pytest.raises(ValueError):
            f._route("http://a.test:99999/robots.txt")
    assert not f._routes


_URL_CHARS = st.sampled_from([*"aZ09.-:@[]%/?#\\ \t\n_~", "é", "ß", "0x", "::", "1.2.3.4"])


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(["http://", "https://"]),
    netloc=st.lists(_URL_CHARS, max_size=8).map("".join),
    tails=st.lists(st.lists(_URL_CHARS, max_size=6).map("".join), min_size=2, max_size=2),
)
def test_urls_with_one_route_prefix_route_alike(scheme, netloc, tails):
    """The cache's premise: URLs sharing ``_route_prefix`` split to the same routing inputs."""
    urls = [scheme + netloc + "/" + t for t in tails]
    prefixes = {_route_prefix(u) for u in urls}
    assert len(prefixes) == 1
    (prefix,) = prefixes
    assert prefix is not None and urls[0].startswith(prefix)

    def routing(url):
        try:
            p = urlsplit(url)
            return p.scheme, p.netloc.lower(), p.hostname, p.port
        except ValueError as exc:
            return type(exc)

    assert routing(urls[0]) == routing(urls[1])


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.ip_addresses().map(str), st.text(alphabet="0123456789abcdef.:%[]xyz-", max_size=20)
    )
)
def test_ip_literal_shortcut_agrees_with_the_parser(host):
    number = r"(?:0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)"

    def reference(h):
        h = h.strip("[]").split("%", 1)[0]
        try:
            return ipaddress.ip_address(h)
        except ValueError:
            pass
        # The numeric IPv4 spellings (decimal, octal, hex, fewer than four parts) as C
        # inet_aton reads them, checked against the C library itself; a bare "0x" is 0 as in
        # the WHATWG URL standard (glibc refuses it).
        if re.fullmatch(rf"{number}(?:\.{number}){{0,3}}\.?", h):
            h = re.sub(r"0[xX](?=\.|$)", "0", h.rstrip("."))
            try:
                return ipaddress.IPv4Address(socket.inet_aton(h or "x"))
            except OSError:
                return None
        return None

    assert ip_literal(host) == (reference(host) if host else None)
