"""A typed Python client for ``tdmscan serve`` (sync and async, on httpx).

For a crawler that talks to a shared tdmscan service instead of running its own Scanner::

    from tdmscan.client import Client

    with Client("http://127.0.0.1:8787", token_file="token.txt") as gate:
        d = gate.check("https://example.com/a")
        if d.ingest:
            ...
        for r in gate.check_many(urls):          # streamed, in input order
            ...

Only httpx is imported: this module works in a process that has none of the Scanner's
dependencies loaded. Errors the server answers (4xx/5xx) raise :class:`ServeError`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

__all__ = ["AsyncClient", "BatchFailure", "CheckResult", "Client", "ServeError"]

DEFAULT_URL = "http://127.0.0.1:8787"
#: URLs per POST /v1/check (the server's default cap is 10,000).
DEFAULT_BATCH = 1_000
#: Body bytes sent to /v1/response: page signals live in the headers and the <head>.
DEFAULT_BODY_BYTES = 512 * 1024

Verdict = Literal["allowed", "reserved", "unknown", "invalid"]


class ServeError(Exception):
    """The server refused a request: ``status`` (HTTP), ``error`` (code), ``message``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One decision. ``ingest`` is true only for ``allowed``; ``unknown`` means retry later."""

    input: str
    url: str
    agent: str
    purpose: str
    mode: str
    verdict: Verdict
    ingest: bool
    reasons: tuple[str, ...]
    evidence: tuple[dict[str, Any], ...] = ()
    robots: dict[str, Any] | None = None
    licences: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    tdm_policy: str | None = None
    #: With ``all_agents=True``: one result per configured agent, the requested one first.
    decisions: tuple[CheckResult, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, d: Mapping[str, Any], input: str | None = None) -> CheckResult:
        return cls(
            input=str(d.get("input", input if input is not None else d["url"])),
            url=d["url"],
            agent=d["agent"],
            purpose=d["purpose"],
            mode=d["mode"],
            verdict=d["verdict"],
            ingest=bool(d["ingest"]),
            reasons=tuple(d.get("reasons") or ()),
            evidence=tuple(d.get("evidence") or ()),
            robots=d.get("robots"),
            licences=tuple(d.get("licences") or ()),
            errors=tuple(d.get("errors") or ()),
            tdm_policy=d.get("tdm_policy"),
            decisions=tuple(cls.from_json(x, input) for x in d.get("decisions") or ()),
            raw=dict(d),
        )


@dataclass(frozen=True, slots=True)
class BatchFailure:
    """A URL of a batch the server could not decide (never ingest it)."""

    input: str
    error: str
    message: str
    ingest: bool = False
    verdict: None = None


BatchItem = CheckResult | BatchFailure


def _token(token: str | None, token_file: str | Path | None) -> str | None:
    if token is not None and token_file is not None:
        raise ValueError("give token or token_file, not both")
    if token_file is not None:
        token = Path(token_file).read_text(encoding="utf-8").strip()
    return token or None


def _params(agent: str | None, purpose: str | None, all_agents: bool) -> dict[str, str]:
    p: dict[str, str] = {}
    if agent is not None:
        p["agent"] = agent
    if purpose is not None:
        p["purpose"] = purpose
    if all_agents:
        p["all"] = "true"
    return p


def _headers_list(headers: Any) -> list[list[str]]:
    if not headers:
        return []
    if hasattr(headers, "multi_items"):  # httpx.Headers: repeated fields kept apart
        items: Iterable[Any] = headers.multi_items()
    elif isinstance(headers, Mapping):
        items = headers.items()
    else:
        items = headers
    out = []
    for k, v in items:
        k = k.decode("latin-1") if isinstance(k, bytes) else str(k)
        v = v.decode("latin-1") if isinstance(v, bytes) else str(v)
        out.append([k, v])
    return out


def _response_body(
    url: str,
    status: int,
    headers: Any,
    body: bytes | str,
    agent: str | None,
    purpose: str | None,
    all_agents: bool,
    max_body: int,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"url": url, "status": int(status), "headers": _headers_list(headers)}
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body:
        doc["body_base64"] = base64.b64encode(bytes(body[:max_body])).decode("ascii")
    doc.update(_params(agent, purpose, False))
    if all_agents:
        doc["all"] = True
    return doc


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        doc = resp.json()
        error, message = str(doc["error"]), str(doc["message"])
    except (ValueError, KeyError, TypeError):
        error, message = "http-error", resp.text[:200]
    raise ServeError(resp.status_code, error, message)


def _item(line: str) -> BatchItem:
    d = json.loads(line)
    if "error" in d and "verdict" not in d:
        return BatchFailure(str(d.get("input", "")), str(d["error"]), str(d.get("message", "")))
    return CheckResult.from_json(d)


def _chunks(urls: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for u in urls:
        chunk.append(u)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Base:
    def __init__(
        self,
        base_url: str,
        token: str | None,
        token_file: str | Path | None,
        agent: str | None,
        purpose: str | None,
        batch_size: int,
        max_body: int,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.agent = agent
        self.purpose = purpose
        self.batch_size = batch_size
        self.max_body = max_body
        tok = _token(token, token_file)
        self._headers = {"Authorization": f"Bearer {tok}"} if tok else {}

    def _p(self, agent: str | None, purpose: str | None, all_agents: bool) -> dict[str, str]:
        return _params(agent or self.agent, purpose or self.purpose, all_agents)

    def _adopt(self, limits: Mapping[str, Any], sent: int) -> bool:
        """After a 413 on a batch of ``sent`` URLs: take the server's cap if it is smaller."""
        cap = limits.get("max_urls")
        if isinstance(cap, int) and 1 <= cap < sent:
            self.batch_size = min(self.batch_size, cap)
            return True
        return False

    def _smaller(self, r: httpx.Response, sent: int, health: Any) -> bool:
        if r.status_code != 413 or sent <= 1:
            return False
        return self._adopt(health().get("limits") or {}, sent)


