"""aiohttp-based fetcher: the default for bulk scans (2-20x httpx at high fan-out, measured by
benchmarks/bench_scan.py). asyncio only."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import deque
from typing import Any

import aiohttp
from yarl import URL

from ..types import Fetched
from ._errors import classify_os_error
from .base import REDIRECT_STATUSES, BaseFetcher, Hop, HopError, WallClock, _fetched, _Trail
from .body import BodyReader, UnsupportedEncoding
from .guard import PROXIED, make_guarded_resolver
from .limits import FetchLimits

_CHUNK = 64 * 1024
_perf_counter = time.perf_counter


class _Gate:
    """A counting semaphore for one event loop, without the per-acquire coroutine and loop
    lookups of ``asyncio.Semaphore``/``anyio.Semaphore``: free slots are taken synchronously and
    a release hands its slot straight to the first live waiter (FIFO), so ``free > 0`` implies
    nobody live is waiting."""

    __slots__ = ("free", "waiters")

    def __init__(self, free: int) -> None:
        self.free = free
        self.waiters: deque[asyncio.Future[None]] | None = None

    async def wait(self) -> None:
        """Wait for a slot released by another holder (call only when ``free == 0``)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.waiters is None:
            self.waiters = deque()
        self.waiters.append(fut)
        try:
            await fut
        except BaseException:
            if fut.done() and not fut.cancelled():
                self.give()  # the slot was handed over, but this task was cancelled: pass it on
            else:
                try:
                    self.waiters.remove(fut)
                except ValueError:
                    pass  # already skipped by a release
            raise

    def give(self) -> None:
        """Release one slot: to the first live waiter, else back to ``free``."""
        waiters = self.waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1


#: asyncio runs a timer up to one clock tick early (``BaseEventLoop._clock_resolution``).
_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution


class _Deadline:
    __slots__ = ("cancelling", "expired", "task", "when")

    def __init__(self, task: asyncio.Task[Any], when: float) -> None:
        self.task = task
        self.when = when
        self.cancelling = task.cancelling()
        self.expired = False


class _Deadlines:
    """Per-request deadlines of one fixed length, on one shared timer.

    ``asyncio.timeout`` arms and cancels a loop timer per request (a Python ``TimerHandle``, a
    heap push, a heap clean-up of the cancelled handle), which measured as several per cent of
    a small request's client CPU. Every deadline here is ``enter`` time + the same ``seconds``,
    so deadlines fall in the order requests entered: a dict (insertion-ordered) is the queue,
    the earliest deadline is its first entry, and one timer, armed for that entry, serves all.

    On expiry the task is cancelled exactly as ``asyncio.timeout`` does it (``task.cancel()``,
    the task's ``cancelling()`` count noted at entry), and :meth:`leave` applies the same rule
    to tell the deadline from a cancellation that came from outside: it is a timeout only when,
    after taking back its own cancel request, no other request is left.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._queue: dict[_Deadline, None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._queue)

    def enter(self) -> _Deadline:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline must be entered inside a task")
        if loop is not self._loop:
            # First use, or a new event loop: deadlines left by an old one (whose clock need
            # not match) are dropped, they can never be served.
            self.close()
            self._queue.clear()
            self._loop = loop
        deadline = _Deadline(task, loop.time() + self.seconds)
        self._queue[deadline] = None
        if self._timer is None:
            self._timer = loop.call_at(deadline.when, self._expire)
        return deadline

    def leave(self, deadline: _Deadline) -> bool:
        """Done with ``deadline``; True when it expired and no other cancellation is pending,
        i.e. the outcome is a timeout (and a CancelledError raised by it is to be swallowed)."""
        if not deadline.expired:
            self._queue.pop(deadline, None)
            return False
        return deadline.task.uncancel() <= deadline.cancelling

    def _expire(self) -> None:
        self._timer = None
        loop = self._loop
        assert loop is not None
        now = loop.time() + _CLOCK_RESOLUTION
        queue = self._queue
        due = []
        for deadline in queue:
            if deadline.when > now:
                self._timer = loop.call_at(deadline.when, self._expire)
                break
            due.append(deadline)
        for deadline in due:
            del queue[deadline]
            deadline.expired = True
            deadline.task.cancel()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _Origin(_Gate):
    """An origin's slots, and how many tasks hold or wait for one of them."""

    __slots__ = ("users",)

    def __init__(self, free: int) -> None:
        self.free = free
        self.waiters = None
        self.users = 1


class _Slots:
    """Per-origin and global concurrency slots of :class:`AiohttpFetcher` (asyncio only).

    Same rules as the base fetcher's anyio limiters: the origin slot is taken before the
    global one, waiters are served first come first served, and an origin's entry is dropped
    as soon as it has no holders or waiters, so the table is as small as the set of origins in
    flight. Uncontended, both slots are taken without a coroutine or a loop turn (``take``).
    """

    def __init__(self, per_origin: int, global_concurrency: int) -> None:
        self._per_origin = per_origin
        self._global = _Gate(global_concurrency)
        self._origins: dict[str, _Origin] = {}

    def __len__(self) -> int:
        return len(self._origins)

    def take(self, key: str) -> _Origin | None:
        """Both slots if both are free now, else None (and nothing taken): then ``acquire``."""
        glob = self._global
        if glob.free <= 0:
            return None
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin(self._per_origin - 1)
        elif origin.free > 0:
            origin.free -= 1
            origin.users += 1
        else:
            return None
        glob.free -= 1
        return origin

    async def acquire(self, key: str) -> _Origin:
        """Both slots, waiting in line for each (the origin's first)."""
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin(self._per_origin - 1)
        else:
            origin.users += 1
            if origin.free > 0:
                origin.free -= 1
            else:
                try:
                    await origin.wait()
                except BaseException:
                    self._drop_user(key, origin)
                    raise
        glob = self._global
        if glob.free > 0:
            glob.free -= 1
        else:
            try:
                await glob.wait()
            except BaseException:
                self._release_origin(key, origin)
                raise
        return origin

    def release(self, key: str, origin: _Origin) -> None:
        glob = self._global
        if glob.waiters:
            glob.give()
        else:
            glob.free += 1
        if origin.waiters:
            origin.give()
        else:
            origin.free += 1
        origin.users -= 1
        if origin.users == 0 and self._origins.get(key) is origin:
            del self._origins[key]

    def _release_origin(self, key: str, origin: _Origin) -> None:
        origin.give()
        self._drop_user(key, origin)

    def _drop_user(self, key: str, origin: _Origin) -> None:
        origin.users -= 1
        if origin.users == 0 and self._origins.get(key) is origin:
            del self._origins[key]


