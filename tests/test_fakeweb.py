"""The fake web, exercised through real HTTP clients over loopback."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import httpx
import pytest

from tdmscan.fakeweb import (
    FakeWeb,
    Resp,
    Site,
    bench_generator,
    demo_manifest_path,
    demo_sites,
    dump_sites,
    gzip_bomb,
    html_as_robots,
    invalid_utf8,
    load_sites,
    redirect_chain,
)

pytestmark = pytest.mark.timeout(60)

ROBOTS = "User-agent: GPTBot\nDisallow: /\n"


def basic_sites() -> list[Site]:
    return [
        Site(
            "a.test",
            {
                "/robots.txt": Resp(body=ROBOTS),
                "/page?x=1": Resp(body="with query"),
                "/page": Resp(body="no query"),
                "/gone": Resp(410),
                "/down": Resp(503, headers=[("Retry-After", "60")]),
                "/forbidden": Resp(403),
            },
        ),
        Site("a.test:8080", {"/robots.txt": Resp(body="port 8080\n")}),
    ]


def client(fw: FakeWeb, **kw: object) -> httpx.Client:
    return httpx.Client(proxy=fw.proxy_url, trust_env=False, **kw)  # type: ignore[arg-type]


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------ addressing and statuses


def test_statuses_through_httpx_proxy(fakeweb):
    fw = fakeweb(basic_sites())
    with client(fw) as c:
        r = c.get(fw.url("a.test", "/robots.txt"))
        assert r.status_code == 200
        assert r.text == ROBOTS
        assert r.headers["content-type"].startswith("text/plain")
        assert c.get(fw.url("a.test", "/missing")).status_code == 404
        assert c.get(fw.url("a.test", "/gone")).status_code == 410
        r = c.get(fw.url("a.test", "/down"))
        assert r.status_code == 503
        assert r.headers["retry-after"] == "60"
        assert c.get(fw.url("a.test", "/forbidden")).status_code == 403
        # Undeclared host: 502 like a proxy that cannot resolve it, never a silent 404.
        assert c.get(fw.url("nowhere.test", "/robots.txt")).status_code == 502


def test_query_matches_exactly_then_by_path(fakeweb):
    fw = fakeweb(basic_sites())
    with client(fw) as c:
        assert c.get(fw.url("a.test", "/page?x=1")).text == "with query"
        assert c.get(fw.url("a.test", "/page?x=2")).text == "no query"
        assert c.get(fw.url("a.test", "/page")).text == "no query"


def test_port_is_part_of_the_origin(fakeweb):
    fw = fakeweb(basic_sites())
    with client(fw) as c:
        assert c.get("http://a.test:8080/robots.txt").text == "port 8080\n"
        # Port 80 is the default: same origin as no port.
        assert c.get("http://a.test:80/robots.txt").text == ROBOTS
        assert c.get("http://A.TEST/robots.txt").text == ROBOTS
    assert fw.hits("a.test:8080", "/robots.txt") == 1
    assert fw.hits("a.test", "/robots.txt") == 2


def test_host_header_requests(fakeweb):
    fw = fakeweb(basic_sites())
    base = f"http://127.0.0.1:{fw.port}"
    with httpx.Client(trust_env=False) as c:
        assert c.get(f"{base}/robots.txt", headers={"Host": "a.test"}).text == ROBOTS
        assert c.get(f"{base}/robots.txt", headers={"Host": "a.test:8080"}).text == "port 8080\n"
    raw = raw_exchange(
        fw.port, b"GET /robots.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
    )
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert raw.endswith(ROBOTS.encode())
    # HTTP/1.0 without keep-alive: the server closes after one response.
    raw = raw_exchange(fw.port, b"GET /robots.txt HTTP/1.0\r\nHost: a.test\r\n\r\n")
    assert b"Connection: close" in raw


def test_pipelined_requests_and_head(fakeweb):
    fw = fakeweb(basic_sites())
    raw = raw_exchange(
        fw.port,
        b"GET /robots.txt HTTP/1.1\r\nHost: a.test\r\n\r\n"
        b"HEAD /robots.txt HTTP/1.1\r\nHost: a.test\r\n\r\n"
        b"GET http://a.test/page HTTP/1.1\r\nHost: ignored.test\r\nConnection: close\r\n\r\n",
    )
    first, second, third = raw.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert first.endswith(ROBOTS.encode())
    assert second.endswith(b"\r\n\r\n")  # HEAD: headers only
    assert f"Content-Length: {len(ROBOTS)}".encode() in second
    assert third.endswith(b"no query")  # absolute-form wins over Host


def test_connect_and_https_refused(fakeweb):
    fw = fakeweb(basic_sites())
    raw = raw_exchange(fw.port, b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 501 ")
    raw = raw_exchange(fw.port, b"GET https://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 501 ")
    raw = raw_exchange(fw.port, b"garbage\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 400 ")


def test_aiohttp_proxy_and_env(fakeweb, fakeweb_env):
    fw = fakeweb(basic_sites())

    async def main() -> tuple[int, str, int, str]:
        async with (
            aiohttp.ClientSession() as s,
            s.get("http://a.test/robots.txt", proxy=fw.proxy_url) as r,
        ):
            status, text = r.status, await r.text()
        fakeweb_env(fw)
        async with (
            aiohttp.ClientSession(trust_env=True) as s,
            s.get("http://a.test:8080/robots.txt") as r,
        ):
            status2, text2 = r.status, await r.text()
        return status, text, status2, text2

    assert asyncio.run(main()) == (200, ROBOTS, 200, "port 8080\n")
    # httpx honours the same variables by default.
    with httpx.Client() as c:
        assert c.get("http://a.test/robots.txt").text == ROBOTS
    assert fw.hits("a.test", "/robots.txt") == 2


# ------------------------------------------------------------------ faults


def test_redirect_chain_across_hosts(fakeweb):
    final = Resp(body="User-agent: *\nDisallow: /\n")
    fw = fakeweb(redirect_chain("r.test", "/robots.txt", hops=6, final=final, status=308))
    with client(fw, follow_redirects=True, max_redirects=10) as c:
        r = c.get(fw.url("r.test", "/robots.txt"))
        assert r.status_code == 200
        assert r.text == "User-agent: *\nDisallow: /\n"
        assert len(r.history) == 6
        assert all(h.status_code == 308 for h in r.history)
        assert len({urlsplit(str(h.url)).hostname for h in r.history}) == 6
    with (
        client(fw, follow_redirects=True, max_redirects=5) as c,
        pytest.raises(httpx.TooManyRedirects),
    ):
        c.get(fw.url("r.test", "/robots.txt"))
    with client(fw) as c:
        r = c.get(fw.url("r.test", "/robots.txt"))
        assert r.status_code == 308
        assert r.headers["location"] == "http://hop1.r.test/hop/1/robots.txt"
    assert fw.hits("hop6.r.test", "/hop/6/robots.txt") == 1


def test_delay_does_not_block_other_requests(fakeweb):
    fw = fakeweb(
        [Site("d.test", {"/slow": Resp(body="late", delay=0.6), "/fast": Resp(body="now")})]
    )

    async def main() -> tuple[float, float]:
        async with aiohttp.ClientSession() as s:

            async def get(path: str) -> float:
                t = time.monotonic()
                async with s.get(f"http://d.test{path}", proxy=fw.proxy_url) as r:
                    await r.read()
                return time.monotonic() - t

            slow, fast = await asyncio.gather(get("/slow"), get("/fast"))
            return slow, fast

    slow, fast = asyncio.run(main())
    assert slow >= 0.55
    assert fast < 0.3


def test_drip(fakeweb):
    body = b"x" * 400
    fw = fakeweb([Site("drip.test", {"/": Resp(body=body, drip=800)})])  # ~0.5 s
    with client(fw) as c:
        t = time.monotonic()
        r = c.get(fw.url("drip.test"))
        elapsed = time.monotonic() - t
    assert r.content == body
    assert 0.35 < elapsed < 3


def test_drip_trips_a_total_deadline(fakeweb):
    fw = fakeweb([Site("drip.test", {"/": Resp(body=b"y" * 10_000, drip=1000)})])  # ~10 s

    async def main() -> None:
        timeout = aiohttp.ClientTimeout(total=0.5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as s,
            s.get("http://drip.test/", proxy=fw.proxy_url) as r,
        ):
            await r.read()

    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(main())


def test_reset_without_response(fakeweb):
    fw = fakeweb([Site("rst.test", {"/robots.txt": Resp(reset=True), "/ok": Resp(body="ok")})])
    with client(fw) as c:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            c.get(fw.url("rst.test", "/robots.txt"))
        assert c.get(fw.url("rst.test", "/ok")).text == "ok"
    assert fw.hits("rst.test", "/robots.txt") == 1


def test_reset_mid_body(fakeweb):
    fw = fakeweb([Site("rst.test", {"/big": Resp(body=b"z" * 200_000, reset_after=1000)})])
    got = bytearray()
    with (
        client(fw) as c,
        pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)),
        c.stream("GET", fw.url("rst.test", "/big")) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-length"] == "200000"
        for chunk in r.iter_raw():
            got += chunk
    assert len(got) <= 1000


def test_hang_times_out_and_server_keeps_working(fakeweb):
    fw = fakeweb([Site("h.test", {"/robots.txt": Resp(hang=True), "/ok": Resp(body="ok")})])
    with client(fw, timeout=0.3) as c:
        t = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            c.get(fw.url("h.test", "/robots.txt"))
        assert time.monotonic() - t < 2
        assert c.get(fw.url("h.test", "/ok")).text == "ok"
    # The hanging connection is released once the client closes it.
    deadline = time.monotonic() + 3
    while fw._engine.conns and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not fw._engine.conns


def test_gzip(fakeweb):
    fw = fakeweb([Site("gz.test", {"/robots.txt": Resp(body=ROBOTS, gzip=True)})])
    with client(fw) as c:
        r = c.get(fw.url("gz.test", "/robots.txt"))
    assert r.headers["content-encoding"] == "gzip"
    assert r.text == ROBOTS
    assert int(r.headers["content-length"]) == len(gzip.compress(ROBOTS.encode(), mtime=0))


def test_gzip_bomb_helper_is_valid_gzip():
    for size in (0, 1, (1 << 20) - 1, (3 << 20) + 5):
        data = gzip_bomb(size)
        out = gzip.decompress(data)  # checks CRC and length trailer too
        assert len(out) == size
        assert out.count(0) == size
    assert gzip_bomb(1 << 30) is gzip_bomb(1 << 30)  # cached
    assert len(gzip_bomb(1 << 30)) < 2 << 20


def test_bomb_through_client(fakeweb):
    fw = fakeweb([Site("bomb.test", {"/robots.txt": Resp(bomb=1 << 30)})])
    with client(fw) as c, c.stream("GET", fw.url("bomb.test", "/robots.txt")) as r:
        assert r.headers["content-encoding"] == "gzip"
        wire = int(r.headers["content-length"])
        assert wire < 2 << 20
        raw = b"".join(r.iter_raw())
    assert len(raw) == wire
    d = zlib.decompressobj(zlib.MAX_WBITS | 16)
    prefix = d.decompress(raw[:4096], 1 << 20)
    assert len(prefix) == 1 << 20
    assert prefix == bytes(len(prefix))


def test_oversize(fakeweb):
    n = 3_000_000
    fw = fakeweb([Site("big.test", {"/robots.txt": Resp(body=ROBOTS, oversize=n)})])
    with client(fw) as c:
        r = c.get(fw.url("big.test", "/robots.txt"))
    assert len(r.content) == n
    assert r.content.startswith(ROBOTS.encode())
    assert set(r.content[len(ROBOTS) :]) <= {ord("#"), ord("\n")}


def test_fault_helpers(fakeweb):
    fw = fakeweb(
        [
            Site("spa.test", default=html_as_robots()),
            Site("u.test", {"/robots.txt": invalid_utf8()}),
        ]
    )
    with client(fw) as c:
        r = c.get(fw.url("spa.test", "/robots.txt"))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert r.text.lstrip().lower().startswith("<!doctype html>")
        raw = c.get(fw.url("u.test", "/robots.txt")).content
    assert raw.startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert b"User-agent: GPTBot\nDisallow: /\n" in raw


# ------------------------------------------------------------------ counting and generation


def test_counting(fakeweb):
    fw = fakeweb(basic_sites())
    with client(fw) as c:
        for _ in range(3):
            c.get(fw.url("a.test", "/robots.txt"))
        c.get(fw.url("a.test", "/page?x=1"))
        c.get("http://a.test:8080/robots.txt")
        c.get(fw.url("other.test", "/robots.txt"))
    assert fw.hits("a.test", "/robots.txt") == 3
    assert fw.hits("A.test:80", "/robots.txt") == 3
    assert fw.hits("a.test", "/page?x=1") == 1
    assert fw.hits("a.test", "/page") == 0  # counted by the path+query requested
    assert fw.total_hits("/robots.txt") == 5
    assert fw.total_hits() == 6
    assert fw.counts()[("a.test:8080", "/robots.txt")] == 1
    fw.reset_counts()
    assert fw.total_hits() == 0
    assert fw.counts() == {}


def test_bench_generator(fakeweb):
    gen = bench_generator(1000)
    fw = fakeweb(generator=gen)
    profiles = {gen.profile(h) for h in gen.hosts()}
    assert {"allow", "robots-gptbot", "tdmrep", "ai-txt", "no-robots", "robots-503"} <= profiles
    gptbot = next(h for h in gen.hosts() if gen.profile(h) == "robots-gptbot")
    tdmrep = next(h for h in gen.hosts() if gen.profile(h) == "tdmrep")
    allow = next(h for h in gen.hosts() if gen.profile(h) == "allow")
    with client(fw) as c:
        assert "GPTBot" in c.get(fw.url(gptbot, "/robots.txt")).text
        rules = c.get(fw.url(tdmrep, "/.well-known/tdmrep.json")).json()
        assert rules[0]["tdm-reservation"] == 1
        assert c.get(fw.url(allow, "/ai.txt")).status_code == 404
        assert (
            c.get(fw.url(allow, "/any/page.html")).headers["content-type"].startswith("text/html")
        )
        # Deterministic: same host, same bytes.
        assert (
            c.get(fw.url(gptbot, "/robots.txt")).text == c.get(fw.url(gptbot, "/robots.txt")).text
        )
        assert c.get(fw.url("s1000.bench.test", "/robots.txt")).status_code == 502  # beyond n_hosts
    assert fw.hits(gptbot, "/robots.txt") == 3
    assert gen.expected(gptbot) == "reserved" and gen.expected(allow) == "allowed"
    assert bench_generator(1000).profile(gptbot) == "robots-gptbot"


def test_custom_generator_and_declared_sites_take_precedence(fakeweb):
    def gen(host: str, path: str) -> Resp | None:
        return Resp(body=f"{host} {path}") if host.endswith(".gen.test") else None

    fw = fakeweb([Site("x.gen.test", {"/": Resp(body="declared")})], gen)
    with client(fw) as c:
        assert c.get(fw.url("y.gen.test", "/a?b")).text == "y.gen.test /a?b"
        assert c.get(fw.url("x.gen.test", "/")).text == "declared"
        assert c.get(fw.url("x.gen.test", "/other")).status_code == 404
        assert c.get(fw.url("z.test", "/")).status_code == 502


def test_many_hosts_concurrently_with_a_hanging_one(fakeweb):
    fw = fakeweb([Site("hang.test", {"/robots.txt": Resp(hang=True)})], bench_generator(500))

    async def main() -> list[int]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as s:
            hang = asyncio.ensure_future(s.get("http://hang.test/robots.txt", proxy=fw.proxy_url))

            async def get(i: int) -> int:
                async with s.get(f"http://s{i}.bench.test/robots.txt", proxy=fw.proxy_url) as r:
                    await r.read()
                    return r.status

            statuses = await asyncio.wait_for(asyncio.gather(*(get(i) for i in range(500))), 20)
            assert not hang.done()
            hang.cancel()
            return statuses

    statuses = asyncio.run(main())
    assert set(statuses) <= {200, 404, 503}
    assert fw.total_hits("/robots.txt") == 501


def test_live_changes(fakeweb):
    site = Site("m.test", {"/robots.txt": Resp(body=ROBOTS)})
    fw = fakeweb([site])
    with client(fw) as c:
        assert c.get(fw.url("m.test", "/robots.txt")).status_code == 200
        site.routes["/robots.txt"].status = 503  # an outage begins
        assert c.get(fw.url("m.test", "/robots.txt")).status_code == 503
        fw.add_site(Site("n.test", {"/": Resp(body="new")}))
        assert c.get(fw.url("n.test", "/")).text == "new"


# ------------------------------------------------------------------ descriptions


def test_load_sites_json(tmp_path: Path, fakeweb):
    (tmp_path / "bodies").mkdir()
    (tmp_path / "bodies" / "robots.txt").write_bytes(b"User-agent: *\nDisallow: /x\n")
    desc = {
        "sites": [
            {
                "host": "j.test",
                "routes": {
                    "/robots.txt": {"body_file": "bodies/robots.txt"},
                    "/bin": {"body_b64": "AAEC/w==", "content_type": "application/octet-stream"},
                    "/short": "just a string",
                    "/teapot": 418,
                    "/moved": {"status": 301, "location": "http://j.test/short"},
                    "/h": {"body": "x", "headers": {"X-Robots-Tag": "noai"}},
                },
                "default": {"status": 404, "body": "custom 404"},
            }
        ]
    }
    path = tmp_path / "sites.json"
    path.write_text(json.dumps(desc))
    fw = fakeweb(path)
    with client(fw) as c:
        assert c.get(fw.url("j.test", "/robots.txt")).text == "User-agent: *\nDisallow: /x\n"
        assert c.get(fw.url("j.test", "/bin")).content == b"\x00\x01\x02\xff"
        assert c.get(fw.url("j.test", "/short")).text == "just a string"
        assert c.get(fw.url("j.test", "/teapot")).status_code == 418
        assert c.get(fw.url("j.test", "/moved")).headers["location"] == "http://j.test/short"
        assert c.get(fw.url("j.test", "/h")).headers["x-robots-tag"] == "noai"
        r = c.get(fw.url("j.test", "/nothing"))
        assert (r.status_code, r.text) == (404, "custom 404")
    # Round trip, binary bodies included.
    again = load_sites(json.loads(json.dumps(dump_sites(load_sites(path)))))
    assert again[0].lookup("/bin").body == b"\x00\x01\x02\xff"
    assert again[0].lookup("/moved").location == "http://j.test/short"
    with pytest.raises(ValueError):
        load_sites({"sites": [{"host": "bad.test", "routes": {"/": {"bdy": "typo"}}}]})


# ------------------------------------------------------------------ lifecycle


def test_prompt_shutdown_with_hanging_connections():
    fw = FakeWeb([Site("h.test", {"/": Resp(hang=True)})]).start()
    socks = []
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", fw.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: h.test\r\n\r\n")
        socks.append(s)
    deadline = time.monotonic() + 3
    while fw.total_hits() < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fw.total_hits() == 5
    t = time.monotonic()
    fw.stop()
    assert time.monotonic() - t < 1.5
    for s in socks:
        try:
            assert s.recv(100) == b""
        except ConnectionResetError:
            pass
        s.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", fw.port), timeout=1).close()


def test_spawned_process_with_admin_counts(tmp_path: Path):
    path = tmp_path / "sites.json"
    path.write_text(json.dumps(dump_sites(basic_sites())))
    with FakeWeb.spawn(path, generator="bench", n_hosts=100, max_seconds=60) as fw:
        assert fw.alive()
        with client(fw) as c:
            assert c.get(fw.url("a.test", "/robots.txt")).text == ROBOTS
            c.get(fw.url("a.test", "/robots.txt"))
            assert c.get(fw.url("s5.bench.test", "/robots.txt")).status_code in (200, 404, 503)
            assert c.get(fw.url("s100.bench.test", "/robots.txt")).status_code == 502
        assert fw.hits("a.test", "/robots.txt") == 2
        assert fw.total_hits("/robots.txt") == 4
        assert fw.counts()[("s5.bench.test", "/robots.txt")] == 1
        fw.reset_counts()
        assert fw.total_hits() == 0
        proc = fw.proc
    assert proc.poll() is not None


def test_spawn_from_site_objects():
    with FakeWeb.spawn([Site("o.test", {"/": Resp(body=b"\xff\xfe")})], max_seconds=30) as fw:
        with client(fw) as c:
            assert c.get(fw.url("o.test", "/")).content == b"\xff\xfe"
        tmp = fw._tmpfile
        assert tmp is not None and tmp.exists()
    assert not tmp.exists()


def test_cli_announces_and_stops_by_itself():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tdmscan.fakeweb", "--demo", "--max-seconds", "1.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        raw = raw_exchange(
            port, b"GET /robots.txt HTTP/1.1\r\nHost: news.example\r\nConnection: close\r\n\r\n"
        )
        assert b"GPTBot" in raw
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


# ------------------------------------------------------------------ demo site set


def _manifest() -> list[str]:
    return demo_manifest_path().read_text(encoding="utf-8").splitlines()


def test_demo_manifest_shape():
    lines = _manifest()
    assert 55 <= len(lines) <= 70
    assert "ftp://x/" in lines and "not a url" in lines
    hosts = {s.host for s in demo_sites()}
    for line in lines:
        if not line.lower().startswith("http://"):
            continue
        host = urlsplit(line).netloc.lower().removesuffix(":80")
        assert host in hosts, line


def test_demo_pages_exist(demo_web):
    async def main() -> list[tuple[str, int]]:
        async with aiohttp.ClientSession() as s:

            async def get(url: str) -> tuple[str, int]:
                async with s.get(url, proxy=demo_web.proxy_url) as r:
                    await r.read()
                    return url, r.status

            urls = [u for u in _manifest() if u.lower().startswith("http://")]
            return await asyncio.gather(*(get(u.split("#")[0]) for u in urls))

    for url, status in asyncio.run(main()):
        assert status == 200, url


def test_demo_site_files(demo_web):
    def robots(c: httpx.Client, host: str) -> httpx.Response:
        return c.get(f"http://{host}/robots.txt")

    with client(demo_web, timeout=0.5) as c:
        assert robots(c, "open.example").status_code == 404
        news = robots(c, "news.example").text
        assert "User-agent: GPTBot" in news and "User-agent: CCBot" in news
        assert "Content-Signal: search=yes, ai-train=no" in news
        rules = c.get("http://publisher.example/.well-known/tdmrep.json").json()
        assert rules[0] == {
            "location": "/articles/",
            "tdm-reservation": 1,
            "tdm-policy": "http://publisher.example/tdm/policy.json",
        }
        assert rules[1]["tdm-reservation"] == 0
        assert c.get(rules[0]["tdm-policy"]).json()["permission"][0]["action"] == "tdm:mine"
        aipref = robots(c, "aipref.example").text
        assert "Content-Usage: train-ai=n" in aipref
        assert "Content-Usage: /datasets/open/ train-ai=y" in aipref
        assert c.get("http://aipref.example/press/statement.html").headers["content-usage"] == (
            "train-ai=n, search=y"
        )
        assert 'content="noai, noimageai"' in c.get("http://art.example/gallery/sunset.html").text
        assert c.get("http://art.example/images/sunset.jpg").headers["x-robots-tag"] == "noai"
        rsl = robots(c, "rsl.example").text
        assert "License: http://rsl.example/license.xml" in rsl
        lic = c.get("http://rsl.example/license.xml")
        assert '<prohibits type="usage">ai-train</prohibits>' in lic.text
        ai_txt = c.get("http://spawning.example/ai.txt").text
        assert "Disallow: *.jpg" in ai_txt and "Allow: *.html" in ai_txt
        assert (
            "creativecommons.org/licenses/by-sa/4.0/"
            in c.get("http://cc.example/docs/guide.html").text
        )
        assert '"license"' in c.get("http://cc.example/photos/bridge.html").text
        assert robots(c, "down.example").status_code == 503
        with pytest.raises(httpx.ReadTimeout):
            robots(c, "slow.example")
        assert robots(c, "forbidden.example").status_code == 403
        spa = robots(c, "html-robots.example")
        assert spa.status_code == 200 and spa.headers["content-type"].startswith("text/html")
        assert robots(c, "mojibake.example").content.startswith(b"\xef\xbb\xbf")
    with client(demo_web, follow_redirects=True, max_redirects=10) as c:
        r = robots(c, "redirect.example")
        assert len(r.history) == 6
        assert r.text == "User-agent: *\nDisallow: /\n"
