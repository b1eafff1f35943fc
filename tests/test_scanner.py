"""Scanner through the real fake web (loopback proxy), for both fetchers.

Every RFC 9309 outcome maps to its verdict, nothing outlives its deadline, bombs stay within the
byte cap, and the server-side counts prove one request per origin file under concurrency.
"""

from __future__ import annotations

import contextlib
import random
import time
import tracemalloc
from datetime import UTC, datetime
from functools import partial

import anyio
import httpx
import pytest

import tdmscan
from tdmscan.fakeweb import Resp, Site, bench_generator, html_as_robots, redirect, redirect_chain
from tdmscan.fetch import FetchLimits
from tdmscan.scanner import Scanner, training_tokens

pytestmark = pytest.mark.anyio

MiB = 1024 * 1024
DEADLINE = 1.0
FAST = FetchLimits(total_timeout=DEADLINE, connect_timeout=DEADLINE)
KINDS = ["aiohttp", "httpx"]

DISALLOW_ALL = "User-agent: *\nDisallow: /\n"
PRIVATE = "User-agent: *\nDisallow: /private/\n"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def site(host: str, robots: Resp | None = None, **routes: Resp) -> Site:
    r = {"/robots.txt": robots} if robots is not None else {}
    r.update({"/" + k.replace("__", "/").replace("_", "."): v for k, v in routes.items()})
    return Site(host, r)


FAULT_SITES = [
    site("ok.test", Resp(body=PRIVATE)),
    site("nf.test", Resp(404, body="nope")),
    site("gone.test", Resp(410)),
    site("forbidden.test", Resp(403)),
    site("e500.test", Resp(500)),
    site("e503.test", Resp(503, headers=[("Retry-After", "3600")])),
    site("e429.test", Resp(429)),
    site("slow.test", Resp(body=DISALLOW_ALL, delay=DEADLINE * 5)),
    site("drip.test", Resp(body=PRIVATE * 200, drip=50)),
    site("reset.test", Resp(reset=True)),
    site("midreset.test", Resp(body=PRIVATE * 100, reset_after=40)),
    site("hang.test", Resp(hang=True)),
    site("html.test", html_as_robots()),
    site("gz.test", Resp(body=DISALLOW_ALL, gzip=True)),
    site("bomb.test", Resp(bomb=256 * MiB)),
    site("big.test", Resp(body="User-agent: *\nDisallow: /private/\n", oversize=5 * MiB)),
    site("moved.test", redirect("http://elsewhere.test/robots.txt")),
    site("elsewhere.test", Resp(body="User-agent: *\nAllow: /\n")),
    site("rel.test", redirect("/real/robots.txt", 302), real__robots_txt=Resp(body=DISALLOW_ALL)),
    *redirect_chain("six.test", hops=6, final=Resp(body=DISALLOW_ALL)),
    *redirect_chain("five.test", hops=5, final=Resp(body=DISALLOW_ALL)),
]

# host -> (verdict for /page, reason that must be present or None)
EXPECTED = {
    "ok.test": ("allowed", None),
    "nf.test": ("allowed", None),
    "gone.test": ("allowed", None),
    "forbidden.test": ("allowed", None),
    "e500.test": ("unknown", "robots:unreachable"),
    "e503.test": ("unknown", "robots:unreachable"),
    "e429.test": ("unknown", "robots:unreachable"),
    "slow.test": ("unknown", "robots:unreachable"),
    "drip.test": ("unknown", "robots:unreachable"),
    "reset.test": ("unknown", "robots:unreachable"),
    "midreset.test": ("unknown", "robots:unreachable"),
    "hang.test": ("unknown", "robots:unreachable"),
    "html.test": ("allowed", None),
    "gz.test": ("reserved", "robots:disallow"),
    "bomb.test": ("allowed", None),
    "big.test": ("allowed", None),
    "moved.test": ("allowed", None),
    "rel.test": ("reserved", "robots:disallow"),
    "five.test": ("reserved", "robots:disallow"),
    # More than five redirects: RFC 9309 allows "unavailable", conservative mode says unknown.
    "six.test": ("unknown", "robots:redirect-limit"),
    "nosuchhost.test": ("unknown", "robots:unreachable"),  # fake web answers 502
}


