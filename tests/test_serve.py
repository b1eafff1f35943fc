"""``tdmscan serve`` as a real process on a real socket, in front of the fake web."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_util import SRC, Server

from tdmscan.fakeweb import FakeWeb, Resp, Site
from tdmscan.ledger import Ledger

pytestmark = pytest.mark.timeout(120)

OPEN = "User-agent: *\nAllow: /\n"
GPT = "User-agent: GPTBot\nDisallow: /\n"
PRIVATE = "User-agent: *\nDisallow: /private/\n"


def sites() -> list[Site]:
    return [
        Site("open.test", {"/robots.txt": Resp(body=OPEN)}),
        Site("gpt.test", {"/robots.txt": Resp(body=GPT)}),
        Site("private.test", {"/robots.txt": Resp(body=PRIVATE)}),
        Site("down.test", {"/robots.txt": Resp(503)}),
        Site(
            "tdm.test",
            {
                "/robots.txt": Resp(body=OPEN),
                "/.well-known/tdmrep.json": Resp(
                    body='[{"location": "/", "tdm-reservation": 1}]',
                    content_type="application/json",
                ),
            },
        ),
        Site("slow.test", {"/robots.txt": Resp(body=OPEN, delay=1.5)}),
        Site("dead.test", {"/robots.txt": Resp(hang=True)}),
        Site("big.test", {"/robots.txt": Resp(body=PRIVATE, oversize=3 << 20)}),
        Site(
            "terms.test",
            {
                "/robots.txt": Resp(body=OPEN),
                "/": Resp(
                    body='<html><body><a href="/terms">Terms of use</a></body></html>',
                    content_type="text/html",
                ),
                "/terms": Resp(
                    body="<html><body>Text and data mining of this site is prohibited. We "
                    "reserve all rights under Article 4 of Directive 2019/790.</body></html>",
                    content_type="text/html",
                ),
            },
        ),
    ] + [Site(f"s{i}.test", {"/robots.txt": Resp(body=PRIVATE)}) for i in range(20)]


@pytest.fixture(scope="module")
def web() -> Iterator[FakeWeb]:
    with FakeWeb(sites()) as fw:
        yield fw


@pytest.fixture(scope="module")
def shared(web: FakeWeb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the read-only tests of this module."""
    ledger = tmp_path_factory.mktemp("serve-ledger")
    with Server(
        ledger,
        "--agent",
        "tdmscan",
        "--max-urls",
        "300",
        "--max-body-bytes",
        "20000",
        proxy=web.proxy_url,
    ) as srv:
        yield srv


def rows(ledger: Path, run_id: str | None = None) -> list[tuple]:
    con = Ledger(ledger).connect()
    try:
        sql = "SELECT url, agent, purpose, verdict FROM decisions"
        if run_id:
            return con.execute(sql + " WHERE run_id = ? ORDER BY url", [run_id]).fetchall()
        return con.execute(sql + " ORDER BY url").fetchall()
    finally:
        con.close()


def runs(ledger: Path) -> list[tuple]:
    con = Ledger(ledger).connect()
    try:
        return con.execute(
            "SELECT run_id, kind, status, decisions FROM runs ORDER BY started_at"
        ).fetchall()
    finally:
        con.close()


# ---------------------------------------------------------------------- checks


def test_get_check_decides_per_origin_signals(shared: Server) -> None:
    with shared.client() as c:
        expect = {
            "http://open.test/a": ("allowed", []),
            "http://gpt.test/a": ("reserved", ["robots:training-agent-disallow"]),
            "http://private.test/private/x": ("reserved", ["robots:disallow"]),
            "http://private.test/public": ("allowed", []),
            "http://down.test/a": ("unknown", ["robots:unreachable"]),
            "http://tdm.test/a": ("reserved", ["tdmrep:reserved"]),
            "not a url": ("invalid", None),
        }
        for url, (verdict, reasons) in expect.items():
            r = c.get("/v1/check", params={"url": url})
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("application/json")
            d = r.json()
            assert d["input"] == url
            assert d["verdict"] == verdict, (url, d)
            assert d["ingest"] is (verdict == "allowed")
            assert d["agent"] == "tdmscan" and d["purpose"] == "train-ai"
            if reasons is not None:
                assert d["reasons"] == reasons
        d = c.get("/v1/check", params={"url": "http://private.test/private/x"}).json()
        assert d["robots"]["branch"] == "parsed"
        assert d["robots"]["matched_rule"] == "Disallow: /private/"
        assert d["robots"]["matched_line"] == 2
        assert any(e["decisive"] and e["protocol"] == "robots" for e in d["evidence"])