class Client(_Base):
    """Blocking client. ``trust_env=False`` by default: a crawler's HTTP_PROXY is meant for the
    web, not for the tdmscan service next to it."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        token_file: str | Path | None = None,
        agent: str | None = None,
        purpose: str | None = None,
        timeout: float = 60.0,
        batch_size: int = DEFAULT_BATCH,
        max_body: int = DEFAULT_BODY_BYTES,
        trust_env: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, token, token_file, agent, purpose, batch_size, max_body)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=self._headers,
            timeout=timeout,
            trust_env=trust_env,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def check(
        self,
        url: str,
        *,
        agent: str | None = None,
        purpose: str | None = None,
        all_agents: bool = False,
    ) -> CheckResult:
        r = self._http.get("/v1/check", params={"url": url, **self._p(agent, purpose, all_agents)})
        _raise_for(r)
        return CheckResult.from_json(r.json(), url)

    def check_many(
        self,
        urls: Iterable[str],
        *,
        agent: str | None = None,
        purpose: str | None = None,
        all_agents: bool = False,
    ) -> Iterator[BatchItem]:
        """Results in input order, streamed; ``urls`` is sent ``batch_size`` at a time."""
        params = self._p(agent, purpose, all_agents)
        todo = list(_chunks(urls, self.batch_size))
        while todo:
            chunk = todo.pop(0)
            with self._http.stream("POST", "/v1/check", params=params, json=chunk) as r:
                if r.status_code >= 400:
                    r.read()
                    if self._smaller(r, len(chunk), self.health):
                        todo[:0] = _chunks(chunk, self.batch_size)
                        continue
                    _raise_for(r)
                for line in r.iter_lines():
                    if line:
                        yield _item(line)

    def check_response(
        self,
        url: str,
        status: int,
        headers: Any = (),
        body: bytes | str = b"",
        *,
        agent: str | None = None,
        purpose: str | None = None,
        all_agents: bool = False,
    ) -> CheckResult:
        """The page-level decision for a response your crawler fetched."""
        doc = _response_body(
            url, status, headers, body, agent or self.agent, purpose or self.purpose,
            all_agents, self.max_body,
        )  # fmt: skip
        r = self._http.post("/v1/response", json=doc)
        _raise_for(r)
        return CheckResult.from_json(r.json(), url)

    def health(self) -> dict[str, Any]:
        r = self._http.get("/healthz")
        _raise_for(r)
        return dict(r.json())

    def metrics(self) -> str:
        r = self._http.get("/metrics")
        _raise_for(r)
        return r.text


class AsyncClient(_Base):
    """The same API as :class:`Client`, for asyncio (``async with AsyncClient(...) as gate``)."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        token_file: str | Path | None = None,
        agent: str | None = None,
        purpose: str | None = None,
        timeout: float = 60.0,
        batch_size: int = DEFAULT_BATCH,
        max_body: int = DEFAULT_BODY_BYTES,
        trust_env: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        super().__init__(base_url, token, token_file, agent, purpose, batch_size, max_body)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=timeout,
            trust_env=trust_env,
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def check(
        self,
        url: str,
        *,
        agent: str | None = None,
        purpose: str | None = None,
        all_agents: bool = False,
    ) -> CheckResult:
        params = {"url": url, **self._p(agent, purpose, all_agents)}
        r = await self._http.get("/v1/check", params=params)
        _raise_for(r)
        return CheckResult.from_json(r.json(), url)

    async def check_many(
        self,
        urls: Iterable[str],
        *,
        agent: str | None = None,
        purpose: str | None = None,
        all_agents: bool = False,
    ) -> AsyncIterator[BatchItem]:
        params = self._p(agent, purpose, all_agents)
        todo = list(_chunks(urls, self.batch_size))
        while todo:
            chunk = todo.pop(0)
            async with self._http.stream("POST", "/v1/check", params=params, json=chunk) as r:
                if r.status_code >= 400:
                    await r.aread()
                    if r.status_code == 413 and len(chunk) > 1:
                        limits = (await self.health()).get("limits") or {}
                        if self._adopt(limits, len(chunk)):
                            todo[:0] = _chunks(chunk, self.batch_size)
                            continue
                    _raise_for(r)
                async for line in r.aiter_lines():
                    if line:
                        yield _item(line)

    async def check_response(
        self,
        url: str,
        status: int,
        headers: Any = (),
        body: bytes | str = b"",
        *,
        agent: str | None = None,
        purpose: str | None = None,
        all_agents: bool = False,
    ) -> CheckResult:
        doc = _response_body(
            url, status, headers, body, agent or self.agent, purpose or self.purpose,
            all_agents, self.max_body,
        )  # fmt: skip
        r = await self._http.post("/v1/response", json=doc)
        _raise_for(r)
        return CheckResult.from_json(r.json(), url)

    async def health(self) -> dict[str, Any]:
        r = await self._http.get("/healthz")
        _raise_for(r)
        return dict(r.json())

    async def metrics(self) -> str:
        r = await self._http.get("/metrics")
        _raise_for(r)
        return r.text
