"""The Fetcher protocol and the transport-independent part of every fetch.

A transport implements one hop (``_hop``: one request, no redirects, bounded body). This base
adds what must be identical across transports: redirect following, the total deadline, the
concurrency slots, the IP-literal guard, error codes, timing and the wall-clock stamp.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import NamedTuple, Protocol, runtime_checkable
from urllib.parse import SplitResult, urljoin, urlsplit

import anyio

from ..types import Fetched, HeaderList
from .guard import (
    env_proxies,
    exempt_hosts,
    ip_literal,
    is_exempt,
    is_public_address,
    proxy_for_split,
)
from .limits import FetchLimits

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

#: The fields ``_fetched`` fills, in declaration order. It builds a ``Fetched`` without running
#: ``__post_init__`` (header normalisation, body coercion, hashing: a few microseconds of a
#: small request) by doing that work itself on values whose form it knows; if ``Fetched``
#: ever has other fields, the ordinary constructor is used instead.
_FETCHED_FIELDS = (
    "status",
    "headers",
    "body",
    "error",
    "url",
    "final_url",
    "redirects",
    "fetched_at",
    "elapsed",
    "truncated",
    "stale",
    "sha256",
)
_FETCHED_DIRECT = tuple(f.name for f in dataclasses.fields(Fetched)) == _FETCHED_FIELDS
_new = object.__new__
_set = object.__setattr__

WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


#: ``utc_now`` without a Python frame: the fetchers' default clock, read once per request.
_utc_now = partial(datetime.now, UTC)


@runtime_checkable
class Fetcher(Protocol):
    """Async HTTP GET that never raises for network trouble (see ``Fetched.error``)."""

    async def get(self, url: str, *, max_bytes: int, stop_at_head: bool = False) -> Fetched: ...

    async def aclose(self) -> None: ...


class HopError(Exception):
    """A hop failed; ``code`` is the ``Fetched.error`` value. ``status``/``headers``/``body``
    are set when the failure came after the response head (a reset mid-body)."""

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        status: int | None = None,
        headers: HeaderList = (),
        body: bytes = b"",
    ) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.status = status
        self.headers = headers
        self.body = body


@dataclass(slots=True)
class Hop:
    status: int
    headers: HeaderList
    body: bytes = b""
    truncated: bool = False

    def location(self) -> str | None:
        for k, v in self.headers:
            if k.lower() == "location":
                return v.strip()
        return None


@dataclass(slots=True)
class _Trail:
    """Progress of one ``get``, kept outside the deadline scope so a timeout still reports it."""

    url: str
    current: str
    redirects: list[str] = field(default_factory=list)


class _KeyedLimiter:
    """At most ``limit`` holders per key; keys without holders or waiters are dropped, so the
    table stays as small as the set of origins currently in flight."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._slots: dict[str, list] = {}  # key -> [semaphore, users]

    async def __call__(self, key: str) -> _KeyedSlot:
        entry = self._slots.get(key)
        if entry is None:
            entry = self._slots[key] = [anyio.Semaphore(self._limit, fast_acquire=True), 0]
        entry[1] += 1
        try:
            await entry[0].acquire()
        except BaseException:
            self._release_user(key, entry)
            raise
        return _KeyedSlot(self, key, entry)

    def _release_user(self, key: str, entry: list) -> None:
        entry[1] -= 1
        if entry[1] == 0 and self._slots.get(key) is entry:
            del self._slots[key]

    def __len__(self) -> int:
        return len(self._slots)


class _KeyedSlot:
    __slots__ = ("_entry", "_key", "_owner")

    def __init__(self, owner: _KeyedLimiter, key: str, entry: list) -> None:
        self._owner, self._key, self._entry = owner, key, entry

    def release(self) -> None:
        self._entry[0].release()
        self._owner._release_user(self._key, self._entry)


def _plain_headers(headers: HeaderList) -> HeaderList | None:
    """``headers`` as ``Fetched.__post_init__`` normalises them, when they are a tuple of
    (name, value) pairs of ``str`` (subclasses such as multidict's ``istr`` included, made plain
    ``str`` as it does); None for any other shape, which is left to ``__post_init__``."""
    if type(headers) is not tuple:
        return None
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            return None
        k, v = item
        if type(k) is not str or type(v) is not str:
            break
    else:
        return headers  # already what __post_init__ would make of it
    out = []
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            return None
        k, v = item
        if not (isinstance(k, str) and isinstance(v, str)):
            return None
        out.append((str(k), str(v)))
    return tuple(out)


