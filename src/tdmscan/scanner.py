"""``tdmscan.Scanner``: the public async API (documented in the README).

Built from the layers below it: an origin cache of parsed site signals (one fetch of the three
origin files per origin per TTL, shared by every URL and agent), the pure policy, and a
fetcher. The scanner never raises for a bad URL or a failing site: those become decisions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import anyio

from . import policy
from .fetch import (
    DEFAULT_TTL,
    MAX_STALE_LIMIT,
    CrawlDelayGate,
    Fetcher,
    FetchLimits,
    OriginCache,
    fetch_site_files,
    keep_stale_robots,
    make_fetcher,
)
from .types import Decision, Fetched, SiteFiles
from .urls import InvalidURL, parse_url

DEFAULT_AGENT = "tdmscan"

#: How long an origin whose robots.txt was unreachable (or served from a stale copy) stays
#: cached before it is tried again: RFC 9309 2.3.1.3 wants a retry, not a day of "unknown".
DEFAULT_RETRY_TTL = 600.0

#: RSL licence documents fetched per origin at most (robots.txt may list several).
MAX_RSL_DOCUMENTS = 4

FetcherArg = Fetcher | Literal["aiohttp", "httpx"] | None


def training_tokens() -> tuple[str, ...]:
    """The catalogue's AI-training product tokens (the default extra agents of a scan)."""
    from .signals.catalogue import load_catalogue

    return tuple(load_catalogue().training_tokens())


@dataclass(slots=True)
class ScanStats:
    """Counters since the scanner was created; read them any time."""

    checks: int = 0
    origins_fetched: int = 0  # origin loads (three files each)
    cache_hits: int = 0  # fresh cache entry or joined an in-flight load
    cache_misses: int = 0
    stale_copies: int = 0  # robots.txt unreachable, earlier copy kept (RFC 9309 2.3.1.4)
    pages_fetched: int = 0  # deep-mode page fetches
    page_cache_hits: int = 0
    requests: int = 0  # HTTP requests sent, redirect hops included
    verdicts: Counter[str] = field(default_factory=Counter)  # per decision returned
    parse_budget_exceeded: int = 0  # documents not parsed within PARSE_BUDGET (fail closed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checks": self.checks,
            "origins_fetched": self.origins_fetched,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "stale_copies": self.stale_copies,
            "pages_fetched": self.pages_fetched,
            "page_cache_hits": self.page_cache_hits,
            "requests": self.requests,
            "verdicts": dict(self.verdicts),
            "parse_budget_exceeded": self.parse_budget_exceeded,
        }


#: Documents (an origin's files together, or a page) larger than this are parsed in the
#: parse pool instead of on the event loop: a small robots.txt parses in microseconds, where a
#: thread hop would cost more than the parse.
OFFLOOP_BYTES = 64 * 1024
#: Seconds a check waits for one document's parse before recording ``parse:budget-exceeded``
#: (the origin, or the page, is then ``unknown``: fail closed).
PARSE_BUDGET = 5.0
#: Threads parsing large documents at once; more wait their turn (inside their budget).
PARSE_WORKERS = 2
BUDGET_EXCEEDED = "parse:budget-exceeded"


class ParsePool:
    """Large documents parsed in a bounded thread pool, each within a time budget.

    The event loop only waits: other origins' fetches and small parses go on meanwhile (the
    parsers are linear-time with byte caps, and pure-Python parsing yields the interpreter
    lock every few milliseconds). Over budget, the check gets None and fails closed; the
    thread is abandoned to finish on its own (Python cannot stop a thread), which the byte
    caps bound. So the budget bounds a check's latency, not the CPU a parse may burn.
    """

    def __init__(self, workers: int = PARSE_WORKERS, budget: float = PARSE_BUDGET) -> None:
        self.budget = budget
        self._limiter: Any = None
        self._workers = workers
        self.exceeded = 0

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any | None:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._workers)
        with anyio.move_on_after(self.budget):
            return await anyio.to_thread.run_sync(
                fn, *args, limiter=self._limiter, abandon_on_cancel=True
            )
        self.exceeded += 1
        return None