def test_agent_purpose_and_all_per_request(shared: Server) -> None:
    with shared.client() as c:

        def get(**params: str) -> dict:
            r = c.get("/v1/check", params={"url": "http://gpt.test/a", **params})
            assert r.status_code == 200, r.text
            return r.json()

        assert get(agent="GPTBot")["reasons"] == ["robots:disallow"]
        assert get(agent="GPTBot")["agent"] == "GPTBot"
        d = get(purpose="search")
        assert (d["verdict"], d["purpose"]) == ("allowed", "search")
        assert get(agent="GPTBot", purpose="search")["verdict"] == "reserved"
        d = get(all="true")
        agents = [x["agent"] for x in d["decisions"]]
        assert agents[0] == "tdmscan" and "GPTBot" in agents and "CCBot" in agents
        assert {x["verdict"] for x in d["decisions"] if x["agent"] == "GPTBot"} == {"reserved"}
        d = get(agent="OtherBot", all="1", purpose="search")
        assert d["agent"] == "OtherBot" and d["decisions"][0]["agent"] == "OtherBot"
        assert len(d["decisions"]) == len(agents) + 1
        assert all(x["purpose"] == "search" for x in d["decisions"])


def test_batch_streams_in_input_order(shared: Server) -> None:
    # The slow origin first: later answers must wait for it to keep the order, and every
    # line must be the answer to its own input.
    urls = ["http://slow.test/x"]
    for i in range(150):
        urls.append(f"http://s{i % 20}.test/private/{i}" if i % 3 else f"http://s{i % 20}.test/{i}")
    urls.append("ftp://nope")
    with shared.client() as c:
        with c.stream("POST", "/v1/check", json=urls) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(line) for line in r.iter_lines() if line]
        assert [x["input"] for x in lines] == urls
        for x in lines[1:-1]:
            assert x["verdict"] == ("reserved" if "/private/" in x["input"] else "allowed")
        assert lines[0]["verdict"] == "allowed"
        assert lines[-1]["verdict"] == "invalid"

        # JSON lines: strings, {"url": ...} objects and bare URLs, with agent= for all.
        body = '"http://gpt.test/a"\n{"url": "http://open.test/b"}\n\nhttp://gpt.test/c\n'
        r = c.post("/v1/check", params={"agent": "GPTBot"}, content=body)
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert [(x["input"], x["verdict"], x["agent"]) for x in lines] == [
            ("http://gpt.test/a", "reserved", "GPTBot"),
            ("http://open.test/b", "allowed", "GPTBot"),
            ("http://gpt.test/c", "reserved", "GPTBot"),
        ]


def test_response_route_decides_the_page(shared: Server) -> None:
    import base64

    with shared.client() as c:

        def post(**body: object) -> dict:
            r = c.post("/v1/response", json={"url": "http://open.test/p", "status": 200, **body})
            assert r.status_code == 200, r.text
            return r.json()

        assert post(headers={"Content-Type": "text/html"}, body="<html></html>")["verdict"] == (
            "allowed"
        )
        d = post(headers=[["X-Robots-Tag", "noai"]])
        assert (d["verdict"], d["reasons"]) == ("reserved", ["header:noai"])
        html = b'<html><head><meta name="robots" content="noai"></head></html>'
        d = post(
            headers=[["Content-Type", "text/html"]],
            body_base64=base64.b64encode(html).decode(),
        )
        assert d["reasons"] == ["meta:noai"]
        d = post(headers={"tdm-reservation": "1"}, agent="GPTBot", purpose="tdm")
        assert (d["agent"], d["purpose"], d["verdict"]) == ("GPTBot", "tdm", "reserved")
        assert "tdmrep:reserved" in d["reasons"]
        d = post(headers={"X-Robots-Tag": "noai"}, all=True)
        assert len(d["decisions"]) > 1 and d["decisions"][0]["agent"] == "tdmscan"
        # The origin's robots.txt still counts for a page the crawler fetched itself.
        r = c.post("/v1/response", json={"url": "http://private.test/private/p", "status": 200})
        assert r.json()["verdict"] == "reserved"


