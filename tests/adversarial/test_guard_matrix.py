"""The address guard, with and without a proxy, for both fetchers.

Every spelling of a private, loopback, link-local or metadata address the guard knows is
refused before anything is sent, whether or not an environment proxy would carry the request;
names that resolve locally to such addresses are refused too; a name only the proxy can
resolve is handed to it; hosts named in TDMSCAN_GUARD_EXEMPT (what the fake web sets for its
own) are let through.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tdmscan.fetch import make_fetcher

pytestmark = pytest.mark.anyio

KINDS = ["httpx", "aiohttp"]

REFUSED_HOSTS = [
    "127.0.0.1",
    "127.0.0.1.",
    "2130706433",  # decimal
    "0x7f000001",  # hex
    "0x7f.0.0.1",
    "0177.0.0.1",  # octal
    "127.1",  # short form
    "0",
    "0.0.0.0",
    "10.0.0.1",
    "192.168.1.1",
    "172.16.0.1",
    "100.64.0.1",  # carrier-grade NAT
    "169.254.169.254",  # cloud metadata
    "0xa9fea9fe",  # metadata, hex
    "2852039166",  # metadata, decimal
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:a9fe:a9fe]",  # IPv4-mapped metadata
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of the metadata address
    "[fd00:ec2::254]",  # AWS metadata over IPv6
    "[fe80::1]",
    "localhost",  # a name that resolves locally to loopback
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordingProxy:
    """A loopback HTTP proxy that answers 200 to every request and remembers its targets."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

    async def handle(self, stream: Any) -> None:
        async with stream:
            try:
                data = await stream.receive()
                line = data.split(b"\r\n", 1)[0].decode("latin-1")
                self.targets.append(line.split(" ")[1] if " " in line else line)
                await stream.send(self.reply)
            except Exception:
                pass


@pytest.fixture
async def proxy(monkeypatch: pytest.MonkeyPatch) -> Any:
    rec = RecordingProxy()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "TDMSCAN_GUARD_EXEMPT"):
        monkeypatch.delenv(name, raising=False)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, rec.handle)
        rec.url = f"http://127.0.0.1:{port}"
        yield rec
        tg.cancel_scope.cancel()
    await listener.aclose()


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "TDMSCAN_GUARD_EXEMPT"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def _get(kind: str, url: str) -> Any:
    f = make_fetcher(kind)
    try:
        return await f.get(url, max_bytes=100)
    finally:
        await f.aclose()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("host", REFUSED_HOSTS)
async def test_refused_without_a_proxy(no_proxy: None, kind: str, host: str) -> None:
    got = await _get(kind, f"http://{host}/robots.txt")
    assert got.error == "refused-address" and got.status is None, got


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("host", REFUSED_HOSTS)
async def test_refused_behind_a_proxy(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch, kind: str, host: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    got = await _get(kind, f"http://{host}/robots.txt")
    assert got.error == "refused-address" and got.status is None, got
    assert proxy.targets == []


@pytest.mark.parametrize("kind", KINDS)
async def test_redirect_to_metadata_behind_a_proxy_is_refused(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A public-looking name the proxy answers with a redirect to the metadata address."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    proxy.reply = (
        b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    got = await _get(kind, "http://only-the-proxy-knows.invalid/robots.txt")
    assert got.error == "refused-address"
    assert proxy.targets == ["http://only-the-proxy-knows.invalid/robots.txt"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_name_only_the_proxy_resolves_is_passed_to_it(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    got = await _get(kind, "http://only-the-proxy-knows.invalid/robots.txt")
    assert got.status == 200 and got.body == b"ok", got
    assert proxy.targets == ["http://only-the-proxy-knows.invalid/robots.txt"]


@pytest.mark.parametrize("kind", KINDS)
async def test_exempt_hosts_pass_behind_a_proxy(
    proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The fake web's switch: named hosts only, never "a proxy is set"."""
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("TDMSCAN_GUARD_EXEMPT", "localhost,.internal.test")
    assert (await _get(kind, "http://localhost/robots.txt")).status == 200
    assert (await _get(kind, "http://a.internal.test/robots.txt")).status == 200
    got = await _get(kind, "http://169.254.169.254/latest/meta-data/")
    assert got.error == "refused-address"
    assert proxy.targets == ["http://localhost/robots.txt", "http://a.internal.test/robots.txt"]


async def test_fakeweb_exempts_only_its_own_hosts(fakeweb: Any) -> None:
    from tdmscan.fakeweb import Resp, Site

    fw = fakeweb([Site("a.test", {"/": Resp(body="x")}), Site("b.test:8080", {})], "bench")
    env = fw.proxy_env()
    assert env["TDMSCAN_GUARD_EXEMPT"] == ".bench.test,a.test,b.test"
