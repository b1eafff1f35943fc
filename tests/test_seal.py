"""RFC 3161 seals over the chain head, against a time-stamping authority built for the test
(tests/tsa_util.py: a test CA made with `cryptography`, responses in DER) served by aiohttp on
127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("rfc3161_client")

from rfc3161_client import _rust
from tsa_util import LocalTSA

from tdmscan.cli import main
from tdmscan.ledger import Ledger, RunInfo


class _Server:
    """The TSA over HTTP: POST a TimeStampReq, get a TimeStampResp (or a fault)."""

    def __init__(self, tsa: LocalTSA) -> None:
        self.tsa = tsa
        self.fault: str | None = None
        self.requests = 0
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        self.requests += 1
        body = await request.read()
        req = _rust.parse_timestamp_request(body)
        digest = bytes(req.message_imprint.message)
        if self.fault == "http-500":
            return web.Response(status=500)
        if self.fault == "garbage":
            return web.Response(body=b"not der", content_type="application/timestamp-reply")
        if self.fault == "wrong-imprint":
            digest = hashlib.sha256(b"something else").digest()
        return web.Response(
            body=self.tsa.respond(digest, req.nonce), content_type="application/timestamp-reply"
        )

    def _run(self) -> None:
        from aiohttp import web

        async def main() -> None:
            app = web.Application()
            app.router.add_post("/tsa", self._handle)
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}/tsa"
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(main())
        self._loop.close()

    def start(self) -> _Server:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="module")
def tsa() -> LocalTSA:
    return LocalTSA()


@pytest.fixture
def server(tsa: LocalTSA, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    s = _Server(tsa).start()
    yield s
    s.stop()


def _ledger(tmp_path: Any) -> Ledger:
    led = Ledger(tmp_path / "led")
    with led.writer(RunInfo(kind="audit"), flush_seconds=None) as w:
        w.add_licences([{"name": "x"}])  # any write: the chain grows past the anchors
    return led


def test_seal_stores_token_and_verify_checks_it(tmp_path, server, tsa):
    led = _ledger(tmp_path)
    head = led.head()
    r = CliRunner().invoke(main, ["ledger", "seal", "--ledger", str(led.root), "--tsa", server.url])
    assert r.exit_code == 0, r.output
    assert head[:12] in r.output and server.requests == 1
    con = led.connect()
    (row,) = con.execute("SELECT chain_head, tsa_url, octet_length(token) FROM seals").fetchall()
    assert row[0] == head and row[1] == server.url and row[2] > 1000

    root = tmp_path / "root.pem"
    root.write_bytes(tsa.ca_pem())
    r = CliRunner().invoke(
        main, ["ledger", "verify", "--ledger", str(led.root), "--tsa-root", str(root), "--json"]
    )
    assert r.exit_code == 0, r.output
    (s,) = json.loads(r.output)["seals"]
    assert s["ok"] and s["signature"] == "verified" and s["chain_head"] == head
    # Without the root the seal still ties the head to the chain, signature not checked.
    r = CliRunner().invoke(main, ["ledger", "verify", "--ledger", str(led.root)])
    assert r.exit_code == 0 and "not checked" in r.output


def test_a_root_the_tsa_does_not_chain_to_fails(tmp_path, server):
    led = _ledger(tmp_path)
    assert CliRunner().invoke(
        main, ["ledger", "seal", "--ledger", str(led.root), "--tsa", server.url]
    ).exit_code == 0
    other = tmp_path / "other.pem"
    other.write_bytes(LocalTSA().ca_pem())
    r = CliRunner().invoke(
        main, ["ledger", "verify", "--ledger", str(led.root), "--tsa-root", str(other)]
    )
    assert r.exit_code == 1 and "FAIL seal" in r.output


def test_a_seal_over_a_head_not_in_the_chain_fails(tmp_path, server, tsa):
    from tdmscan.ledger.seal import verify_seals

    led = _ledger(tmp_path)
    fake_head = "0" * 64
    token = tsa.respond(hashlib.sha256(fake_head.encode()).digest(), 7)
    with led.writer(RunInfo(kind="seal"), flush_seconds=None) as w:
        w.add_seal({"seal_id": "s-forged", "chain_head": fake_head, "token": token})
    (check,) = verify_seals(led, [tsa.ca])
    assert not check.ok and "not an entry" in "; ".join(check.problems)
    assert check.signature == "verified"  # a genuine token, over something else


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("http-500", "HTTP 500"),
        ("garbage", "not a time-stamp response"),
        ("wrong-imprint", "imprint is not the chain head"),
    ],
)
def test_tsa_failures_are_one_line_and_store_nothing(tmp_path, server, fault, message):
    led = _ledger(tmp_path)
    server.fault = fault
    r = CliRunner().invoke(main, ["ledger", "seal", "--ledger", str(led.root), "--tsa", server.url])
    assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output
    assert led.connect().execute("SELECT count(*) FROM seals").fetchone() == (0,)


def test_unreachable_tsa(tmp_path, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    led = _ledger(tmp_path)
    r = CliRunner().invoke(
        main,
        ["ledger", "seal", "--ledger", str(led.root), "--tsa", "http://127.0.0.1:9/tsa",
         "--timeout", "2"],
    )  # fmt: skip
    assert r.exit_code == 1 and "ConnectError" in r.output