# ---------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "code", "needle"),
    [
        ("GET", "/v1/check", {}, 400, "bad-request", "missing query parameter: url"),
        ("GET", "/v1/check", {"params": {"url": ""}}, 400, "bad-request", "url"),
        (
            "GET",
            "/v1/check",
            {"params": {"url": "http://a.test/", "purpose": "x"}},
            400,
            "bad-request",
            "purpose",
        ),
        (
            "GET",
            "/v1/check",
            {"params": {"url": "http://a.test/", "agent": "My Bot"}},
            400,
            "bad-request",
            "product token",
        ),
        (
            "GET",
            "/v1/check",
            {"params": {"url": "http://a.test/", "all": "maybe"}},
            400,
            "bad-request",
            "all",
        ),
        ("POST", "/v1/check", {"content": b""}, 400, "bad-request", "no URLs"),
        ("POST", "/v1/check", {"content": b"[1, 2]"}, 400, "bad-request", "URL strings"),
        ("POST", "/v1/check", {"content": b'["http://a'}, 400, "bad-request", "JSON array"),
        ("POST", "/v1/check", {"content": b"\xff\xfe"}, 400, "bad-request", "UTF-8"),
        ("POST", "/v1/check", {"content": b'{"u": 1}\n'}, 400, "bad-request", "line 1"),
        ("POST", "/v1/check", {"json": ["http://a.test/"] * 301}, 413, "too-many-urls", "300"),
        ("POST", "/v1/check", {"content": b"x" * 20001}, 413, "body-too-large", "20000"),
        ("POST", "/v1/response", {"content": b"nope"}, 400, "bad-request", "not JSON"),
        ("POST", "/v1/response", {"json": []}, 400, "bad-request", "JSON object"),
        ("POST", "/v1/response", {"json": {"status": 200}}, 400, "bad-request", "url"),
        ("POST", "/v1/response", {"json": {"url": "http://a.test/"}}, 400, "bad-request", "status"),
        (
            "POST",
            "/v1/response",
            {"json": {"url": "http://a.test/", "status": 99}},
            400,
            "bad-request",
            "status",
        ),
        (
            "POST",
            "/v1/response",
            {"json": {"url": "http://a.test/", "status": 200, "headers": [["a"]]}},
            400,
            "bad-request",
            "headers",
        ),
        (
            "POST",
            "/v1/response",
            {"json": {"url": "http://a.test/", "status": 200, "body_base64": "!!"}},
            400,
            "bad-request",
            "base64",
        ),
        (
            "POST",
            "/v1/response",
            {"json": {"url": "http://a.test/", "status": 200, "body": "a", "body_base64": ""}},
            400,
            "bad-request",
            "not both",
        ),
        ("GET", "/nope", {}, 404, "not-found", ""),
        ("DELETE", "/v1/check", {}, 405, "method-not-allowed", ""),
    ],
)
def test_bad_input_is_a_clear_json_4xx(
    shared: Server, method: str, path: str, kw: dict, status: int, code: str, needle: str
) -> None:
    with shared.client() as c:
        r = c.request(method, path, **kw)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code
    assert needle in body["message"]
    assert "\n" not in body["message"] and len(body["message"]) < 200


# ---------------------------------------------------------------------- metrics


def test_metrics_count_verdicts_reasons_cache_and_fetches(shared: Server) -> None:
    with shared.client() as c:
        for _ in range(3):
            c.get("/v1/check", params={"url": "http://private.test/private/m"})
        c.get("/v1/check", params={"url": "http://open.test/m"})
        text = c.get("/metrics").text
    fams = {f.name: f for f in text_string_to_metric_families(text)}

    def value(name: str, sample: str, **labels: str) -> float:
        for s in fams[name].samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        raise AssertionError(f"no {sample} {labels}")

    assert value("tdmscan_serve_checks", "tdmscan_serve_checks_total", verdict="reserved") >= 3
    assert value("tdmscan_serve_checks", "tdmscan_serve_checks_total", verdict="allowed") >= 1
    assert value("tdmscan_serve_reasons", "tdmscan_serve_reasons_total", reason="robots:disallow")
    hits = value("tdmscan_serve_origin_cache", "tdmscan_serve_origin_cache_total", result="hit")
    misses = value("tdmscan_serve_origin_cache", "tdmscan_serve_origin_cache_total", result="miss")
    assert hits >= 2 and misses >= 2
    assert value("tdmscan_serve_fetches", "tdmscan_serve_fetches_total", outcome="2xx") >= 2
    assert value("tdmscan_serve_fetches", "tdmscan_serve_fetches_total", outcome="4xx") >= 1
    assert value("tdmscan_serve_fetches", "tdmscan_serve_fetches_total", outcome="5xx") >= 1
    assert value("tdmscan_serve_check_seconds", "tdmscan_serve_check_seconds_count") >= 4
    assert (
        value(
            "tdmscan_serve_request_seconds",
            "tdmscan_serve_request_seconds_count",
            route="/v1/check",
        )
        >= 4
    )
    assert (
        value(
            "tdmscan_serve_requests", "tdmscan_serve_requests_total", route="/v1/check", code="200"
        )
        >= 4
    )
    assert "tdmscan_serve_ledger_buffered" in fams


