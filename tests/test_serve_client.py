"""``tdmscan.client`` (sync and async) against a real ``tdmscan serve`` process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_util import SRC, Server

from tdmscan.client import AsyncClient, BatchFailure, CheckResult, Client, ServeError
from tdmscan.fakeweb import FakeWeb, Resp, Site

pytestmark = pytest.mark.timeout(120)

TOKEN = "client-token-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    web = FakeWeb(
        [
            Site("open.test", {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n")}),
            Site("gpt.test", {"/robots.txt": Resp(body="User-agent: GPTBot\nDisallow: /\n")}),
            Site("priv.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /p/\n")}),
        ]
    ).start()
    try:
        tok = tmp_path_factory.mktemp("tok") / "token"
        tok.write_text(TOKEN)
        with Server(
            tmp_path_factory.mktemp("client-ledger"),
            "--token-file",
            str(tok),
            "--max-urls",
            "5",
            proxy=web.proxy_url,
        ) as srv:
            srv.token_file = tok  # type: ignore[attr-defined]
            yield srv
    finally:
        web.stop()


def test_sync_client(server: Server) -> None:
    with Client(server.url, token_file=server.token_file) as gate:  # type: ignore[attr-defined]
        d = gate.check("http://gpt.test/a")
        assert isinstance(d, CheckResult)
        assert (d.verdict, d.ingest, d.reasons) == (
            "reserved",
            False,
            ("robots:training-agent-disallow",),
        )
        assert d.robots is not None and d.robots["branch"] == "parsed"
        assert gate.check("http://gpt.test/a", purpose="search").ingest
        d = gate.check("http://gpt.test/a", agent="GPTBot", all_agents=True)
        assert d.agent == "GPTBot" and d.decisions[0].agent == "GPTBot"
        assert len(d.decisions) > 5

        # 12 URLs through a server capped at 5 per batch: the client splits, order is kept.
        urls = [f"http://priv.test/{'p/' if i % 2 else ''}{i}" for i in range(12)]
        got = list(gate.check_many(urls))
        assert [r.input for r in got] == urls
        assert [r.ingest for r in got] == [i % 2 == 0 for i in range(12)]

        page = gate.check_response(
            "http://open.test/x",
            200,
            httpx.Headers([("X-Robots-Tag", "noai"), ("Content-Type", "text/html")]),
            b"<html><head></head></html>",
        )
        assert (page.verdict, page.reasons) == ("reserved", ("header:noai",))
        meta = b'<html><head><meta name="robots" content="noai"></head><body>'
        assert gate.check_response("http://open.test/y", 200, {}, meta + b"x" * 10_000).reasons == (
            "meta:noai",
        )
        assert gate.health()["status"] == "ok"
        assert "tdmscan_serve_checks_total" in gate.metrics()

        with pytest.raises(ServeError) as e:
            gate.check("http://open.test/", purpose="fun")
        assert (e.value.status, e.value.error) == (400, "bad-request")


def test_sync_client_without_token_gets_401(server: Server) -> None:
    with Client(server.url) as gate:
        assert gate.health()["status"] == "ok"  # /healthz needs no token
        with pytest.raises(ServeError) as e:
            gate.check("http://open.test/")
        assert (e.value.status, e.value.error) == (401, "unauthorized")
        with pytest.raises(ServeError):
            list(gate.check_many(["http://open.test/"]))


def test_async_client(server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(server.url, token=TOKEN, agent="GPTBot") as gate:
            results = await asyncio.gather(
                *(gate.check(f"http://{h}.test/z") for h in ("open", "gpt", "priv", "gpt"))
            )
            assert [r.verdict for r in results] == ["allowed", "reserved", "allowed", "reserved"]
            assert {r.agent for r in results} == {"GPTBot"}
            urls = ["http://open.test/1", "mailto:nobody", "http://priv.test/p/2"] * 3
            got = [r async for r in gate.check_many(urls)]
            assert [r.input for r in got] == urls
            assert [r.verdict for r in got][:3] == ["allowed", "invalid", "reserved"]
            assert not any(isinstance(r, BatchFailure) for r in got)
            page = await gate.check_response(
                "http://open.test/q", 200, [("tdm-reservation", "1")], purpose="tdm"
            )
            assert page.verdict == "reserved" and page.purpose == "tdm"
            assert (await gate.health())["run_id"]

    asyncio.run(main())


def test_client_module_imports_only_httpx() -> None:
    code = (
        "import sys, tdmscan.client\n"
        "heavy = sorted(m for m in ('pyarrow', 'duckdb', 'aiohttp', 'tdmscan.scanner')"
        " if m in sys.modules)\n"
        "print('HEAVY', ','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "HEAVY", out.stdout


def test_token_arguments() -> None:
    with pytest.raises(ValueError):
        Client(token="a", token_file=Path("b"))
    with pytest.raises(ValueError):
        Client(batch_size=0)
