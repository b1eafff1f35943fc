"""Scrapy downloader middleware: drop requests and responses reserved from AI training.

Enable it in the project settings::

    TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"  # Scrapy's default
    DOWNLOADER_MIDDLEWARES = {"tdmscan.integrations.scrapy.TdmscanMiddleware": 120}
    TDMSCAN_AGENTS = ["MyBot"]          # own product token first
    TDMSCAN_LEDGER = "ledger/"          # optional: every decision with its evidence

Before a request is downloaded the origin's robots.txt, tdmrep.json and ai.txt are checked
(fetched once per origin by the tdmscan Scanner's own cached client, never through Scrapy's
scheduler); a reserved or unknown URL raises ``IgnoreRequest``. After the download the page's
headers and ``<head>`` are checked too (``X-Robots-Tag: noai``, ``tdm-reservation`` meta, ...).

Unlike ``RobotsTxtMiddleware``, a robots.txt answering 5xx/429 or not answering at all means
"complete disallow" (RFC 9309 section 2.3.1.4) and the URL is dropped as ``unknown``.

Settings (all optional):

==================================  ===========================================================
``TDMSCAN_ENABLED``                 True; False disables the middleware
``TDMSCAN_AGENTS``                  own product token(s), list or comma-separated; default: the
                                    token of ``ROBOTSTXT_USER_AGENT`` or ``USER_AGENT``
``TDMSCAN_INCLUDE_TRAINING_AGENTS`` True: also decide (and record) for the catalogue's AI tokens
``TDMSCAN_STRICT_ANY``              False; True drops a URL unless *every* agent is allowed
``TDMSCAN_MODE``                    ``conservative`` (default) or ``strict``
``TDMSCAN_PURPOSE``                 ``train-ai`` (default), ``ai-input``, ``search``, ``tdm``
``TDMSCAN_LEDGER``                  ledger directory; unset: no ledger
``TDMSCAN_ALLOW_PRIVATE``           False; True lets the scanner fetch private addresses
``TDMSCAN_CHECK_RESPONSES``         True: also evaluate downloaded pages (headers, ``<head>``)
``TDMSCAN_FETCHER``                 ``aiohttp`` (default) or ``httpx``
``TDMSCAN_TIMEOUT``                 seconds per origin-file fetch (default 15)
``TDMSCAN_TERMS``                   False; True also reads each site's terms-of-use page (``tos:*``)
``TDMSCAN_EXCLUDE_LISTS``           CSV files of websites never to ingest (``domain,source,date``)
``TDMSCAN_SCANNER_OPTIONS``         dict of further :class:`~tdmscan.scanner.Scanner` arguments
==================================  ===========================================================

Per request, ``meta={"dont_check_tdmscan": True}`` skips both checks. The decisions are in
``response.meta["tdmscan"]`` (a list, own token first). Stats: ``tdmscan/verdict/<verdict>``
and ``tdmscan/reason/<code>`` count each URL's final outcome once (the request-stage decision
for dropped requests, the response-stage one for downloaded pages); ``tdmscan/forbidden``
(with ``/request`` and ``/response``) counts drops; ``tdmscan/request/verdict/<v>`` and
``tdmscan/response/verdict/<v>`` count each stage's checks; ``tdmscan/origins_fetched``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import CloseSpider, IgnoreRequest, NotConfigured
from scrapy.http import Request, Response

from ..signals.matching import product_token
from ..types import Decision
from ..urls import InvalidURL, parse_url
from . import SiteRecorder, combine, split_agents

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from ..scanner import Scanner

__all__ = ["TdmscanMiddleware"]

logger = logging.getLogger(__name__)

META_SKIP = "dont_check_tdmscan"
META_DECISIONS = "tdmscan"
_META_PENDING = "_tdmscan_pending"
_SITE_PATHS = ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt")


def _scrapy_headers(response: Response) -> list[tuple[str, str]]:
    out = []
    for name, values in response.headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for v in values:
            out.append((key, v.decode("latin-1") if isinstance(v, bytes) else str(v)))
    return out


class TdmscanMiddleware:
    """Downloader middleware; see the module docstring for settings and stats."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        if not settings.getbool("TDMSCAN_ENABLED", True):
            raise NotConfigured("TDMSCAN_ENABLED is False")
        self.crawler = crawler
        self.stats = crawler.stats
        agents = split_agents(settings.get("TDMSCAN_AGENTS"))
        if not agents:
            ua = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT") or "Scrapy"
            agents = [product_token(str(ua)) or "Scrapy"]
        self.agents = agents
        self.check_responses = settings.getbool("TDMSCAN_CHECK_RESPONSES", True)
        self.ledger_path = settings.get("TDMSCAN_LEDGER") or None
        options: dict[str, Any] = dict(settings.getdict("TDMSCAN_SCANNER_OPTIONS"))
        options.setdefault("mode", settings.get("TDMSCAN_MODE", "conservative"))
        options.setdefault("purpose", settings.get("TDMSCAN_PURPOSE", "train-ai"))
        options.setdefault("strict_any", settings.getbool("TDMSCAN_STRICT_ANY", False))
        options.setdefault("allow_private", settings.getbool("TDMSCAN_ALLOW_PRIVATE", False))
        options.setdefault(
            "include_training_agents", settings.getbool("TDMSCAN_INCLUDE_TRAINING_AGENTS", True)
        )
        options.setdefault("fetcher", settings.get("TDMSCAN_FETCHER", "aiohttp"))
        options.setdefault("terms", settings.getbool("TDMSCAN_TERMS", False))
        lists = settings.getlist("TDMSCAN_EXCLUDE_LISTS")
        if lists:
            from ..signals.exclusions import load_exclusion_list

            options.setdefault("exclude_lists", [load_exclusion_list(p) for p in lists])
        timeout = settings.getfloat("TDMSCAN_TIMEOUT", 0.0)
        if timeout > 0 and "limits" not in options:
            from ..fetch import FetchLimits

            options["limits"] = FetchLimits(total_timeout=timeout)
        self.scanner_options = options
        self.scanner: Scanner | None = None
        self._writer: Any = None
        self._sites: SiteRecorder | None = None
        self._ready: asyncio.Future[None] | None = None
        self._stop: asyncio.Event | None = None
        self._holder: asyncio.Task[None] | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TdmscanMiddleware:
        return cls(crawler)

    # ------------------------------------------------------------------ lifecycle

    async def spider_opened(self) -> None:
        try:
            await self._started()
        except Exception as exc:
            # Crawling on without the check would ingest reserved content: stop instead.
            logger.error("tdmscan could not start: %s", exc, extra={"spider": self.crawler.spider})
            raise CloseSpider(f"tdmscan_unavailable: {exc}") from exc

    async def spider_closed(self, reason: str = "") -> None:
        if self._stop is not None:
            self._stop.set()
        if self._holder is not None:
            await self._holder
            self._holder = None
        if self.scanner is not None:
            self.stats.set_value("tdmscan/origins_fetched", self.scanner.stats.origins_fetched)
        if self._writer is not None:
            self.stats.set_value("tdmscan/ledger_run_id", self._writer.run.run_id)
            self._writer.close()
            self._writer = None
            self._sites = None

    async def _started(self) -> Scanner:
        if self.scanner is not None:
            return self.scanner
        if self._ready is None:
            self._check_asyncio()
            self._ready = asyncio.get_running_loop().create_future()
            # The scanner is entered and left in one task: anyio scopes inside it need that.
            self._holder = asyncio.ensure_future(self._hold())
        await asyncio.shield(self._ready)
        assert self.scanner is not None
        return self.scanner

    async def _hold(self) -> None:
        from ..scanner import Scanner

        assert self._ready is not None
        self._stop = asyncio.Event()
        try:
            async with Scanner(agents=self.agents, **self.scanner_options) as scanner:
                if self.ledger_path:
                    from ..ledger import Ledger, RunInfo

                    run = RunInfo(
                        kind="scrapy",
                        agents=list(scanner.agents),
                        mode=scanner.mode,
                        purpose=scanner.purpose,
                        config={k: str(v) for k, v in self.scanner_options.items()},
                        input_description="scrapy spider "
                        + str(getattr(self.crawler.spider, "name", "?")),
                    )
                    self._writer = Ledger(self.ledger_path).writer(run)
                    self._sites = SiteRecorder(self._writer)
                self.scanner = scanner
                self._ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
                return
            raise

    @staticmethod
    def _check_asyncio() -> None:
        from scrapy.utils.asyncio import is_asyncio_available

        try:
            ok = is_asyncio_available()
        except RuntimeError:  # no reactor installed at all
            ok = False
        if not ok:
            raise RuntimeError(
                "TdmscanMiddleware needs asyncio: set TWISTED_REACTOR = "
                '"twisted.internet.asyncioreactor.AsyncioSelectorReactor"'
            )

    # ------------------------------------------------------------------ hooks

    def _skip(self, request: Request) -> bool:
        if request.meta.get(META_SKIP):
            return True
        url = request.url
        if not url.startswith(("http://", "https://")):
            return True
        # The origin files themselves are control files every crawler may read (RFC 9309).
        path = url.split("://", 1)[1]
        slash = path.find("/")
        return slash >= 0 and path[slash:] in _SITE_PATHS

    async def process_request(self, request: Request) -> None:
        pending = request.meta.pop(_META_PENDING, None)
        if pending and pending[0].url != request.url:
            # A redirect copied the previous hop's meta: that URL never got a response of
            # its own, so its request-stage decision is final.
            self._final(pending, stage="request", dropped=False)
        if self._skip(request):
            return None
        scanner = await self._started()
        if self._all_agents(scanner):
            decisions = await scanner.check_all(request.url)
        else:
            decisions = [await scanner.check(request.url)]
        await self._record_site(scanner, request.url)
        self.stats.inc_value(f"tdmscan/request/verdict/{self._governing(decisions).verdict}")
        # Set before a drop too, so an errback can read why.
        request.meta[META_DECISIONS] = decisions
        if not scanner.ingest(decisions):
            self._final(decisions, stage="request", dropped=True)
            self._drop(request, decisions, "request")
        request.meta[_META_PENDING] = decisions
        return None

    async def process_response(self, request: Request, response: Response) -> Response | Request:
        pending = request.meta.pop(_META_PENDING, None)
        if self._skip(request) or not self.check_responses:
            if pending:
                self._final(pending, stage="request", dropped=False)
            return response
        scanner = await self._started()
        cap = scanner.limits.head_max_bytes
        decisions = await scanner.check_response(
            response.url,
            response.status,
            _scrapy_headers(response),
            response.body[:cap],
            all_agents=self._all_agents(scanner),
        )
        if not isinstance(decisions, list):
            decisions = [decisions]
        await self._record_site(scanner, response.url)
        self.stats.inc_value(f"tdmscan/response/verdict/{self._governing(decisions).verdict}")
        request.meta[META_DECISIONS] = decisions
        if not scanner.ingest(decisions):
            self._final(decisions, stage="response", dropped=True, size=len(response.body))
            self._drop(request, decisions, "response")
        self._final(decisions, stage="response", dropped=False, size=len(response.body))
        return response

    async def process_exception(self, request: Request, exception: Exception) -> None:
        pending = request.meta.pop(_META_PENDING, None)
        if pending:
            self._final(pending, stage="request", dropped=False)
        return None

    # ------------------------------------------------------------------ bookkeeping

    def _all_agents(self, scanner: Scanner) -> bool:
        # Every agent's decision is needed for the ledger and for strict_any; otherwise the
        # own token's alone decides, which saves evaluating the whole catalogue per request.
        return self._writer is not None or scanner.strict_any

    async def _record_site(self, scanner: Scanner, url: str) -> None:
        """The origin files behind a decision go to the ledger as evidence (cache hit here)."""
        if self._sites is None:
            return
        try:
            origin = parse_url(url).origin
        except InvalidURL:
            return
        self._sites.add((await scanner.site(origin)).files)

    def _governing(self, decisions: Sequence[Decision]) -> Decision:
        """The decision the drop rests on: the own token's, or the worst with strict_any."""
        if self.scanner is not None and self.scanner.strict_any:
            worst = combine(decisions)
            assert worst is not None
            return worst
        return decisions[0]

    def _final(
        self, decisions: Sequence[Decision], *, stage: str, dropped: bool, size: int | None = None
    ) -> None:
        d = self._governing(decisions)
        self.stats.inc_value(f"tdmscan/verdict/{d.verdict}")
        for reason in d.reasons:
            self.stats.inc_value(f"tdmscan/reason/{reason}")
        if self._writer is not None:
            from ..ledger import DecisionContext

            ctx = DecisionContext(source_kind="own_crawl", content_size=size)
            self._writer.add_many(decisions, ctx)

    def _drop(self, request: Request, decisions: Sequence[Decision], stage: str) -> None:
        d = self._governing(decisions)
        self.stats.inc_value("tdmscan/forbidden")
        self.stats.inc_value(f"tdmscan/forbidden/{stage}")
        why = ", ".join(d.reasons) or d.verdict
        logger.debug(
            "Forbidden by tdmscan (%s, %s, %s): %s",
            stage,
            d.agent,
            why,
            request,
            extra={"spider": self.crawler.spider},
        )
        raise IgnoreRequest(f"Forbidden by tdmscan: {d.verdict} ({why})")