class _ShortBody(Exception):
    pass


def _code(exc: BaseException) -> str:
    if isinstance(exc, _ShortBody):
        return "short-body"
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
        exempt: frozenset[str] | None = None,
    ) -> None:
        super().__init__(
            limits=limits, allow_private=allow_private, wall_clock=wall_clock, exempt=exempt
        )
        self._inner_resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        # asyncio-native replacements for the base class's anyio limiters (see ``get``).
        self._slots = _Slots(self.limits.per_origin_concurrency, self.limits.global_concurrency)
        self._per_origin = self._slots  # len() = origins in flight, as in the base class
        self._deadlines = _Deadlines(self.limits.total_timeout)
        self._proxy_urls: dict[str | None, URL | None] = {None: None}

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            lim = self.limits
            inner = self._inner_resolver or aiohttp.DefaultResolver()
            connector = aiohttp.TCPConnector(
                limit=lim.global_concurrency,
                limit_per_host=lim.per_origin_concurrency,
                resolver=make_guarded_resolver(inner, self.allow_private, self.exempt),
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

    async def get(self, url: str, *, max_bytes: int, stop_at_head: bool = False) -> Fetched:
        """``BaseFetcher.get`` on asyncio primitives.

        The rules are the base class's (origin slot, then global slot; the deadline runs from
        the moment both are held; a timeout keeps the partial redirect trail; a cancellation
        from outside propagates); the mechanism is cheaper: :class:`_Deadlines` instead of an
        anyio cancel scope and :class:`_Slots` instead of two anyio semaphores, which were a
        large share of the per-request overhead over bare aiohttp. aiohttp is asyncio-only, so
        nothing is lost by leaving anyio here. As with the slot counts, the deadline length is
        ``limits.total_timeout`` as of creation.
        """
        fetched_at = self._wall_clock()
        trail = _Trail(url, url)
        route = self._route(url)
        key = route.key
        slots = self._slots
        origin = slots.take(key)
        if origin is None:
            origin = await slots.acquire(key)
        deadlines = self._deadlines
        try:
            started = _perf_counter()
            deadline = deadlines.enter()
            try:
                hop, error = await self._follow(trail, route, max_bytes, stop_at_head)
            except asyncio.CancelledError:
                if not deadlines.leave(deadline):
                    raise  # cancelled from outside (also when the deadline passed meanwhile)
                hop, error = None, "timeout"
            except BaseException:
                deadlines.leave(deadline)
                raise
            else:
                if deadlines.leave(deadline):
                    # The client library turned the deadline's cancellation into an error of
                    # its own: past the deadline the outcome is still "timeout".
                    hop, error = None, "timeout"
        finally:
            slots.release(key, origin)
        elapsed = _perf_counter() - started
        if hop is None:
            return _fetched(None, (), b"", error, trail, fetched_at, elapsed, False)
        return _fetched(
            hop.status, hop.headers, hop.body, error, trail, fetched_at, elapsed, hop.truncated
        )

    def _proxy_url(self, proxy: str) -> URL:
        # aiohttp parses a proxy string twice per request; one parsed URL per proxy instead.
        found = self._proxy_urls[proxy] = URL(proxy)
        return found

    async def _hop(self, url: str, *, max_bytes: int, stop_at_head: bool, proxy: str | None) -> Hop:
        session = self._session or self._get_session()
        status: int | None = None
        headers: tuple[tuple[str, str], ...] = ()
        reader: BodyReader | None = None
        proxy_urls = self._proxy_urls
        proxy_url = proxy_urls[proxy] if proxy in proxy_urls else self._proxy_url(proxy)
        token = PROXIED.set(proxy is not None)
        try:
            async with session.get(URL(url), allow_redirects=False, proxy=proxy_url) as resp:
                status = resp.status
                # Every (name, value) pair in wire order (repeated fields stay apart), names as
                # plain str as Fetched keeps them (multidict hands out its istr subclass).
                headers = tuple([(str(k), v) for k, v in resp.headers.items()])
                if status in REDIRECT_STATUSES:
                    return Hop(status, headers)
                reader = BodyReader(
                    max_bytes=max_bytes,
                    content_encoding=resp.headers.get("Content-Encoding"),
                    stop_at_head=stop_at_head,
                    content_type=resp.headers.get("Content-Type"),
                )
                stream = resp.content
                stopped = False
                while True:
                    chunk = await stream.readany()
                    # at_eof(): the body is complete (a small one comes in one chunk), so the
                    # readany() that would only return b"" is skipped.
                    if not chunk:
                        break
                    if reader.feed(chunk):
                        stopped = True
                        break
                    if stream.at_eof():
                        break
                if not stopped and reader.short_of(status, resp.headers.get("Content-Length")):
                    raise _ShortBody("body shorter than its Content-Length")
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
        self._deadlines.close()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