@pytest.fixture
def web(fakeweb, fakeweb_env):
    fw = fakeweb(FAULT_SITES)
    fakeweb_env(fw)
    return fw


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("host", sorted(EXPECTED))
async def test_rfc9309_fault_matrix(web, kind, host):
    verdict, reason = EXPECTED[host]
    async with Scanner(["MyBot"], fetcher=kind, limits=FAST) as s:
        start = time.monotonic()
        d = await s.check(f"http://{host}/page")
        took = time.monotonic() - start
    assert d.verdict == verdict, (host, d)
    if reason:
        assert reason in d.reasons
    # The three files are fetched concurrently, each within its own deadline.
    assert took < DEADLINE + 1.5, f"{host} took {took:.2f}s"


@pytest.mark.parametrize("kind", KINDS)
async def test_fault_details(web, kind):
    async with Scanner(["MyBot"], fetcher=kind, limits=FAST) as s:
        six = (await s.site("http://six.test")).files.robots
        assert six.error == "too-many-redirects" and six.status == 301
        assert len(six.redirects) == 6
        # More than five redirects: treated as unavailable, never as the final file's rules.
        d = await s.check("http://six.test/page")
        assert d.verdict != "reserved" and "robots:disallow" not in d.reasons

        five = (await s.site("http://five.test")).files.robots
        assert five.ok and five.final_url.startswith("http://hop5.five.test/")
        assert len(five.redirects) == 5

        # Cross-host redirect: the fetched rules belong to the original origin.
        moved = await s.site("http://moved.test")
        assert moved.files.origin == "http://moved.test"
        assert moved.files.robots.final_url == "http://elsewhere.test/robots.txt"
        assert (await s.check("http://ok.test/private/x")).verdict == "reserved"

        for host, code in [
            ("slow.test", "timeout"),
            ("hang.test", "timeout"),
            ("drip.test", "timeout"),
            ("reset.test", "reset"),
        ]:
            robots = (await s.site(f"http://{host}")).files.robots
            assert robots.status is None and robots.error == code, (host, robots)
        mid = (await s.site("http://midreset.test")).files.robots
        assert mid.error == "reset" and mid.unreachable

        bomb = (await s.site("http://bomb.test")).files.robots
        assert bomb.truncated and len(bomb.body) <= FAST.robots_max_bytes
        big = (await s.site("http://big.test")).files.robots
        assert big.truncated and len(big.body) == FAST.robots_max_bytes


@pytest.mark.parametrize("kind", KINDS)
async def test_gzip_bomb_memory_stays_bounded(fakeweb, fakeweb_env, kind):
    fw = fakeweb([site("bomb.test", Resp(bomb=512 * MiB))])
    fw.prepare()
    fakeweb_env(fw)
    limits = FetchLimits(total_timeout=10)
    async with Scanner(["MyBot"], fetcher=kind, limits=limits) as s:
        tracemalloc.start()
        try:
            files = (await s.site("http://bomb.test")).files
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert files.robots.truncated and len(files.robots.body) <= limits.robots_max_bytes
    # Three bodies capped at 1 MiB each plus client buffers; an uncapped inflate is 512 MiB.
    assert peak < 24 * MiB, f"peak {peak / MiB:.1f} MiB"


# ---------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize("kind", KINDS)
async def test_1000_concurrent_checks_one_origin_one_request_per_file(fakeweb, fakeweb_env, kind):
    fw = fakeweb([site("one.test", Resp(body=PRIVATE, delay=0.05))])
    fakeweb_env(fw)
    results = []
    async with Scanner(["MyBot"], fetcher=kind) as s:

        async def one(i: int) -> None:
            path = "/private/x" if i % 2 else f"/p{i}"
            results.append(await s.check(f"http://one.test{path}"))

        async with anyio.create_task_group() as tg:
            for i in range(1000):
                tg.start_soon(one, i)
        stats = s.stats
    assert len(results) == 1000
    assert sum(d.verdict == "reserved" for d in results) == 500
    for path in ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt"):
        assert fw.hits("one.test", path) == 1, path
    assert fw.total_hits() == 3
    assert stats.origins_fetched == 1 and stats.requests == 3
    assert stats.cache_hits == 999 and stats.cache_misses == 1


