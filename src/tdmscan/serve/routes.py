"""HTTP routes and middlewares of ``tdmscan serve`` (aiohttp's server)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..types import Decision
from .service import (
    BadInput,
    Gate,
    check_agent,
    check_purpose,
    normalise_headers,
    result_json,
)

GATE: web.AppKey[Gate] = web.AppKey("gate", Gate)
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
#: A batch answer is written in pieces of about this size when results are ready together.
_WRITE_CHUNK = 64 * 1024


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status, dumps=_dumps)


_HTTP_CODES = {
    404: "not-found",
    405: "method-not-allowed",
    413: "body-too-large",
    415: "unsupported-media-type",
}


def _route_label(request: web.Request) -> str:
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    return getattr(resource, "canonical", None) or "unmatched"


@web.middleware
async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error is a JSON ``{"error", "message"}``; every request is counted and timed."""
    gate = request.app[GATE]
    started = time.perf_counter()
    route = _route_label(request)
    try:
        resp = await handler(request)
    except BadInput as exc:
        gate.metrics.errors.labels(exc.code).inc()
        resp = error_response(exc.status, exc.code, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http-error")
        gate.metrics.errors.labels(code).inc()
        resp = error_response(exc.status, code, exc.reason)
        for k in ("Allow", "WWW-Authenticate"):
            if k in exc.headers:
                resp.headers[k] = exc.headers[k]
    except Exception as exc:
        # A bug, not bad input: still JSON, so a client fails closed on a parseable answer.
        request.app.logger.exception("tdmscan serve: error answering %s", request.path)
        gate.metrics.errors.labels("internal").inc()
        resp = error_response(
            500, "internal", f"internal error ({type(exc).__name__}); see the log"
        )
    gate.metrics.requests.labels(route, str(resp.status)).inc()
    gate.metrics.request_seconds.labels(route).observe(time.perf_counter() - started)
    return resp


def make_auth(token: str | None) -> Any:
    """Bearer-token check on every route but ``/healthz`` (a no-op without a token)."""
    expected = f"Bearer {token}".encode() if token else None

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is not None and request.path != "/healthz":
            got = request.headers.get("Authorization", "").encode()
            # Constant time: the comparison must not tell how much of a guess was right.
            if not hmac.compare_digest(got, expected):
                resp = error_response(401, "unauthorized", "a valid bearer token is required")
                resp.headers["WWW-Authenticate"] = 'Bearer realm="tdmscan"'
                request.app[GATE].metrics.errors.labels("unauthorized").inc()
                return resp
        return await handler(request)

    return auth


# ---------------------------------------------------------------------- request parsing


def _flag(request: web.Request, name: str) -> bool:
    v = request.query.get(name, "").strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise BadInput(f"{name} must be true or false, not {v[:32]!r}")


def _options(request: web.Request) -> tuple[str | None, str | None, bool]:
    q = request.query
    agent = check_agent(q["agent"]) if "agent" in q else None
    purpose = check_purpose(q["purpose"]) if "purpose" in q else None
    return agent, purpose, _flag(request, "all")


async def read_body(request: web.Request, cap: int) -> bytes:
    """The request body, refused with a 413 as soon as it passes ``cap`` bytes."""
    too_large = BadInput(f"request body over the {cap} byte cap", status=413, code="body-too-large")
    if request.content_length is not None and request.content_length > cap:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(_WRITE_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > cap:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def parse_urls(body: bytes, max_urls: int) -> list[str]:
    """A JSON array of strings, or lines (each a JSON string, ``{"url": ...}``, or bare)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("the body is not UTF-8") from None
    stripped = text.lstrip("\ufeff \t\r\n")
    urls: list[str] = []
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except ValueError as exc:
            raise BadInput(f"the body is not a JSON array: {exc}") from None
        if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
            raise BadInput("the JSON array must hold URL strings only")
        urls = value
    else:
        for n, line in enumerate(stripped.splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            if line[0] in '"{':
                try:
                    value = json.loads(line)
                except ValueError:
                    raise BadInput(f"line {n} is not valid JSON") from None
                if isinstance(value, dict):
                    value = value.get("url")
                if not isinstance(value, str):
                    raise BadInput(f'line {n}: expected a URL string or {{"url": "..."}}')
                line = value
            urls.append(line)
            if len(urls) > max_urls:
                break
    if len(urls) > max_urls:
        raise BadInput(
            f"more than {max_urls} URLs in one request; split the batch",
            status=413,
            code="too-many-urls",
        )
    if not urls:
        raise BadInput("no URLs in the body")
    return urls


# ---------------------------------------------------------------------- handlers


async def _timed_check(
    gate: Gate, route: str, url: str, agent: str | None, purpose: str | None, all_agents: bool
) -> list[Decision]:
    m = gate.metrics
    m.in_flight.inc()
    started = time.perf_counter()
    try:
        decisions = await gate.check(url, agent=agent, purpose=purpose, all_agents=all_agents)
    finally:
        m.in_flight.dec()
    m.check_seconds.observe(time.perf_counter() - started)
    m.observe_decisions(route, decisions)
    return decisions


async def check_one(request: web.Request) -> web.Response:
    gate = request.app[GATE]
    url = request.query.get("url")
    if not url:
        raise BadInput("missing query parameter: url")
    agent, purpose, all_agents = _options(request)
    decisions = await _timed_check(gate, "check", url, agent, purpose, all_agents)
    return web.json_response(result_json(url, decisions, all_agents), dumps=_dumps)


async def check_many(request: web.Request) -> web.StreamResponse:
    gate = request.app[GATE]
    cfg = gate.config
    agent, purpose, all_agents = _options(request)
    urls = parse_urls(await read_body(request, cfg.max_body_bytes), cfg.max_urls)
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson; charset=utf-8"})
    await resp.prepare(request)

    def line(url: str, task: asyncio.Task[list[Decision]]) -> str:
        exc = task.exception()
        if exc is None:
            return _dumps(result_json(url, task.result(), all_agents)) + "\n"
        code = exc.code if isinstance(exc, BadInput) else "internal"
        return (
            _dumps({"input": url, "error": code, "message": str(exc) or type(exc).__name__}) + "\n"
        )

    window: deque[tuple[str, asyncio.Task[list[Decision]]]] = deque()
    pending: list[str] = []
    pending_bytes = 0
    loop = asyncio.get_running_loop()
    try:
        for i in range(len(urls) + cfg.batch_concurrency):
            if i < len(urls):
                u = urls[i]
                task = loop.create_task(_timed_check(gate, "batch", u, agent, purpose, all_agents))
                gate.keep(task)
                window.append((u, task))
                if len(window) < cfg.batch_concurrency:
                    continue
            if not window:
                break
            u, task = window.popleft()
            if not task.done():
                # Answers that are ready go out before waiting on a slower one.
                if pending:
                    await resp.write("".join(pending).encode())
                    pending.clear()
                    pending_bytes = 0
                await asyncio.wait((task,))
            text = line(u, task)
            pending.append(text)
            pending_bytes += len(text)
            if pending_bytes >= _WRITE_CHUNK:
                await resp.write("".join(pending).encode())
                pending.clear()
                pending_bytes = 0
        if pending:
            await resp.write("".join(pending).encode())
        await resp.write_eof()
    except ConnectionResetError:
        # The client went away: checks in flight finish and are recorded (gate.keep holds
        # them); URLs not started yet are not checked.
        pass
    return resp


def _response_input(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput("the body must be a JSON object with url and status")
    url = value.get("url")
    if not isinstance(url, str) or not url:
        raise BadInput("url is required (a string)")
    status = value.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise BadInput("status is required (an integer 100..599)")
    if "body" in value and "body_base64" in value:
        raise BadInput("give body or body_base64, not both")
    body: bytes = b""
    if value.get("body") is not None:
        if not isinstance(value["body"], str):
            raise BadInput("body must be a string (use body_base64 for bytes)")
        body = value["body"].encode("utf-8", "surrogateescape")
    elif value.get("body_base64") is not None:
        raw = value["body_base64"]
        if not isinstance(raw, str):
            raise BadInput("body_base64 must be a base64 string")
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadInput("body_base64 is not valid base64") from None
    agent = value.get("agent")
    if agent is not None:
        if not isinstance(agent, str):
            raise BadInput("agent must be a string")
        agent = check_agent(agent)
    purpose = value.get("purpose")
    if purpose is not None:
        if not isinstance(purpose, str):
            raise BadInput("purpose must be a string")
        purpose = check_purpose(purpose)
    all_agents = value.get("all", False)
    if not isinstance(all_agents, bool):
        raise BadInput("all must be true or false")
    return {
        "url": url,
        "status": status,
        "headers": normalise_headers(value.get("headers")),
        "body": body,
        "agent": agent,
        "purpose": purpose,
        "all_agents": all_agents,
    }


async def check_response(request: web.Request) -> web.Response:
    gate = request.app[GATE]
    raw = await read_body(request, gate.config.max_body_bytes)
    try:
        value = json.loads(raw)
    except ValueError:
        raise BadInput("the body is not JSON") from None
    args = _response_input(value)
    url = args.pop("url")
    m = gate.metrics
    m.in_flight.inc()
    started = time.perf_counter()
    try:
        decisions = await gate.check_response(
            url, args.pop("status"), args.pop("headers"), args.pop("body"), **args
        )
    finally:
        m.in_flight.dec()
    m.check_seconds.observe(time.perf_counter() - started)
    m.observe_decisions("response", decisions)
    return web.json_response(result_json(url, decisions, args["all_agents"]), dumps=_dumps)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response(request.app[GATE].health(), dumps=_dumps)


async def metrics(request: web.Request) -> web.Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    body = generate_latest(request.app[GATE].metrics.registry)
    resp = web.Response(body=body)
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI], dumps=_dumps)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/check", check_one, allow_head=False)
    app.router.add_post("/v1/check", check_many)
    app.router.add_post("/v1/response", check_response)
    app.router.add_get("/healthz", healthz, allow_head=False)
    app.router.add_get("/metrics", metrics, allow_head=False)
    app.router.add_get("/openapi.json", openapi, allow_head=False)