def _parse_site_warm(files: SiteFiles, agents: Sequence[str]) -> policy.SiteSignals:
    """``policy.parse_site`` plus the work its first decisions would do on the event loop:
    choosing each agent's robots.txt group and building its rule table (for a hostile file of
    thousands of wildcard rules, a second of CPU)."""
    site = policy.parse_site(files)
    if site.robots is not None:
        for agent in agents:
            site.robots.match(agent, "/")
    return site


def _body_len(f: Fetched | None) -> int:
    return len(f.body) if f is not None and f.body else 0


def _over_budget(f: Fetched | None) -> Fetched | None:
    """``f`` marked as not parsed in time (its bytes kept as evidence)."""
    if f is None:
        return None
    return dataclasses.replace(f, error=BUDGET_EXCEEDED)


class Scanner:
    """Decide per URL whether content may be used for ``purpose``, fetching origin files once.

    ``agents[0]`` is the crawler's own product token (``check``/``filter`` decide for it);
    ``check_all`` also decides for every other configured agent and, unless
    ``include_training_agents=False``, the catalogue's AI-training tokens.

    ``fetcher``: ``"aiohttp"`` (default, for bulk), ``"httpx"``, or any :class:`Fetcher`
    (then the caller owns it and closes it). ``transport`` is an httpx transport and implies the
    httpx fetcher. ``clock`` returns epoch seconds and drives both the cache TTL and the
    ``fetched_at`` stamps; by default TTLs use the monotonic clock.

    ``terms``: also find and fetch each origin's terms-of-use page (a home-page link that says
    terms / AGB / CGU ..., else a few well-known paths) once per origin with the other files,
    and read it for natural-language reservations (``tos:*`` reason codes, inferred).

    ``exclude_lists``: :class:`~tdmscan.signals.exclusions.ExclusionList` objects in force
    besides the shipped infringing-site list; a URL on a listed domain is ``reserved``
    (``access:listed-infringing``) and its origin is never contacted.

    ``ledger``: a directory (or :class:`~tdmscan.ledger.Ledger`) to record every decision and
    the origin files it rests on into, as one run of kind ``scan`` closed with the scanner;
    or any object with ``record(decisions, site_files, extra)``.
    """

    def __init__(
        self,
        agents: Sequence[str] = (DEFAULT_AGENT,),
        ledger: Any = None,
        *,
        mode: str = "conservative",
        purpose: str = "train-ai",
        include_training_agents: bool = True,
        strict_any: bool = False,
        allow_private: bool = False,
        limits: FetchLimits | None = None,
        ttl: float = DEFAULT_TTL,
        retry_ttl: float = DEFAULT_RETRY_TTL,
        stale_limit: float = MAX_STALE_LIMIT,
        cache_size: int = 100_000,
        page_cache_size: int = 1_024,
        fetcher: FetcherArg = None,
        transport: Any = None,
        clock: Callable[[], float] | None = None,
        terms: bool = False,
        parse_budget: float = PARSE_BUDGET,
        exclude_lists: Sequence[Any] = (),
    ) -> None:
        if isinstance(agents, str):
            agents = [agents]
        own = [a.strip() for a in agents if a and a.strip()]
        if not own:
            raise ValueError("agents must name at least the crawler's own product token")
        if not 0 <= stale_limit <= MAX_STALE_LIMIT:
            raise ValueError("stale_limit must be between 0 and 30 days (RFC 9309 2.3.1.4)")
        self.agent = own[0]
        self.mode = mode
        self.purpose = purpose
        self.strict_any = strict_any
        self.allow_private = allow_private
        self.limits = limits or FetchLimits()
        self.stale_limit = stale_limit
        self.terms = terms
        self._parse_pool = ParsePool(budget=parse_budget)
        from .signals.exclusions import default_exclusions

        #: Infringing-site lists in force: the shipped one plus ``exclude_lists``.
        self.exclusions = default_exclusions(*exclude_lists)

        seen = {a.lower() for a in own}
        agents_all = list(own)
        if include_training_agents:
            for token in training_tokens():
                if token.lower() not in seen:
                    seen.add(token.lower())
                    agents_all.append(token)
        self.agents: tuple[str, ...] = tuple(agents_all)

        if clock is None:
            ttl_clock: Callable[[], float] = time.monotonic
            self._wall: Callable[[], datetime] = lambda: datetime.now(UTC)
        else:
            ttl_clock = clock
            self._wall = lambda: datetime.fromtimestamp(clock(), UTC)

        def site_ttl(site: policy.SiteSignals) -> float:
            return retry_ttl if site.robots_branch in ("unreachable", "stale-copy") else ttl

        self._sites: OriginCache[policy.SiteSignals] = OriginCache(
            ttl=ttl, max_size=cache_size, clock=ttl_clock, ttl_for=site_ttl
        )

        def files_ttl(entry: tuple[SiteFiles, dict[str, Fetched]]) -> float:
            branch = policy.robots_branch(entry[0].robots)
            return retry_ttl if branch in ("unreachable", "stale-copy") else ttl

        # site_files(): the same files, cached unparsed (see there).
        self._files: OriginCache[tuple[SiteFiles, dict[str, Fetched]]] = OriginCache(
            ttl=ttl, max_size=cache_size, clock=ttl_clock, ttl_for=files_ttl
        )
        self._pages: OriginCache[Fetched] = OriginCache(
            ttl=ttl, max_size=max(1, page_cache_size), clock=ttl_clock
        )
        self._delay = CrawlDelayGate(max_delay=self.limits.max_crawl_delay, clock=ttl_clock)

        self._owns_fetcher = not (fetcher is not None and not isinstance(fetcher, str))
        if self._owns_fetcher:
            kind = fetcher or ("httpx" if transport is not None else "aiohttp")
            self._fetcher: Fetcher = make_fetcher(
                kind,  # type: ignore[arg-type]
                transport=transport,
                limits=self.limits,
                allow_private=allow_private,
                wall_clock=self._wall,
            )
        else:
            self._fetcher = fetcher  # type: ignore[assignment]
        self._stats = ScanStats()
        self._origins: dict[str, str] = {}
        self._writer: Any = None
        self.ledger: Any = self._open_ledger(ledger)
        self._gets = 0  # fetcher calls, for fetchers that do not count their requests

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Scanner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            if self._owns_fetcher:
                await self._fetcher.aclose()
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def _open_ledger(self, ledger: Any) -> Any:
        """A recorder for ``ledger``: a path or Ledger opens a writer for one ``scan`` run."""
        if ledger is None or hasattr(ledger, "record"):
            return ledger
        from .ledger import Ledger, RunInfo
        from .ledger.recorder import SiteRecorder

        led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        run = RunInfo(
            kind="scan",
            agents=self.agents,
            user_agent=self.limits.user_agent,
            mode=self.mode,
            purpose=self.purpose,
            config={
                "agents": list(self.agents),
                "strict_any": self.strict_any,
                "allow_private": self.allow_private,
            },
        )
        # A crawler's checks trickle in: flush by time so a crash loses seconds, not a buffer.
        self._writer = led.writer(run, flush_rows=10_000, flush_seconds=5.0)
        return SiteRecorder(self._writer)

    @property
    def fetcher(self) -> Fetcher:
        return self._fetcher

    @property
    def stats(self) -> ScanStats:
        s = self._stats
        s.requests = getattr(self._fetcher, "requests", self._gets)
        return s

    # ------------------------------------------------------------------ origin signals

    async def site(self, origin: str) -> policy.SiteSignals:
        """Parsed origin signals from the cache, fetching the three files at most once per TTL."""
        cached = self._sites.get_fresh(origin)
        if cached is not None:
            self._stats.cache_hits += 1
            return cached
        before = self._sites.stats.misses
        value = await self._sites.get(origin, self._loader(origin))
        if self._sites.stats.misses == before:
            self._stats.cache_hits += 1  # joined another task's fetch
        return value

    def _loader(self, origin: str) -> Callable[[policy.SiteSignals | None], Any]:
        async def load(previous: policy.SiteSignals | None) -> policy.SiteSignals:
            files = await self._fetch_files(origin, previous.files if previous else None)
            site = await self._parse_site(files)
            docs = await self._rsl_documents(site)
            return dataclasses.replace(site, rsl_documents=docs) if docs else site

        return load

    async def _fetch_files(self, origin: str, previous: SiteFiles | None) -> SiteFiles:
        """One fetch of the origin's three files, a still-good old robots.txt kept if the new
        one is unreachable (RFC 9309 2.3.1.4)."""
        self._stats.cache_misses += 1
        if self._listed(origin):
            # A listed infringing site is excluded whatever its files say: not contacted at all.
            return SiteFiles(origin=origin, fetched_at=self._wall())
        self._stats.origins_fetched += 1
        self._gets += 3
        files = await fetch_site_files(
            self._fetcher, origin, limits=self.limits, wall_clock=self._wall
        )
        kept = keep_stale_robots(files, previous, now=self._wall(), stale_limit=self.stale_limit)
        if kept is not files:
            self._stats.stale_copies += 1
        if self.terms:
            kept = await self._with_terms(kept)
        return kept

    def _listed(self, origin: str) -> bool:
        try:
            host = parse_url(origin).host
        except InvalidURL:
            return False
        return bool(self.exclusions.match(host))

    async def _with_terms(self, files: SiteFiles) -> SiteFiles:
        """``files`` with the origin's terms page, fetched only where robots.txt lets our own
        token go (an unreachable robots.txt means no terms fetch at all: complete disallow)."""
        from .fetch.terms import fetch_terms_page
        from .signals.robots import parse_robots

        branch = policy.robots_branch(files.robots)
        if branch == "unreachable":
            return files
        if branch in ("parsed", "stale-copy") and files.robots is not None:
            robots = parse_robots(files.robots.body)
            agent = self.agent

            def allowed(path: str) -> bool:
                return robots.match(agent, path).allowed
        else:

            def allowed(path: str) -> bool:
                return True

        page = await fetch_terms_page(self._fetcher, files.origin, allowed=allowed)
        return dataclasses.replace(files, terms=page) if page is not None else files

    async def site_files(self, origin: str) -> tuple[SiteFiles, dict[str, Fetched]]:
        """``(site.files, site.rsl_documents)`` of :meth:`site`, without parsing what need not be.

        For a caller that parses elsewhere (the audit's fetch process, whose parent parses):
        robots.txt is parsed only when it mentions a licence, to find the RSL documents to
        fetch. Same fetches, stale-copy rule and TTLs as :meth:`site`, in a cache of its own;
        an origin :meth:`site` already holds is answered from there. Use one of the two per
        origin, or an origin asked through both is fetched once by each.
        """
        cached = self._sites.get_fresh(origin)
        if cached is not None:
            self._stats.cache_hits += 1
            return cached.files, dict(cached.rsl_documents)
        before = self._files.stats.misses

        async def load(
            previous: tuple[SiteFiles, dict[str, Fetched]] | None,
        ) -> tuple[SiteFiles, dict[str, Fetched]]:
            files = await self._fetch_files(origin, previous[0] if previous else None)
            robots = files.robots
            if robots is None or b"license" not in robots.body.lower():
                return files, {}
            return files, await self._rsl_documents(await self._parse_site(files))

        value = await self._files.get(origin, load)
        if self._files.stats.misses == before:
            self._stats.cache_hits += 1
        return value[0], dict(value[1])

    async def _parse_site(self, files: SiteFiles) -> policy.SiteSignals:
        """:meth:`_parse_site_pooled` with the infringing-site lists in force attached."""
        return dataclasses.replace(await self._parse_site_pooled(files), exclusions=self.exclusions)

    async def _parse_site_pooled(self, files: SiteFiles) -> policy.SiteSignals:
        """``policy.parse_site``, in the parse pool when the files are large.

        Over budget, every file of the origin is marked ``parse:budget-exceeded`` and left
        unparsed: robots.txt is then unreachable, so the origin is ``unknown`` (fail closed),
        never judged on whichever of its files happened to parse.
        """
        size = sum(_body_len(f) for f in (files.robots, files.tdmrep, files.ai_txt, files.terms))
        if size <= OFFLOOP_BYTES:
            return policy.parse_site(files)
        site = await self._parse_pool.run(_parse_site_warm, files, self.agents)
        if site is not None:
            return site
        self._stats.parse_budget_exceeded += 1
        marked = dataclasses.replace(
            files,
            robots=_over_budget(files.robots)
            or Fetched(error=BUDGET_EXCEEDED, url=f"{files.origin}/robots.txt"),
            tdmrep=_over_budget(files.tdmrep),
            ai_txt=_over_budget(files.ai_txt),
            terms=_over_budget(files.terms),
        )
        return policy.parse_site(marked)

    async def _parse_page(self, page: Fetched, url: str) -> Fetched | policy.PageSignals:
        """The page's signals, parsed in the parse pool when its body is large; over budget,
        the page marked ``parse:budget-exceeded`` (its verdict is then ``unknown``)."""
        if _body_len(page) <= OFFLOOP_BYTES:
            return page
        try:
            path = parse_url(url).path_query
        except InvalidURL:
            return page
        signals = await self._parse_pool.run(policy.parse_page, page, path)
        if signals is not None:
            return signals  # type: ignore[no-any-return]
        self._stats.parse_budget_exceeded += 1
        return _over_budget(page)  # type: ignore[return-value]

    async def _rsl_documents(self, site: policy.SiteSignals) -> dict[str, Fetched]:
        """Fetch the RSL licences robots.txt points to (for any configured agent), once each."""
        f = site.files.robots
        if site.robots is None or f is None or b"license" not in f.body.lower():
            # No License record can exist: skip resolving every agent's group (per origin,
            # that was a third of a bulk scan's CPU with the training agents configured).
            return {}
        urls: list[str] = []
        for agent in (*self.agents, "*"):
            for u in site.rsl_urls(agent):
                if u not in urls and u.startswith(("http://", "https://")):
                    urls.append(u)
        docs: dict[str, Fetched] = {}
        for u in urls[:MAX_RSL_DOCUMENTS]:
            self._gets += 1
            docs[u] = await self._fetcher.get(u, max_bytes=self.limits.file_max_bytes)
        return docs

    async def _page(self, url: str, origin: str, site: policy.SiteSignals) -> Fetched:
        cached = self._pages.get_fresh(url)
        if cached is not None:
            self._stats.page_cache_hits += 1
            return cached

        async def load(_previous: Fetched | None) -> Fetched:
            await self._delay.wait(origin, site.crawl_delay(self.agent))
            self._stats.pages_fetched += 1
            self._gets += 1
            return await self._fetcher.get(
                url, max_bytes=self.limits.head_max_bytes, stop_at_head=True
            )

        return await self._pages.get(url, load)

    # ------------------------------------------------------------------ checks

    def cached_page(self, url: str) -> Fetched | None:
        """The page head a deep check fetched for ``url``, while it is fresh; never fetches."""
        try:
            return self._pages.peek(parse_url(url).url)
        except InvalidURL:
            return None

    def _decide(self, url: str, agents: Sequence[str], site: Any, page: Any) -> list[Decision]:
        return policy.decide(url, agents, site, page, purpose=self.purpose, mode=self.mode)

    def _finish(
        self,
        url: str,
        agents: Sequence[str],
        site: Any,
        page: Fetched | None,
        signals: Any = None,
    ) -> list[Decision]:
        """Decide (``signals``: the page already parsed, or marked over budget) and record."""
        decisions = self._decide(url, agents, site, page if signals is None else signals)
        for d in decisions:
            self._stats.verdicts[d.verdict] += 1
        self._record(decisions, site, page)
        return decisions

    def _evaluate_now(self, url: str, agents: Sequence[str]) -> list[Decision] | None:
        """The decisions when no I/O is needed (invalid URL or cached origin), else None."""
        origin = self._origin_of(url)
        if origin is None:
            self._stats.checks += 1
            return self._finish(url, agents, None, None)
        site = self._sites.get_fresh(origin)
        if site is None:
            return None
        self._stats.checks += 1
        self._stats.cache_hits += 1
        return self._finish(url, agents, site, None)

    async def _evaluate(self, url: str, agents: Sequence[str], deep: bool) -> list[Decision]:
        if not deep:
            done = self._evaluate_now(url, agents)
            if done is not None:
                return done
        self._stats.checks += 1
        origin = self._origin_of(url)
        if origin is None:
            return self._finish(url, agents, None, None)
        site = await self.site(origin)
        page = None
        signals = None
        if deep:
            # Fetch the page only when our own token may crawl it: a deep check must not itself
            # ignore the robots.txt it is checking. A non-allowed verdict stands without the page.
            first = self._decide(url, [self.agent], site, None)[0]
            if first.verdict == "allowed":
                page = await self._page(parse_url(url).url, origin, site)
                signals = await self._parse_page(page, url)
        return self._finish(url, agents, site, page, signals)

    def _origin_of(self, url: str) -> str | None:
        """The canonical origin of ``url``, or None when it is not a valid http(s) URL.

        ``policy.decide`` parses the URL again, so the full parse here would be paid twice per
        check. The origin depends only on the text before the first "/" after the scheme's
        "//", so it is memoised by that prefix (a bounded table; cleared when full). A URL whose
        path makes it invalid still gets ``invalid`` from the policy.
        """
        if not isinstance(url, str):
            return None
        cut = url.find("/", 8)
        prefix = url if cut < 0 else url[:cut]
        origin = self._origins.get(prefix)
        if origin is None:
            try:
                origin = parse_url(url).origin
            except InvalidURL:
                return None
            if len(self._origins) >= 65_536:
                self._origins.clear()
            self._origins[prefix] = origin
        return origin

    def _count(self, decisions: Iterable[Decision]) -> None:
        for d in decisions:
            self._stats.verdicts[d.verdict] += 1

    async def check(self, url: str, *, deep: bool = False) -> Decision:
        """The decision for the crawler's own token; ``deep`` also reads the page's head."""
        return (await self._evaluate(url, [self.agent], deep))[0]

    async def check_all(self, url: str, *, deep: bool = False) -> list[Decision]:
        """One decision per configured agent, own token first."""
        return await self._evaluate(url, self.agents, deep)

    async def check_response(
        self,
        url: str,
        status: int,
        headers: Any = (),
        body: bytes | str = b"",
        *,
        all_agents: bool = False,
    ) -> Decision | list[Decision]:
        """Decide for a page the crawler already fetched; fetches only the origin files.

        Returns the own token's decision, or every agent's with ``all_agents=True``.
        """
        self._stats.checks += 1
        agents = self.agents if all_agents else [self.agent]
        page = Fetched(status=status, headers=headers, body=body, url=url, fetched_at=self._wall())
        try:
            origin = parse_url(url).origin
        except InvalidURL:
            site = None
        else:
            site = await self.site(origin)
        # A crawler's page can be megabytes: parsed in the pool, within the budget.
        signals = await self._parse_page(page, url) if site is not None else page
        decisions = self._decide(url, agents, site, signals)
        self._count(decisions)
        if self.ledger is not None:
            cap = self.limits.head_max_bytes
            if len(page.body) > cap:
                # The ledger keeps what page signals are read from: headers and the head.
                page = Fetched(
                    status=status,
                    headers=page.headers,
                    body=page.body[:cap],
                    url=url,
                    fetched_at=page.fetched_at,
                    truncated=True,
                )
            self._record(decisions, site, page)
        return decisions if all_agents else decisions[0]

    async def _pairs(
        self,
        urls: Iterable[str] | AsyncIterable[str],
        deep: bool,
        concurrency: int | None,
        all_agents: bool,
    ) -> AsyncIterator[tuple[str, list[Decision]]]:
        """(input url, decisions) as completed, with at most ``concurrency`` checks in flight.

        The input is read lazily, so a manifest of millions of URLs is never held in memory.
        URLs that need no I/O (cached origin, invalid URL) are decided right here, in order;
        the rest go to ``concurrency`` worker tasks. Handing every URL to a worker would cost a
        stream hop per URL, which is most of the time of a warm check. Break out early only
        inside ``contextlib.aclosing(...)``, so the workers are cancelled in this task.
        """
        n = concurrency or self.limits.global_concurrency
        if n < 1:
            raise ValueError("concurrency must be at least 1")
        agents = self.agents if all_agents else [self.agent]
        # Rendezvous: a URL is handed over only when a worker is free, so at most n are in
        # flight. Results are unbounded but cannot pile up beyond n: no new work is handed out
        # while the consumer is not pulling.
        work_send, work_recv = anyio.create_memory_object_stream[str](0)
        out_send, out_recv = anyio.create_memory_object_stream[tuple[str, list[Decision]]](math.inf)

        async def worker(inbox: Any, out: Any) -> None:
            async with inbox, out:
                async for url in inbox:
                    out.send_nowait((url, await self._evaluate(url, agents, deep)))

        async def feed() -> AsyncIterator[str]:
            if isinstance(urls, AsyncIterable):
                async for url in urls:
                    yield url
            else:
                for url in urls:
                    yield url

        async with anyio.create_task_group() as tg:
            async with work_recv, out_send:
                for _ in range(n):
                    tg.start_soon(worker, work_recv.clone(), out_send.clone())
            try:
                async with work_send:
                    async for url in feed():
                        item = None if deep else self._evaluate_now(url, agents)
                        ready: list[tuple[str, list[Decision]]] = []
                        if item is not None:
                            ready.append((url, item))
                        else:
                            await work_send.send(url)
                        with contextlib.suppress(anyio.WouldBlock):
                            while True:
                                ready.append(out_recv.receive_nowait())
                        for pair in ready:
                            try:
                                yield pair
                            except GeneratorExit:
                                return
                async with out_recv:
                    async for pair in out_recv:
                        try:
                            yield pair
                        except GeneratorExit:
                            return
            finally:
                # Also reached on an early stop: a GeneratorExit escaping the task group would
                # surface as an exception group, hence the quiet returns above.
                tg.cancel_scope.cancel()

    async def check_many(
        self,
        urls: Iterable[str] | AsyncIterable[str],
        *,
        deep: bool = False,
        concurrency: int | None = None,
        all_agents: bool = False,
    ) -> AsyncIterator[Decision]:
        """Decisions (own token; every agent's with ``all_agents``) as they complete."""
        async with contextlib.aclosing(self._pairs(urls, deep, concurrency, all_agents)) as it:
            async for _url, decisions in it:
                for d in decisions:
                    yield d

    async def filter(
        self,
        urls: Iterable[str] | AsyncIterable[str],
        *,
        deep: bool = False,
        concurrency: int | None = None,
    ) -> AsyncIterator[tuple[str, Decision]]:
        """Only ingestable URLs, as ``(input url, own-token decision)``.

        With ``strict_any=True`` every configured agent must be allowed, not just the own one.
        """
        pairs = self._pairs(urls, deep, concurrency, all_agents=self.strict_any)
        async with contextlib.aclosing(pairs) as it:
            async for url, decisions in it:
                if self.ingest(decisions):
                    yield url, decisions[0]

    def ingest(self, decisions: Decision | Sequence[Decision]) -> bool:
        """True when the content may be ingested under this scanner's rule.

        Default: the own token's decision is ``allowed``. ``strict_any=True``: every decision
        given is ``allowed``. An empty sequence is never ingestable.
        """
        if isinstance(decisions, Decision):
            decisions = [decisions]
        if not decisions:
            return False
        if self.strict_any:
            return all(d.ingest for d in decisions)
        own = self.agent.lower()
        for d in decisions:
            if d.agent.lower() == own:
                return d.ingest
        return decisions[0].ingest

    # ------------------------------------------------------------------ ledger hook

    def _record(
        self,
        decisions: Sequence[Decision],
        site: policy.SiteSignals | None,
        page: Fetched | None = None,
    ) -> None:
        """Hand decisions and what they rest on to the ledger (no-op without one).

        ``site`` is None only for invalid URLs; ``page`` is the page head of a deep check, kept
        because page-level reservations (noai, tdm-reservation headers) are evidence too.
        """
        if self.ledger is None:
            return
        files = site.files if site is not None else None
        extra = site.rsl_documents if site is not None else None
        if page is None:
            self.ledger.record(decisions, files, None, extra)
        else:
            self.ledger.record(decisions, files, None, extra, page=page)