@pytest.mark.parametrize(
    "kind", [pytest.param("aiohttp"), pytest.param("httpx", marks=pytest.mark.slow)]
)
async def test_10000_urls_over_2000_origins(fakeweb, fakeweb_env, kind):
    gen = bench_generator(2000)
    fw = fakeweb(generator=gen)
    fakeweb_env(fw)
    urls = [f"http://{gen.host(i % 2000)}/page/{i}" for i in range(10_000)]
    random.Random(7).shuffle(urls)
    counts: dict[str, int] = {}
    async with Scanner(["MyBot"], fetcher=kind) as s:
        # httpx's pool gets slower as concurrency rises (benchmarks/bench_scan.py): keep it modest.
        async for d in s.check_many(urls, concurrency=200 if kind == "aiohttp" else 50):
            counts[d.verdict] = counts.get(d.verdict, 0) + 1
        stats = s.stats
    for path in ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt"):
        assert fw.total_hits(path) == 2000, path
    assert fw.total_hits() == 6000
    assert sum(counts.values()) == 10_000
    # MyBot is disallowed nowhere outside /private/, so the only "unknown" verdicts must be the
    # hosts whose robots.txt answers 503: zero timeouts.
    expected_unknown = sum(1 for u in urls if gen.profile(u.split("/")[2]) == "robots-503")
    assert counts.get("unknown", 0) == expected_unknown
    assert stats.origins_fetched == 2000 and stats.requests == 6000


# ---------------------------------------------------------------------------- API behaviour


async def test_api_shape_and_agents(web):
    async with tdmscan.Scanner(agents=["MyBot"], fetcher="httpx", limits=FAST) as s:
        assert s.agents[0] == "MyBot" and set(training_tokens()) <= set(s.agents)
        ds = await s.check_all("http://ok.test/private/a")
        assert [d.agent for d in ds] == list(s.agents)
        assert all(d.verdict == "reserved" for d in ds)
    async with tdmscan.Scanner(["MyBot"], include_training_agents=False, fetcher="httpx") as s:
        assert s.agents == ("MyBot",)


@pytest.mark.parametrize("url", ["ftp://ok.test/x", "not a url", "", "http://", "mailto:a@b"])
async def test_invalid_urls_never_raise(web, url):
    async with Scanner(["MyBot"], fetcher="httpx", limits=FAST) as s:
        d = await s.check(url)
        assert d.verdict == "invalid" and not d.ingest
        ds = await s.check_all(url)
        assert all(x.verdict == "invalid" for x in ds)
        assert s.stats.origins_fetched == 0


async def test_check_response_fetches_only_origin_files(web):
    async with Scanner(["MyBot"], fetcher="aiohttp", limits=FAST) as s:
        d = await s.check_response(
            "http://ok.test/article", 200, [("Content-Type", "text/html")], b"<html><head></head>"
        )
        assert d.verdict == "allowed"
        d = await s.check_response("http://ok.test/private/z", 200, {}, b"")
        assert d.verdict == "reserved"
        ds = await s.check_response("http://ok.test/a", 200, {}, b"", all_agents=True)
        assert len(ds) == len(s.agents)
    assert web.hits("ok.test", "/article") == 0
    assert web.hits("ok.test", "/robots.txt") == 1


async def test_check_many_filter_and_ingest(web):
    urls = [
        "http://ok.test/a",
        "http://ok.test/private/b",
        "http://e503.test/c",
        "bad://x",
        "http://nf.test/d",
    ]
    async with Scanner(["MyBot"], fetcher="aiohttp", limits=FAST) as s:
        got = {d.url: d.verdict async for d in s.check_many(urls, concurrency=3)}
        assert got == {
            "http://ok.test/a": "allowed",
            "http://ok.test/private/b": "reserved",
            "http://e503.test/c": "unknown",
            "bad://x": "invalid",
            "http://nf.test/d": "allowed",
        }
        kept = [u async for u, d in s.filter(urls)]
        assert sorted(kept) == ["http://nf.test/d", "http://ok.test/a"]
        all_agents = [d async for d in s.check_many(urls[:1], all_agents=True)]
        assert len(all_agents) == len(s.agents)
        assert s.ingest(await s.check("http://ok.test/a"))
        assert not s.ingest(await s.check("http://e503.test/a"))
        assert not s.ingest([])


async def test_async_iterable_input_and_early_break(web):
    async def gen():
        for i in range(50):
            yield f"http://ok.test/p{i}"

    async with Scanner(["MyBot"], fetcher="aiohttp", limits=FAST) as s:
        n = 0
        async with contextlib.aclosing(s.check_many(gen(), concurrency=5)) as it:
            async for _ in it:
                n += 1
                if n == 10:
                    break
        assert n == 10
        assert [d async for d in s.check_many(gen())].__len__() == 50