def _fetched(
    status: int | None,
    headers: HeaderList,
    body: bytes,
    error: str | None,
    trail: _Trail,
    fetched_at: datetime,
    elapsed: float,
    truncated: bool,
) -> Fetched:
    """``Fetched(...)`` of one ``get``: equal, field for field and in every field's type, to
    what the constructor makes of the same values, and cheaper for the usual ones."""
    norm = _plain_headers(headers) if _FETCHED_DIRECT and type(body) is bytes else None
    if norm is None:
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
    f = _new(Fetched)
    _set(f, "status", status)
    _set(f, "headers", norm)
    _set(f, "body", body)
    _set(f, "error", error)
    _set(f, "url", trail.url)
    _set(f, "final_url", trail.current)
    _set(f, "redirects", tuple(trail.redirects))
    _set(f, "fetched_at", fetched_at)
    _set(f, "elapsed", elapsed)
    _set(f, "truncated", truncated)
    _set(f, "stale", False)
    _set(f, "sha256", hashlib.sha256(body).hexdigest())
    return f


def origin_key(url: str) -> str:
    return split_origin_key(urlsplit(url))


def split_origin_key(parts: SplitResult) -> str:
    """:func:`origin_key` of an already split URL."""
    return f"{parts.scheme}://{parts.netloc}".lower()


_ROUTES_MAX = 4096


def _route_prefix(url: str) -> str | None:
    """The part of ``url`` its routing (origin key, proxy, address guard) depends on, or None.

    For ``http://`` and ``https://`` URLs that is everything before the first ``/`` after the
    ``//``: urlsplit ends the netloc at or before that slash, and what it strips or removes on
    the way (tabs and newlines, a port it cannot parse) lies in the prefix too, so two URLs
    with the same prefix split to the same scheme and netloc.
    """
    if url.startswith("https://"):
        end = url.find("/", 8)
    elif url.startswith("http://"):
        end = url.find("/", 7)
    else:
        return None
    return url[:end] if end > 0 else None


class _Route(NamedTuple):
    """How a hop to one origin goes out (see ``BaseFetcher._route``)."""

    key: str  # origin_key(): the per-origin slot's key
    proxy: str | None  # proxy_for(): the environment proxy for the URL, if any
    bad_ip: bool  # the host is an IP literal outside public unicast space
    host: str  # the host name, lower case ("" when the URL has none)
    exempt: bool  # the host is exempt from the guard (GUARD_EXEMPT_ENV / exempt_hosts)


_NAMES_MAX = 4096


