"""The gate behind the HTTP routes: one Scanner, its origin cache, and one ledger run.

Lifecycle: :meth:`Gate.start` opens the ledger run (kind ``serve``) and the Scanner;
:meth:`Gate.close` flushes and finishes the run. Between the two the ledger writer's own
timer flushes every ``flush_seconds``, so a process killed without warning loses at most the
rows received since the last flush.

Decisions for the service's own agent and default purpose go through the Scanner's public
``check`` / ``check_all`` / ``check_response``. A request naming another agent or purpose is
decided by the same pure policy on the same cached origin signals (``Scanner.site``), so
every agent and purpose shares one fetch of an origin's files, and recorded in the same run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .. import policy
from .._version import __version__
from ..fetch import FetchLimits, make_fetcher
from ..scanner import DEFAULT_AGENT, Scanner
from ..types import MODES, PURPOSES, Decision, Fetched
from ..urls import InvalidURL, parse_url
from .metrics import InstrumentedFetcher, Metrics

MiB = 1 << 20


@dataclass
class ServeConfig:
    """What ``tdmscan serve`` was started with."""

    ledger: Any  # a directory or a tdmscan.ledger.Ledger
    agents: Sequence[str] = (DEFAULT_AGENT,)  # first: the default agent of every request
    purpose: str = "train-ai"  # default purpose of every request
    mode: str = "conservative"
    training_agents: bool = True  # ?all=true also decides for the catalogue's training tokens
    terms: bool = False  # also read each origin's terms-of-use page (one more fetch per origin)
    host: str = "127.0.0.1"
    port: int = 8787
    token: str | None = None  # bearer token required on every route but /healthz
    timeout: float = 10.0  # each fetch's deadline (connect, redirects and body)
    ttl: float | None = None
    user_agent: str | None = None
    allow_private: bool = False
    max_body_bytes: int = 4 * MiB
    max_urls: int = 10_000  # per POST /v1/check
    batch_concurrency: int = 64  # checks in flight per POST /v1/check
    #: Fetches in flight at once, all origins together. Higher than a bulk scan's 100: a slow
    #: or dead origin holds its slot until the deadline, and a shared service must keep
    #: slots free for other crawlers' cold origins (benchmarks/bench_serve.py measures it).
    fetch_concurrency: int = 512
    flush_seconds: float = 2.0
    fetcher: str = "aiohttp"
    extra: dict[str, Any] = field(default_factory=dict)  # more Scanner keyword arguments

    def __post_init__(self) -> None:
        if self.purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if min(self.max_urls, self.max_body_bytes, self.batch_concurrency) < 1:
            raise ValueError("max_urls, max_body_bytes and batch_concurrency must be positive")
        if self.fetch_concurrency < 2:
            raise ValueError("fetch_concurrency must be at least 2")
        if not self.flush_seconds > 0:
            raise ValueError("flush_seconds must be positive")


class BadInput(ValueError):
    """A request the service refuses: answered with ``status`` and a one-line message."""

    def __init__(self, message: str, *, status: int = 400, code: str = "bad-request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def check_agent(value: str) -> str:
    a = value.strip()
    if not a or len(a) > 128 or any(ch.isspace() for ch in a) or "/" in a:
        raise BadInput(f"agent {value[:64]!r} is not a product token (no spaces or '/')")
    return a


def check_purpose(value: str) -> str:
    if value not in PURPOSES:
        raise BadInput(f"purpose {value[:64]!r} is not one of {', '.join(PURPOSES)}")
    return value


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def decision_json(d: Decision) -> dict[str, Any]:
    """``Decision.to_dict()`` plus ``ingest``, with timestamps as ISO 8601 strings."""
    out = d.to_dict()
    out["ingest"] = d.ingest
    robots = out.get("robots")
    if robots is not None and robots.get("fetched_at") is not None:
        robots["fetched_at"] = _iso(robots["fetched_at"])
    return out


def result_json(url: str, decisions: Sequence[Decision], all_agents: bool) -> dict[str, Any]:
    """One answer: the first agent's decision at the top level, every agent's when asked."""
    out = decision_json(decisions[0])
    out["input"] = url
    if all_agents:
        out["decisions"] = [decision_json(d) for d in decisions]
    return out


class _CountingRecorder:
    """The ledger recorder, counting the decision rows handed to it (for ``buffered``).

    Given to the Scanner as its ``ledger=`` before the run is opened (the run row names the
    Scanner's resolved agents); ``inner`` is set once the writer exists.
    """

    def __init__(self) -> None:
        self.inner: Any = None
        self.received = 0

    def record(self, decisions: Sequence[Decision], *args: Any, **kw: Any) -> None:
        if self.inner is None:
            raise RuntimeError("ledger run not open")
        self.inner.record(decisions, *args, **kw)
        self.received += len(decisions)


class Gate:
    """One Scanner and one ledger run for the lifetime of a server."""

    def __init__(self, config: ServeConfig, metrics: Metrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or Metrics()
        self.scanner: Scanner | None = None
        self.writer: Any = None
        self.run_id: str | None = None
        self.started_at = datetime.now(UTC)
        self._started = time.monotonic()
        self._recorder: _CountingRecorder | None = None
        self._fetcher: InstrumentedFetcher | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._written = 0

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Hold ``task`` until done: a check whose client left still finishes and is recorded."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Gate:
        from ..ledger import Ledger, RunInfo
        from ..ledger.recorder import SiteRecorder

        c = self.config
        limit_kw: dict[str, Any] = {
            "total_timeout": c.timeout,
            "connect_timeout": min(5.0, c.timeout),
            "global_concurrency": c.fetch_concurrency,
        }
        if c.user_agent:
            limit_kw["user_agent"] = c.user_agent
        limits = FetchLimits(**limit_kw)
        self._fetcher = InstrumentedFetcher(
            make_fetcher(c.fetcher, limits=limits, allow_private=c.allow_private),  # type: ignore[arg-type]
            self.metrics,
        )
        kw: dict[str, Any] = dict(c.extra)
        if c.ttl is not None:
            kw["ttl"] = c.ttl
        led = c.ledger if isinstance(c.ledger, Ledger) else Ledger(c.ledger)
        # The Scanner is built first (it resolves the agent list), the run opened after, so a
        # configuration error never leaves a dangling "running" run behind.
        recorder = _CountingRecorder()
        scanner = Scanner(
            agents=list(c.agents),
            mode=c.mode,
            purpose=c.purpose,
            include_training_agents=c.training_agents,
            terms=c.terms,
            allow_private=c.allow_private,
            limits=limits,
            fetcher=self._fetcher,  # type: ignore[arg-type]
            ledger=recorder,
            **kw,
        )
        run = RunInfo(
            kind="serve",
            agents=scanner.agents,
            user_agent=limits.user_agent,
            mode=c.mode,
            purpose=c.purpose,
            config={
                "command": "serve",
                "agents": list(scanner.agents),
                "allow_private": c.allow_private,
                "terms": c.terms,
                "timeout": c.timeout,
                "fetch_concurrency": c.fetch_concurrency,
                "ttl": c.ttl,
                "flush_seconds": c.flush_seconds,
                "auth": c.token is not None,
            },
            input_description=f"tdmscan serve on {c.host}:{c.port}",
        )
        self.writer = led.writer(run, flush_seconds=c.flush_seconds)
        self.run_id = run.run_id
        recorder.inner = SiteRecorder(self.writer)
        self._recorder = recorder
        self.scanner = scanner
        self.metrics.add_source(self.stats)
        return self

    async def close(self, error: BaseException | None = None) -> None:
        """Close the fetcher, flush every buffered row and finish the run (idempotent)."""
        try:
            if self._tasks:
                # Checks still running (a batch whose client left) finish into this run.
                await asyncio.wait(set(self._tasks), timeout=self.config.timeout * 3)
        finally:
            scanner, self.scanner = self.scanner, None
        try:
            if scanner is not None:
                await scanner.aclose()
                if self._fetcher is not None:
                    await self._fetcher.aclose()
        finally:
            if self.writer is not None:
                writer, self.writer = self.writer, None
                try:
                    writer.close(error=error)
                finally:
                    self._written = writer.decisions_written

    def stats(self) -> dict[str, Any]:
        s = self.scanner.stats.to_dict() if self.scanner is not None else {}
        w = self.writer
        written = w.decisions_written if w is not None else self._written
        received = self._recorder.received if self._recorder is not None else 0
        s["decisions_written"] = written
        s["buffered"] = max(0, received - written)
        return s

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.scanner is not None else "stopping",
            "version": __version__,
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "uptime_seconds": round(time.monotonic() - self._started, 3),
            "limits": {
                "max_urls": self.config.max_urls,
                "max_body_bytes": self.config.max_body_bytes,
            },
        }

    # ------------------------------------------------------------------ decisions

    def _scanner(self) -> Scanner:
        if self.scanner is None:
            raise BadInput("the service is shutting down", status=503, code="unavailable")
        return self.scanner

    def _is_default(self, agent: str | None, purpose: str | None) -> bool:
        s = self._scanner()
        return (agent is None or agent.lower() == s.agent.lower()) and (
            purpose is None or purpose == s.purpose
        )

    def _agents(self, agent: str | None, all_agents: bool) -> list[str]:
        s = self._scanner()
        if agent is None or agent.lower() == s.agent.lower():
            return list(s.agents) if all_agents else [s.agent]
        if not all_agents:
            return [agent]
        return [agent, *(a for a in s.agents if a.lower() != agent.lower())]

    async def _site(self, url: str) -> policy.SiteSignals | None:
        try:
            origin = parse_url(url).origin
        except InvalidURL:
            return None
        return await self._scanner().site(origin)

    async def check(
        self,
        url: str,
        *,
        agent: str | None = None,
        purpose: str | None = None,
        all_agents: bool = False,
    ) -> list[Decision]:
        """Decisions for ``url``: the requested agent's first, then (``all_agents``) the others."""
        s = self._scanner()
        if self._is_default(agent, purpose):
            if all_agents:
                return await s.check_all(url)
            return [await s.check(url)]
        agents = self._agents(agent, all_agents)
        site = await self._site(url)
        decisions = policy.decide(
            url, agents, site, None, purpose=purpose or s.purpose, mode=s.mode
        )
        if self._recorder is not None:
            files = site.files if site is not None else None
            extra = site.rsl_documents if site is not None else None
            self._recorder.record(decisions, files, None, extra)
        return decisions

    async def check_response(
        self,
        url: str,
        status: int,
        headers: Any,
        body: bytes,
        *,
        agent: str | None = None,
        purpose: str | None = None,
        all_agents: bool = False,
    ) -> list[Decision]:
        """Page-level decisions for a response the crawler fetched itself."""
        s = self._scanner()
        if self._is_default(agent, purpose):
            got = await s.check_response(url, status, headers, body, all_agents=all_agents)
            return list(got) if isinstance(got, list) else [got]
        agents = self._agents(agent, all_agents)
        page = Fetched(status=status, headers=headers, body=body, url=url)
        site = await self._site(url)
        decisions = policy.decide(
            url, agents, site, page, purpose=purpose or s.purpose, mode=s.mode
        )
        if self._recorder is not None:
            cap = s.limits.head_max_bytes
            if len(page.body) > cap:
                # As Scanner.check_response: the ledger keeps headers and the head.
                page = Fetched(
                    status=status,
                    headers=page.headers,
                    body=page.body[:cap],
                    url=url,
                    fetched_at=page.fetched_at,
                    truncated=True,
                )
            files = site.files if site is not None else None
            extra = site.rsl_documents if site is not None else None
            self._recorder.record(decisions, files, None, extra, page=page)
        return decisions


def normalise_headers(value: Any) -> list[tuple[str, str]]:
    """``headers`` of ``POST /v1/response``: ``[[name, value], ...]`` or ``{name: value}``."""
    if value is None:
        return []
    pairs: list[Any]
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = value
    else:
        raise BadInput("headers must be an object or a list of [name, value] pairs")
    out: list[tuple[str, str]] = []
    for p in pairs:
        if (
            not isinstance(p, (list, tuple))
            or len(p) != 2
            or not isinstance(p[0], str)
            or not isinstance(p[1], str)
        ):
            raise BadInput("headers must be an object or a list of [name, value] pairs")
        out.append((p[0], p[1]))
    return out
