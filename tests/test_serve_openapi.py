"""The OpenAPI 3.1 document of ``tdmscan serve``: valid itself, and true of real responses."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_util import Server

from tdmscan.fakeweb import FakeWeb, Resp, Site

openapi_spec_validator = pytest.importorskip("openapi_spec_validator")
jsonschema = pytest.importorskip("jsonschema")

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    web = FakeWeb(
        [
            Site("open.test", {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n")}),
            Site("gpt.test", {"/robots.txt": Resp(body="User-agent: GPTBot\nDisallow: /\n")}),
            Site("down.test", {"/robots.txt": Resp(503)}),
        ]
    ).start()
    try:
        ledger = tmp_path_factory.mktemp("openapi-ledger")
        token = tmp_path_factory.mktemp("tok") / "token"
        token.write_text("tok-123\n")
        with Server(
            Path(ledger),
            "--token-file",
            str(token),
            "--max-urls",
            "5",
            proxy=web.proxy_url,
        ) as srv:
            yield srv
    finally:
        web.stop()


@pytest.fixture(scope="module")
def doc(server: Server) -> dict[str, Any]:
    with server.client(token="tok-123") as c:
        r = c.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A JSON Schema 2020-12 validator (OpenAPI 3.1's dialect) resolving the document's refs."""
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


def response_schema(doc: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    resp = doc["paths"][path][method]["responses"][str(status)]
    content = resp["content"]
    if "application/json" in content:
        return content["application/json"]["schema"]
    return content["application/x-ndjson"]["x-item-schema"]


def check(doc: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    validator(doc, response_schema(doc, path, method, status)).validate(body)


def test_document_validates_as_openapi_3_1(doc: dict[str, Any]) -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    validate(doc, cls=OpenAPIV31SpecValidator)
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {
        "/v1/check",
        "/v1/response",
        "/healthz",
        "/metrics",
        "/openapi.json",
    }
    # The server's own limits are in the contract.
    assert "At most 5 URLs" in doc["paths"]["/v1/check"]["post"]["requestBody"]["description"]


def test_real_responses_match_the_document(server: Server, doc: dict[str, Any]) -> None:
    with server.client(token="tok-123") as c:
        for url in ("http://open.test/a", "http://gpt.test/a", "http://down.test/a", "mailto:x"):
            for params in ({}, {"all": "true"}, {"agent": "GPTBot", "purpose": "search"}):
                r = c.get("/v1/check", params={"url": url, **params})
                assert r.status_code == 200
                check(doc, "/v1/check", "get", 200, r.json())

        r = c.post("/v1/check", json=["http://open.test/b", "http://gpt.test/b", ""])
        lines = [json.loads(x) for x in r.text.splitlines()]
        assert len(lines) == 3
        for line in lines:
            check(doc, "/v1/check", "post", 200, line)

        body = {
            "url": "http://open.test/p",
            "status": 200,
            "headers": [["X-Robots-Tag", "noai"], ["Content-Type", "text/html"]],
            "body_base64": base64.b64encode(b"<html><head></head></html>").decode(),
        }
        validator(
            doc,
            doc["paths"]["/v1/response"]["post"]["requestBody"]["content"]["application/json"][
                "schema"
            ],
        ).validate(body)
        r = c.post("/v1/response", json=body)
        assert r.status_code == 200
        check(doc, "/v1/response", "post", 200, r.json())

        r = c.get("/healthz")
        check(doc, "/healthz", "get", 200, r.json())

        for method, path, kw, status in [
            ("get", "/v1/check", {}, 400),
            ("post", "/v1/check", {"json": ["http://open.test/"] * 6}, 413),
            ("post", "/v1/response", {"json": {"url": 1}}, 400),
        ]:
            r = c.request(method.upper(), path, **kw)
            assert r.status_code == status
            check(doc, path, method, status, r.json())
        r = c.get("/metrics")
        assert r.headers["content-type"].startswith("text/plain")

    with server.client() as anonymous:
        r = anonymous.get("/v1/check", params={"url": "http://open.test/"})
        assert r.status_code == 401
        check(doc, "/v1/check", "get", 401, r.json())


def test_a_wrong_response_would_fail_validation(doc: dict[str, Any]) -> None:
    """The schemas are tight enough to catch a drift: a missing or mistyped field fails."""
    v = validator(doc, response_schema(doc, "/v1/check", "get", 200))
    good = {
        "input": "http://a.test/",
        "url": "http://a.test/",
        "agent": "tdmscan",
        "purpose": "train-ai",
        "mode": "conservative",
        "verdict": "allowed",
        "ingest": True,
        "reasons": [],
        "evidence": [],
        "robots": None,
    }
    v.validate(good)
    for broken in (
        {k: v for k, v in good.items() if k != "ingest"},
        {**good, "verdict": "maybe"},
        {**good, "reasons": "robots:disallow"},
        {**good, "robots": {"branch": "parsed", "verdict": "sometimes"}},
    ):
        assert not v.is_valid(broken)