async def test_strict_any_filter(fakeweb, fakeweb_env):
    # A disallow for GPTBot only; other files absent. In strict mode the own token is allowed,
    # so only strict_any (every agent must be allowed) filters the URL out.
    fw = fakeweb([site("gpt.test", Resp(body="User-agent: GPTBot\nDisallow: /\n"))])
    fakeweb_env(fw)
    urls = ["http://gpt.test/a"]
    async with Scanner(["MyBot"], fetcher="aiohttp", mode="strict") as s:
        assert [u async for u, _ in s.filter(urls)] == urls
    async with Scanner(["MyBot"], fetcher="aiohttp", mode="strict", strict_any=True) as s:
        assert [u async for u, _ in s.filter(urls)] == []
        assert not s.ingest(await s.check_all("http://gpt.test/a"))


@pytest.mark.parametrize("kind", KINDS)
async def test_deep_fetches_page_head_once_and_respects_robots(fakeweb, fakeweb_env, kind):
    head = "<html><head><meta name='robots' content='noai'></head>"
    fw = fakeweb(
        [
            site(
                "deep.test",
                Resp(body=PRIVATE),
                page=Resp(
                    body=head + "<body>" + "x" * 400_000 + "</body></html>",
                    content_type="text/html",
                ),
                private__page=Resp(body=head, content_type="text/html"),
            )
        ]
    )
    fakeweb_env(fw)
    async with Scanner(["MyBot"], fetcher=kind) as s:
        d1 = await s.check("http://deep.test/page", deep=True)
        d2 = await s.check_all("http://deep.test/page", deep=True)
        d3 = await s.check("http://deep.test/private/page", deep=True)
        assert s.stats.pages_fetched == 1 and s.stats.page_cache_hits == 1
    assert d1.verdict in ("allowed", "reserved") and len(d2) == len(s.agents)
    assert d3.verdict == "reserved"
    assert fw.hits("deep.test", "/page") == 1
    assert fw.hits("deep.test", "/private/page") == 0  # disallowed for us: never fetched


async def test_crawl_delay_is_honoured_when_the_policy_exposes_it(
    fakeweb, fakeweb_env, monkeypatch
):
    from tdmscan import policy

    monkeypatch.setattr(policy.SiteSignals, "crawl_delay", lambda self, agent: 0.3, raising=False)
    fw = fakeweb(
        [
            site(
                "slowly.test",
                Resp(body=PRIVATE),
                a=Resp(body="a"),
                b=Resp(body="b"),
                c=Resp(body="c"),
            )
        ]
    )
    fakeweb_env(fw)
    async with Scanner(["MyBot"], fetcher="aiohttp") as s:
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            for p in "abc":
                tg.start_soon(partial(s.check, f"http://slowly.test/{p}", deep=True))
        took = time.monotonic() - start
    assert took >= 0.55  # three page fetches, 0.3 s apart


async def test_stale_copy_and_ttl_through_the_scanner(fakeweb, fakeweb_env):
    fw = fakeweb([site("flaky.test", Resp(body=PRIVATE))])
    fakeweb_env(fw)
    now = [datetime(2026, 3, 1, tzinfo=UTC).timestamp()]
    async with Scanner(["MyBot"], fetcher="aiohttp", clock=lambda: now[0], limits=FAST) as s:
        assert (await s.check("http://flaky.test/private/x")).verdict == "reserved"
        fw.add_site(site("flaky.test", Resp(503)))
        now[0] += 3600  # within the TTL: cached, no request
        assert (await s.check("http://flaky.test/private/x")).verdict == "reserved"
        assert fw.hits("flaky.test", "/robots.txt") == 1
        now[0] += 86400  # expired: re-fetch answers 503, the earlier 2xx copy is kept
        d = await s.check("http://flaky.test/private/x")
        assert fw.hits("flaky.test", "/robots.txt") == 2
        robots = (await s.site("http://flaky.test")).files.robots
        assert robots.stale and robots.status == 200
        assert d.verdict == "reserved" and s.stats.stale_copies == 1
        now[0] += 31 * 86400  # beyond 30 days since the good fetch: unknown
        d = await s.check("http://flaky.test/private/x")
        assert d.verdict == "unknown" and "robots:unreachable" in d.reasons


