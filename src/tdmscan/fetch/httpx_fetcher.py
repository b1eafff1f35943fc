"""httpx-based fetcher: for one-off checks and for tests with ``httpx.MockTransport``.

httpx's pool degrades at high fan-out (benchmarks/bench_scan.py); bulk scans use
:class:`~tdmscan.fetch.aiohttp_fetcher.AiohttpFetcher`.
"""

from __future__ import annotations

import socket
import zlib
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore
import httpx

from ._errors import classify_os_error
from .base import BaseFetcher, Hop, HopError, WallClock
from .body import BodyReader, UnsupportedEncoding
from .guard import AddressRefused, filter_addresses, is_exempt
from .limits import FetchLimits


class _RefusedConnect(httpcore.ConnectError):
    pass


class _DNSConnect(httpcore.ConnectError):
    pass


class _ShortBody(Exception):
    pass


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check every address, then connect to a checked address.

    httpcore still sends SNI and verifies the certificate for the origin's host name, since it
    takes those from the request, not from the address given to ``connect_tcp``.
    """

    def __init__(self, *, allow_private: bool, exempt: frozenset[str] = frozenset()) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private
        self._exempt = exempt

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise _DNSConnect(str(exc)) from exc
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self._allow_private and not is_exempt(host, self._exempt):
            try:
                addresses = filter_addresses(host, addresses)
            except AddressRefused as exc:
                raise _RefusedConnect(str(exc)) from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by tdmscan")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _code(exc: BaseException) -> str:
    if isinstance(exc, _ShortBody):
        return "short-body"
    for e in (exc, exc.__cause__):
        if isinstance(e, _RefusedConnect):
            return "refused-address"
        if isinstance(e, _DNSConnect):
            return "dns"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ProxyError):
        return "proxy"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "invalid-url"
    found = classify_os_error(exc)
    if found:
        return found
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    if isinstance(exc, httpx.RemoteProtocolError):
        # A peer closing mid-response is the usual cause; a garbled status line the other.
        msg = str(exc).lower()
        closed = "disconnect" in msg or "closed" in msg or "incomplete" in msg
        return "reset" if closed else "protocol"
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.NetworkError):
        return "reset"
    if isinstance(exc, httpx.DecodingError | zlib.error):
        return "decoding"
    return "protocol"


class HttpxFetcher(BaseFetcher):
    """``Fetcher`` over ``httpx.AsyncClient``.

    ``transport`` replaces the network entirely (tests pass ``httpx.MockTransport``); then only
    IP-literal targets can be guarded, since nothing is resolved. Without it, direct requests
    go through :class:`GuardedNetworkBackend` and proxied ones through httpx's proxy transport.
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: FetchLimits | None = None,
        allow_private: bool = False,
        wall_clock: WallClock | None = None,
        exempt: frozenset[str] | None = None,
    ) -> None:
        super().__init__(
            limits=limits, allow_private=allow_private, wall_clock=wall_clock, exempt=exempt
        )
        self._transport = transport
        self._clients: dict[str | None, httpx.AsyncClient] = {}

    def _client(self, proxy: str | None) -> httpx.AsyncClient:
        key = None if self._transport is not None else proxy
        client = self._clients.get(key)
        if client is not None:
            return client
        lim = self.limits
        pool = httpx.Limits(
            max_connections=lim.global_concurrency,
            max_keepalive_connections=lim.global_concurrency,
            keepalive_expiry=lim.keepalive,
        )
        if self._transport is not None:
            transport: httpx.AsyncBaseTransport = self._transport
        elif proxy is not None:
            transport = httpx.AsyncHTTPTransport(limits=pool, proxy=proxy, retries=0)
        else:
            transport = httpx.AsyncHTTPTransport(limits=pool, retries=0)
            # httpx has no public hook for the network backend; its pool takes one. httpx 0.28
            # is the last release, so this private attribute will not move under us.
            old = transport._pool
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=old._ssl_context,
                max_connections=lim.global_concurrency,
                max_keepalive_connections=lim.global_concurrency,
                keepalive_expiry=lim.keepalive,
                http1=True,
                http2=False,
                retries=0,
                network_backend=GuardedNetworkBackend(
                    allow_private=self.allow_private, exempt=self.exempt
                ),
            )
        client = httpx.AsyncClient(
            transport=transport,
            trust_env=False,  # proxies are chosen per request by proxy_for(), same as the guard
            follow_redirects=False,
            timeout=httpx.Timeout(lim.total_timeout, connect=lim.connect_timeout),
            headers={
                "User-Agent": lim.user_agent,
                "Accept": "*/*",
                "Accept-Encoding": "gzip, deflate",
            },
        )
        self._clients[key] = client
        return client

    async def _hop(self, url: str, *, max_bytes: int, stop_at_head: bool, proxy: str | None) -> Hop:
        client = self._client(proxy)
        status: int | None = None
        headers: list[tuple[str, str]] = []
        reader: BodyReader | None = None
        try:
            request = client.build_request("GET", url)
            response = await client.send(request, stream=True)
            try:
                status = response.status_code
                headers = response.headers.multi_items()
                if status in (301, 302, 303, 307, 308):
                    return Hop(status, tuple(headers))
                # A Response built from bytes (MockTransport handlers) arrives already read
                # and decoded by httpx; real transports always stream.
                preread = response.is_stream_consumed
                reader = BodyReader(
                    max_bytes=max_bytes,
                    content_encoding=None if preread else response.headers.get("content-encoding"),
                    stop_at_head=stop_at_head,
                    content_type=response.headers.get("content-type"),
                )
                if preread:
                    reader.feed(response.content)
                else:
                    async for chunk in response.aiter_raw():
                        if reader.feed(chunk):
                            break
                    else:
                        if reader.short_of(status, response.headers.get("content-length")):
                            raise _ShortBody("body shorter than its Content-Length")
            finally:
                await response.aclose()
        except UnsupportedEncoding as exc:
            raise HopError(
                "content-encoding", str(exc), status=status, headers=tuple(headers)
            ) from exc
        except Exception as exc:
            body = reader.body if reader else b""
            raise HopError(
                _code(exc), str(exc), status=status, headers=tuple(headers), body=body
            ) from exc
        return Hop(status, tuple(headers), reader.body, reader.truncated)

    async def _close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            await c.aclose()
