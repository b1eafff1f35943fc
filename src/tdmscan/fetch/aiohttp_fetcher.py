"""aiohttp-based fetcher: the default for bulk scans (2-20x httpx at high fan-out, ECOSYSTEM.md
section 5.3). asyncio only."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

import aiohttp
from yarl import URL

from ._errors import classify_os_error
from .base import BaseFetcher, Hop, HopError, WallClock
from .body import BodyReader, UnsupportedEncoding
from .guard import PROXIED, make_guarded_resolver
from .limits import FetchLimits

_CHUNK = 64 * 1024


def _code(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientHttpProxyError | aiohttp.ClientProxyConnectionError):
        return "proxy"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid-url"
    found = classify_os_error(exc)
    if found:
        return found
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "dns"
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ClientConnectorCertificateError):
        return "tls"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "reset"
    if isinstance(exc, aiohttp.ClientOSError):
        return "reset"
    if isinstance(exc, aiohttp.ClientResponseError):
        return "protocol"
    return "protocol"


class AiohttpFetcher(BaseFetcher):
    """``Fetcher`` over one ``aiohttp.ClientSession`` (created on first use, inside the loop).

    The guard is a resolver wrapping aiohttp's default one, so it sees the addresses the
    connector will actually dial, including each DNS cache refill.
    """

    def __init__(
        self,
        *,
        limits: FetchLimits | None = None,
        allow_private: bool = False,
        wall_clock: WallClock | None = None,
        resolver: Any = None,
    ) -> None:
        super().__init__(limits=limits, allow_private=allow_private, wall_clock=wall_clock)
        self._inner_resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            lim = self.limits
            inner = self._inner_resolver or aiohttp.DefaultResolver()
            connector = aiohttp.TCPConnector(
                limit=lim.global_concurrency,
                limit_per_host=lim.per_origin_concurrency,
                resolver=make_guarded_resolver(inner, self.allow_private),
                ttl_dns_cache=300,
                keepalive_timeout=lim.keepalive,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # Decoding happens in BodyReader so the byte cap applies to decoded bytes.
                auto_decompress=False,
                # The environment's proxy variables are honoured, but through proxy_for() per
                # request (the same choice the guard sees) instead of trust_env=True, which
                # costs two thread-pool hops per request (netrc and env proxy lookups) and
                # halves bulk throughput. Proxy credentials go in the proxy URL.
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=lim.connect_timeout, connect=lim.total_timeout
                ),
                headers={
                    "User-Agent": lim.user_agent,
                    "Accept": "*/*",
                    "Accept-Encoding": "gzip, deflate",
                },
            )
        return self._session

    async def _hop(self, url: str, *, max_bytes: int, stop_at_head: bool, proxy: str | None) -> Hop:
        session = self._get_session()
        status: int | None = None
        headers: tuple[tuple[str, str], ...] = ()
        reader: BodyReader | None = None
        token = PROXIED.set(proxy is not None)
        try:
            async with session.get(URL(url), allow_redirects=False, proxy=proxy) as resp:
                status = resp.status
                headers = tuple(resp.headers.items())
                if status in (301, 302, 303, 307, 308):
                    return Hop(status, headers)
                reader = BodyReader(
                    max_bytes=max_bytes,
                    content_encoding=resp.headers.get("Content-Encoding"),
                    stop_at_head=stop_at_head,
                    content_type=resp.headers.get("Content-Type"),
                )
                stream = resp.content
                while True:
                    chunk = await stream.readany()
                    if not chunk or reader.feed(chunk):
                        break
                if not stream.at_eof():
                    # Stopped early: the rest of the body is unread, so the connection cannot
                    # be reused.
                    resp.close()
        except UnsupportedEncoding as exc:
            raise HopError("content-encoding", str(exc), status=status, headers=headers) from exc
        except Exception as exc:
            body = reader.body if reader else b""
            code = "decoding" if isinstance(exc, zlib.error) else _code(exc)
            raise HopError(code, str(exc), status=status, headers=headers, body=body) from exc
        finally:
            PROXIED.reset(token)
        return Hop(status, headers, reader.body, reader.truncated)

    async def _close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