async def test_lru_bound_in_the_scanner(fakeweb, fakeweb_env):
    fw = fakeweb(generator=bench_generator(300))
    fakeweb_env(fw)
    async with Scanner(["MyBot"], fetcher="aiohttp", cache_size=100) as s:
        urls = [f"http://s{i}.bench.test/x" for i in range(300)]
        assert len([d async for d in s.check_many(urls)]) == 300
        assert len(s._sites) == 100


async def test_mock_transport_scanner_and_guard_without_proxy(monkeypatch):
    for name in (
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)

    def handler(request):
        return httpx.Response(200, text="User-agent: *\nDisallow: /no\n")

    async with Scanner(["MyBot"], transport=httpx.MockTransport(handler)) as s:
        assert (await s.check("http://a.test/no")).verdict == "reserved"
        assert (await s.check("http://a.test/yes")).verdict == "allowed"
        d = await s.check("http://127.0.0.1/x")
        assert d.verdict == "unknown"  # robots.txt refused-address: unreachable
        files = (await s.site("http://127.0.0.1")).files
        assert files.robots.error == "refused-address"
    async with Scanner(["MyBot"], transport=httpx.MockTransport(handler), allow_private=True) as s:
        assert (await s.check("http://127.0.0.1/x")).verdict == "allowed"


def test_constructor_validation():
    with pytest.raises(ValueError):
        Scanner([])
    with pytest.raises(ValueError):
        Scanner(["a"], stale_limit=31 * 86400)


async def test_record_hook_receives_decisions(web):
    seen = []

    class Ledger:
        def record(self, decisions, files, ctx=None, extra=None):
            seen.append((decisions, files))

    async with Scanner(["MyBot"], Ledger(), fetcher="httpx", limits=FAST) as s:
        await s.check("http://ok.test/a")
        await s.check("nope")
    assert len(seen) == 2 and seen[0][1].origin == "http://ok.test" and seen[1][1] is None


async def test_scanner_writes_a_ledger_run(fakeweb, fakeweb_env, tmp_path):
    from tdmscan.ledger import Ledger

    fw = fakeweb([site("gpt.test", Resp(body="User-agent: *\nDisallow: /private/\n"))])
    fakeweb_env(fw)
    led = tmp_path / "ledger"
    async with Scanner(["MyBot"], ledger=led, include_training_agents=False) as s:
        assert (await s.check("http://gpt.test/a")).verdict == "allowed"
        assert (await s.check("http://gpt.test/private/x")).verdict == "reserved"
        await s.check("not a url")
    ledger = Ledger(led, create=False)
    assert ledger.verify().ok
    con = ledger.connect()
    rows = con.execute(
        "SELECT url, verdict, robots_matched_line FROM decisions ORDER BY url"
    ).fetchall()
    assert rows == [
        ("http://gpt.test/a", "allowed", None),
        ("http://gpt.test/private/x", "reserved", 2),
        ("not a url", "invalid", None),
    ]
    kinds = con.execute("SELECT kind, count(*) FROM fetches GROUP BY 1 ORDER BY 1").fetchall()
    assert kinds == [("ai-txt", 1), ("robots", 1), ("tdmrep", 1)]  # once per origin
    run = con.execute("SELECT kind, status, user_agent FROM runs").fetchone()
    assert run[0] == "scan" and run[1] == "finished" and run[2].startswith("tdmscan/")
    text = con.execute("SELECT robots_txt FROM evidence WHERE verdict = 'reserved'").fetchone()
    assert text[0] == b"User-agent: *\nDisallow: /private/\n"


RSL_PROHIBIT = (
    '<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
    '<prohibits type="usage">ai-train</prohibits></license></content></rsl>'
)


async def test_rsl_licence_from_robots_is_fetched_once_and_decides(fakeweb, fakeweb_env):
    fw = fakeweb(
        [
            site(
                "rsl.test",
                Resp(body="License: http://rsl.test/license.xml\nUser-agent: *\nAllow: /\n"),
                license_xml=Resp(body=RSL_PROHIBIT, content_type="application/rsl+xml"),
            ),
            site(
                "gone.test", Resp(body="License: http://gone.test/l.xml\nUser-agent: *\nAllow: /\n")
            ),
        ]
    )
    fakeweb_env(fw)
    async with Scanner(["MyBot"], include_training_agents=False) as s:
        for i in range(5):
            d = await s.check(f"http://rsl.test/a{i}")
            assert d.reasons == ("rsl:prohibited",)
        assert (await s.check("http://gone.test/a")).reasons == ("rsl:unobtainable",)
    assert fw.hits("rsl.test", "/license.xml") == 1