def test_healthz(shared: Server) -> None:
    with shared.client() as c:
        h = c.get("/healthz").json()
    assert h["status"] == "ok" and h["run_id"] and h["uptime_seconds"] > 0


# ---------------------------------------------------------------------- token


def test_bearer_token_on_every_route_but_healthz(web: FakeWeb, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    with Server(tmp_path / "l", "--token-file", str(token_file), proxy=web.proxy_url) as srv:
        with srv.client() as c:
            assert c.get("/healthz").status_code == 200
            for path in ("/v1/check?url=http://open.test/", "/metrics", "/openapi.json"):
                r = c.get(path)
                assert r.status_code == 401, path
                assert r.json()["error"] == "unauthorized"
                assert r.headers["www-authenticate"].startswith("Bearer")
                wrong = c.get(path, headers={"Authorization": "Bearer s3cret-tokeN"})
                assert wrong.status_code == 401
            assert c.post("/v1/check", json=["http://open.test/"]).status_code == 401
            assert c.post("/v1/response", json={}).status_code == 401
        with srv.client(token="s3cret-token") as c:
            assert c.get("/v1/check", params={"url": "http://open.test/"}).json()["ingest"]
            assert c.get("/metrics").status_code == 200


def test_terms_pages_only_with_the_option(web: FakeWeb, shared: Server, tmp_path: Path) -> None:
    url = {"url": "http://terms.test/a"}
    with shared.client() as c:
        assert c.get("/v1/check", params=url).json()["verdict"] == "allowed"
    with Server(tmp_path / "l", "--terms", proxy=web.proxy_url) as srv, srv.client() as c:
        d = c.get("/v1/check", params=url).json()
    assert (d["verdict"], d["reasons"]) == ("reserved", ["tos:tdm-reserved"])


def test_byte_cap_and_deadline_of_the_scanner_apply(
    web: FakeWeb, shared: Server, tmp_path: Path
) -> None:
    with shared.client() as c:
        d = c.get("/v1/check", params={"url": "http://big.test/private/a"}).json()
    # 3 MiB robots.txt: read up to the cap, the rules before it still apply.
    assert d["robots"]["truncated"] is True
    assert d["verdict"] == "reserved"
    with Server(tmp_path / "l", "--timeout", "1", proxy=web.proxy_url) as srv, srv.client() as c:
        d = c.get("/v1/check", params={"url": "http://dead.test/a"}).json()
    assert (d["verdict"], d["robots"]["error"]) == ("unknown", "timeout")


# ---------------------------------------------------------------------- address guard


def test_address_guard_applies_without_allow_private(web: FakeWeb, tmp_path: Path) -> None:
    """No proxy: a loopback target is refused by the guard, unless --allow-private."""
    target = f"http://127.0.0.1:{web.port}/a"
    with Server(tmp_path / "l1") as srv, srv.client() as c:
        d = c.get("/v1/check", params={"url": target}).json()
    assert d["verdict"] == "unknown"
    assert d["robots"]["error"] == "refused-address"
    with Server(tmp_path / "l2", "--allow-private") as srv, srv.client() as c:
        d = c.get("/v1/check", params={"url": target}).json()
    # Reached the fake web, which does not know the host "127.0.0.1": a 502, not a refusal.
    assert d["robots"]["error"] is None and d["robots"]["status"] == 502


# ---------------------------------------------------------------------- ledger lifecycle


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_loses_nothing(web: FakeWeb, tmp_path: Path, sig: int) -> None:
    ledger = tmp_path / "ledger"
    # A flush interval longer than the test: only the shutdown can have written the rows.
    srv = Server(ledger, proxy=web.proxy_url, flush_seconds=3600).start()
    try:
        urls = [f"http://s{i % 20}.test/p{i}" for i in range(120)]
        with srv.client() as c:
            run_id = c.get("/healthz").json()["run_id"]
            for u in urls[:20]:
                assert c.get("/v1/check", params={"url": u}).status_code == 200
            r = c.post("/v1/check", json=urls[20:])
            assert len(r.text.splitlines()) == 100
        assert srv.stop(sig) == 0
    finally:
        srv.kill()
    got = rows(ledger, run_id)
    assert sorted(u for u, *_ in got) == sorted(urls)
    assert runs(ledger) == [(run_id, "serve", "finished", 120)]
    assert any("finished with 120 decisions" in line for line in srv.stderr)
    con = Ledger(ledger).connect()
    try:
        fetched = con.execute(
            "SELECT count(DISTINCT origin) FROM fetches WHERE run_id = ? AND kind = 'robots'",
            [run_id],
        ).fetchone()[0]
    finally:
        con.close()
    assert fetched == 20  # the evidence too: each origin's robots.txt, once


def test_sigkill_loses_at_most_the_unflushed_window_and_restart_is_a_new_run(
    web: FakeWeb, tmp_path: Path
) -> None:
    import time

    ledger = tmp_path / "ledger"
    flush = 0.5
    srv = Server(ledger, proxy=web.proxy_url, flush_seconds=flush).start()
    try:
        with srv.client() as c:
            first = c.get("/healthz").json()["run_id"]
            early = [f"http://s{i % 20}.test/early{i}" for i in range(50)]
            assert len(c.post("/v1/check", json=early).text.splitlines()) == 50
            time.sleep(flush * 4)  # past the flush window: these must be on disk
            late = [f"http://s{i % 20}.test/late{i}" for i in range(200)]
            assert len(c.post("/v1/check", json=late).text.splitlines()) == 200
        srv.stop(signal.SIGKILL)
    finally:
        srv.kill()
    got = {u for u, *_ in rows(ledger, first)}
    assert set(early) <= got  # nothing older than the window is lost
    assert got <= set(early) | set(late)
    status = {r[0]: r[2] for r in runs(ledger)}
    assert status == {first: "running"}  # killed: never marked finished

    with Server(ledger, proxy=web.proxy_url, flush_seconds=flush) as again, again.client() as c:
        second = c.get("/healthz").json()["run_id"]
        assert c.get("/v1/check", params={"url": "http://open.test/again"}).json()["ingest"]
    assert second != first
    status = {r[0]: (r[1], r[2]) for r in runs(ledger)}
    assert status == {first: ("serve", "running"), second: ("serve", "finished")}
    assert rows(ledger, second) == [("http://open.test/again", "tdmscan", "train-ai", "allowed")]
    assert Ledger(ledger).verify().ok


# ---------------------------------------------------------------------- CLI errors


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "tdmscan", "serve", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    r = _cli("--ledger", str(tmp_path / "l"), "--token-file", str(tmp_path / "missing"))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("Error: --token-file")
    assert "Traceback" not in r.stderr
    (tmp_path / "empty").write_text("\n")
    r = _cli("--ledger", str(tmp_path / "l"), "--token-file", str(tmp_path / "empty"))
    assert r.returncode == 2 and "empty" in r.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = _cli("--ledger", str(tmp_path / "l"), "--port", str(port))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(f"Error: cannot listen on 127.0.0.1:{port}")
    # The run the failed start opened is closed, with why.
    con = Ledger(tmp_path / "l").connect()
    try:
        ((status, error),) = con.execute("SELECT status, error FROM runs").fetchall()
    finally:
        con.close()
    assert status == "interrupted" and "OSError" in error


def test_cli_help_lists_serve() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "tdmscan", "--help"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert "serve" in r.stdout


def test_unexpected_error_is_a_json_500_on_a_real_socket(tmp_path: Path) -> None:
    """A bug behind a route still answers JSON (a client fails closed on it), without details."""
    import asyncio

    import httpx
    from aiohttp import web

    from tdmscan.serve import Gate, ServeConfig, create_app

    class Broken(Gate):
        async def check(self, url: str, **kw: object) -> list:  # type: ignore[override]
            raise RuntimeError("secret internals /etc/x")

    async def main() -> tuple[int, dict, dict]:
        config = ServeConfig(ledger=tmp_path / "l", port=0)
        runner = web.AppRunner(create_app(config, Broken(config)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with httpx.AsyncClient(trust_env=False) as c:
                r = await c.get(f"http://127.0.0.1:{port}/v1/check", params={"url": "x"})
                h = await c.get(f"http://127.0.0.1:{port}/healthz")
            return r.status_code, r.json(), h.json()
        finally:
            await runner.cleanup()

    status, body, health = asyncio.run(main())
    assert status == 500
    assert body["error"] == "internal" and "RuntimeError" in body["message"]
    assert "secret" not in body["message"]
    assert health["status"] == "ok"
    assert runs(tmp_path / "l")[0][1:3] == ("serve", "finished")