class BaseFetcher:
    """Shared redirect/deadline/guard logic; subclasses implement ``_hop`` and ``_close``."""

    def __init__(
        self,
        *,
        limits: FetchLimits | None = None,
        allow_private: bool = False,
        wall_clock: WallClock | None = None,
        exempt: frozenset[str] | None = None,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.allow_private = allow_private
        #: Hosts the guard leaves alone: ``exempt``, else GUARD_EXEMPT_ENV as of creation.
        self.exempt = exempt_hosts() if exempt is None else frozenset(exempt)
        # Proxied host name -> True when it resolves locally to a non-public address.
        self._proxied_names: dict[str, bool] = {}
        self._wall_clock = wall_clock or _utc_now
        # fast_acquire: an uncontended acquire need not yield to the loop; every request
        # passes two of these, so the extra loop turns would show in bulk throughput.
        self._global = anyio.Semaphore(self.limits.global_concurrency, fast_acquire=True)
        self._per_origin = _KeyedLimiter(self.limits.per_origin_concurrency)
        #: Proxy variables as of creation, like an httpx client or aiohttp session.
        self.proxies = env_proxies()
        self._routes: dict[str, _Route] = {}
        self._routes_proxies = self.proxies
        #: HTTP requests sent (each redirect hop counts), for scanner stats and tests.
        self.requests = 0
        self._closed = False

    async def _hop(
        self, url: str, *, max_bytes: int, stop_at_head: bool, proxy: str | None
    ) -> Hop:  # pragma: no cover - abstract
        raise NotImplementedError

    async def _close(self) -> None:  # pragma: no cover - abstract
        return None

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _route(self, url: str) -> _Route:
        """Origin key, proxy and IP-literal verdict for a hop to ``url``.

        Computed from ``urlsplit`` as :func:`origin_key` and :func:`proxy_for` do, and kept per
        :func:`_route_prefix` (an origin's three files share one), since the split and the
        proxy lookup are a noticeable part of a small request's CPU.
        """
        routes = self._routes
        if self._routes_proxies is not self.proxies:  # replaced after creation: start over
            routes.clear()
            self._routes_proxies = self.proxies
        prefix = _route_prefix(url)
        if prefix is not None:
            found = routes.get(prefix)
            if found is not None:
                return found
        parts = urlsplit(url)
        proxy = proxy_for_split(parts, self.proxies)
        host = parts.hostname or ""
        ip = ip_literal(host)
        route = _Route(
            split_origin_key(parts),
            proxy,
            ip is not None and not is_public_address(ip),
            host,
            is_exempt(host, self.exempt),
        )
        if prefix is not None:
            if len(routes) >= _ROUTES_MAX:
                routes.clear()
            routes[prefix] = route
        return route

    def _refused(self, route: _Route) -> bool:
        """IP-literal targets never reach a resolver, so they are checked here, whether or not
        a proxy carries the request (a proxy inside a private network would reach them)."""
        return route.bad_ip and not self.allow_private and not route.exempt

    async def _proxied_name_refused(self, route: _Route) -> bool:
        """For a request a proxy carries: True when its host name resolves *locally* to a
        non-public address (``localhost``, a split-horizon name, a metadata alias).

        A name the local resolver does not know (or does not answer for within the connect
        timeout) is the proxy's to resolve and is passed on. Answers are kept per host name,
        like a connector's DNS cache, so an origin's three files cost one lookup.
        """
        if self.allow_private or route.exempt or not route.host:
            return False
        host = route.host
        if ip_literal(host) is not None:
            return False  # literals were judged by _refused
        names = self._proxied_names
        found = names.get(host)
        if found is not None:
            return found
        refused = False
        try:
            with anyio.fail_after(self.limits.connect_timeout):
                infos = await anyio.getaddrinfo(host, None)
        except (OSError, TimeoutError, UnicodeError, ValueError):
            infos = []
        addresses = [str(info[4][0]) for info in infos]
        if addresses and not any(is_public_address(a) for a in addresses):
            refused = True
        if len(names) >= _NAMES_MAX:
            names.clear()
        names[host] = refused
        return refused

    async def get(self, url: str, *, max_bytes: int, stop_at_head: bool = False) -> Fetched:
        fetched_at = self._wall_clock()
        trail = _Trail(url=url, current=url)
        route = self._route(url)
        # Origin slot before the global one: a request queued behind a slow origin must not
        # hold a global slot other origins could use.
        origin_slot = await self._per_origin(route.key)
        try:
            async with self._global:
                started = time.perf_counter()
                with anyio.move_on_after(self.limits.total_timeout) as scope:
                    result = await self._follow(trail, route, max_bytes, stop_at_head)
        finally:
            origin_slot.release()
        elapsed = time.perf_counter() - started
        if scope.cancelled_caught:
            return self._result(trail, fetched_at, elapsed, error="timeout")
        hop, error = result
        return self._result(trail, fetched_at, elapsed, hop=hop, error=error)

    def _result(
        self,
        trail: _Trail,
        fetched_at: datetime,
        elapsed: float,
        *,
        hop: Hop | None = None,
        error: str | None = None,
    ) -> Fetched:
        if hop is None:
            return _fetched(None, (), b"", error, trail, fetched_at, elapsed, False)
        return _fetched(
            hop.status, hop.headers, hop.body, error, trail, fetched_at, elapsed, hop.truncated
        )

    async def _follow(
        self, trail: _Trail, route: _Route, max_bytes: int, stop_at_head: bool
    ) -> tuple[Hop | None, str | None]:
        """Hops from ``trail.current`` (routed as ``route``) to a final response or an error."""
        while True:
            url = trail.current
            if self._refused(route):
                return None, "refused-address"
            proxy = route.proxy
            if proxy is not None and await self._proxied_name_refused(route):
                return None, "refused-address"
            self.requests += 1
            try:
                hop = await self._hop(
                    url, max_bytes=max_bytes, stop_at_head=stop_at_head, proxy=proxy
                )
            except HopError as exc:
                if exc.status is not None:
                    return Hop(exc.status, exc.headers, exc.body), exc.code
                return None, exc.code
            location = hop.location() if hop.status in REDIRECT_STATUSES else None
            if not location:
                return hop, None
            if len(trail.redirects) >= self.limits.max_redirects:
                trail.redirects.append(url)
                return Hop(hop.status, hop.headers, b""), "too-many-redirects"
            target = urljoin(url, location).split("#", 1)[0]
            if urlsplit(target).scheme not in ("http", "https"):
                return hop, "bad-redirect"
            if target == url or target in trail.redirects:
                # Following a loop to the limit only costs the origin requests.
                trail.redirects.append(url)
                return Hop(hop.status, hop.headers, b""), "redirect-loop"
            trail.redirects.append(url)
            trail.current = target
            route = self._route(target)