async def test_unreachable_origin_is_retried_after_retry_ttl(fakeweb, fakeweb_env):
    robots = Resp(status=503)
    fw = fakeweb([site("flaky.test", robots)])
    fakeweb_env(fw)
    now = [1_000_000.0]
    async with Scanner(
        ["MyBot"], include_training_agents=False, clock=lambda: now[0], retry_ttl=60
    ) as s:
        assert (await s.check("http://flaky.test/a")).verdict == "unknown"
        now[0] += 30
        assert (await s.check("http://flaky.test/a")).verdict == "unknown"
        assert fw.hits("flaky.test", "/robots.txt") == 1  # still cached
        robots.status = 200
        robots.body = b"User-agent: *\nDisallow: /\n"
        now[0] += 31
        assert (await s.check("http://flaky.test/a")).reasons == ("robots:disallow",)
        assert fw.hits("flaky.test", "/robots.txt") == 2


async def test_site_files_match_site_without_parsing(fakeweb, fakeweb_env, monkeypatch):
    """What the audit's fetch process sends: the files and RSL documents site() would hold,
    each fetched once, robots.txt parsed only when it mentions a licence."""
    from tdmscan import policy

    fw = fakeweb(
        [
            site(
                "rsl.test",
                Resp(body="License: http://rsl.test/license.xml\nUser-agent: *\nAllow: /\n"),
                license_xml=Resp(body=RSL_PROHIBIT, content_type="application/rsl+xml"),
            ),
            site("plain.test", Resp(body=PRIVATE)),
        ]
    )
    fakeweb_env(fw)
    parsed: list[str] = []
    real_parse = policy.parse_site

    def counting(files, docs=None):
        parsed.append(files.origin)
        return real_parse(files, docs)

    async with Scanner(["MyBot"], include_training_agents=False) as a:
        want = {o: await a.site(o) for o in ("http://rsl.test", "http://plain.test")}
    monkeypatch.setattr(policy, "parse_site", counting)
    async with Scanner(["MyBot"], include_training_agents=False) as s:
        async with anyio.create_task_group() as tg:  # concurrent calls share one fetch
            for _ in range(3):
                tg.start_soon(s.site_files, "http://plain.test")
        for origin, w in want.items():
            files, docs = await s.site_files(origin)
            assert [f.sha256 for f in (files.robots, files.tdmrep, files.ai_txt)] == [
                f.sha256 for f in (w.files.robots, w.files.tdmrep, w.files.ai_txt)
            ]
            assert {u: f.sha256 for u, f in docs.items()} == {
                u: f.sha256 for u, f in w.rsl_documents.items()
            }
        assert set(docs) == set() and len(want["http://rsl.test"].rsl_documents) == 1
        again = await s.site_files("http://plain.test")
        assert again[0] is files
        assert s.stats.origins_fetched == 2 and s.stats.cache_hits >= 3
        # Answered from site()'s cache when it holds the origin: no new fetch.
        await s.site("http://other.test")
        before = s.stats.origins_fetched
        assert (await s.site_files("http://other.test"))[0].origin == "http://other.test"
        assert s.stats.origins_fetched == before
    assert parsed.count("http://rsl.test") == 1  # for its License record
    assert "http://plain.test" not in parsed
    for host in ("rsl.test", "plain.test"):
        assert fw.hits(host, "/robots.txt") == 2  # once per scanner
    assert fw.hits("rsl.test", "/license.xml") == 2


async def test_site_files_keep_a_stale_copy_like_site(fakeweb, fakeweb_env):
    fw = fakeweb([site("flaky.test", Resp(body=PRIVATE))])
    fakeweb_env(fw)
    now = [datetime(2026, 3, 1, tzinfo=UTC).timestamp()]
    async with Scanner(["MyBot"], fetcher="aiohttp", clock=lambda: now[0], limits=FAST) as s:
        assert (await s.site_files("http://flaky.test"))[0].robots.status == 200
        fw.add_site(site("flaky.test", Resp(503)))
        now[0] += 86400 + 1
        robots = (await s.site_files("http://flaky.test"))[0].robots
        assert robots.stale and robots.status == 200 and s.stats.stale_copies == 1
        assert fw.hits("flaky.test", "/robots.txt") == 2
        now[0] += 3600  # a stale copy lives retry_ttl, not the full TTL
        await s.site_files("http://flaky.test")
        assert fw.hits("flaky.test", "/robots.txt") == 3
