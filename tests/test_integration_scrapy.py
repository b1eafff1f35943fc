"""A real Scrapy crawl over the fake web with TdmscanMiddleware, in a subprocess.

The subprocess keeps Twisted's reactor out of the pytest process; the fake web runs here and
the crawl reaches it through HTTP_PROXY, as do the scanner's own origin-file fetches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("scrapy")

from tdmscan import policy
from tdmscan.fakeweb import Resp, Site
from tdmscan.types import Decision, Fetched, SiteFiles
from tdmscan.urls import parse_url

HTML = "text/html; charset=utf-8"

SPIDER = textwrap.dedent(
    """
    import json, sys
    import scrapy
    from scrapy.crawler import CrawlerProcess

    out, ledger, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])

    class Links(scrapy.Spider):
        name = "links"
        start_urls = ["http://a.test/"]

        def parse(self, response):
            yield {"url": response.url}
            for href in response.css("a::attr(href)").getall():
                yield response.follow(href, self.parse)

    settings = {
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "DOWNLOADER_MIDDLEWARES": {"tdmscan.integrations.scrapy.TdmscanMiddleware": 120},
        "ROBOTSTXT_OBEY": False,
        "TDMSCAN_AGENTS": ["MyBot", "GPTBot"],
        "TDMSCAN_INCLUDE_TRAINING_AGENTS": False,
        "TDMSCAN_LEDGER": ledger or None,
        "TDMSCAN_TIMEOUT": 10,
        "RETRY_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "USER_AGENT": "MyBot/1.0 (+https://example.invalid/bot)",
    }
    settings.update(extra)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(Links)
    process.crawl(crawler)
    process.start()
    stats = {k: v for k, v in crawler.stats.get_stats().items() if isinstance(v, (int, str))}
    with open(out, "w") as fh:
        json.dump(stats, fh)
    """
)


def _page(links: list[str] = (), head: str = "", headers: list[tuple[str, str]] = ()) -> Resp:
    body = "<html><head><title>t</title>" + head + "</head><body>"
    body += "".join(f'<a href="{u}">{u}</a>' for u in links) + "</body></html>"
    return Resp(body=body, headers=list(headers), content_type=HTML)


def sites() -> list[Site]:
    return [
        Site(
            "a.test",
            {
                "/robots.txt": Resp(body="User-agent: *\nDisallow: /private\n"),
                "/": _page(
                    [
                        "/ok",
                        "/private/secret",
                        "/noai",
                        "http://b.test/page",
                        "http://c.test/page",
                        "http://d.test/page",
                        "http://e.test/page",
                    ]
                ),
                "/ok": _page(),
                "/private/secret": _page(),
                "/noai": _page(headers=[("X-Robots-Tag", "noai")]),
            },
        ),
        # RFC 9309: a 5xx robots.txt means complete disallow -> unknown, dropped.
        Site("b.test", {"/robots.txt": Resp(503, "busy"), "/page": _page()}),
        # 4xx: no rules, everything allowed.
        Site("c.test", {"/robots.txt": Resp(404, "nope"), "/page": _page()}),
        # Only GPTBot is disallowed. Conservative mode reads that as an (inferred) training
        # reservation for every agent, strict mode lets MyBot crawl: the oracle says which.
        Site(
            "d.test",
            {"/robots.txt": Resp(body="User-agent: GPTBot\nDisallow: /\n"), "/page": _page()},
        ),
        Site(
            "e.test",
            {"/robots.txt": Resp(body="User-agent: MyBot\nDisallow: /\n"), "/page": _page()},
        ),
    ]


AGENTS = ["MyBot", "GPTBot"]
PAGES = [
    "http://a.test/",
    "http://a.test/ok",
    "http://a.test/private/secret",
    "http://a.test/noai",
    "http://b.test/page",
    "http://c.test/page",
    "http://d.test/page",
    "http://e.test/page",
]


def _fetched(resp: Resp, path: str) -> Fetched:
    ct = resp.content_type or ("text/html; charset=utf-8" if path.endswith("/") else "text/plain")
    return Fetched(
        status=resp.status, headers=[("Content-Type", ct), *resp.headers], body=resp.body
    )


def oracle(url: str) -> tuple[list[Decision], list[Decision] | None]:
    """What the policy says for a URL before download and, if it gets downloaded, after.

    The crawl must agree with the policy; the policy's own semantics are tested elsewhere.
    """
    p = parse_url(url)
    site = {s.host: s for s in sites()}[p.host]
    files = SiteFiles(
        origin=p.origin,
        robots=_fetched(site.lookup("/robots.txt"), "/robots.txt"),
        tdmrep=_fetched(site.lookup("/.well-known/tdmrep.json"), "/.well-known/tdmrep.json"),
        ai_txt=_fetched(site.lookup("/ai.txt"), "/ai.txt"),
    )
    signals = policy.parse_site(files)
    before = policy.decide(url, AGENTS, signals, None)
    if before[0].verdict != "allowed":
        return before, None
    page = _fetched(site.lookup(p.path_query), p.path)
    return before, policy.decide(url, AGENTS, signals, page)


def run_spider(
    tmp_path: Path, proxy: str, ledger: Path | None, allow_errors: bool = False, **extra: Any
) -> dict[str, Any]:
    script = tmp_path / "crawl.py"
    script.write_text(SPIDER)
    out = tmp_path / "stats.json"
    env = dict(os.environ)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        env[name] = proxy
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, str(script), str(out), str(ledger or ""), json.dumps(extra)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    if not allow_errors:
        assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    return json.loads(out.read_text())


def test_scrapy_crawl_drops_reserved_before_download(tmp_path: Path, fakeweb: Any) -> None:
    fw = fakeweb(sites())
    ledger = tmp_path / "ledger"
    stats = run_spider(tmp_path, fw.proxy_url, ledger)

    # Policy-independent facts first: robots.txt disallow for everyone or for our own token,
    # and a 503 robots.txt (RFC 9309: complete disallow), are never downloaded.
    assert fw.hits("a.test", "/private/secret") == 0
    assert fw.hits("b.test", "/page") == 0
    assert fw.hits("e.test", "/page") == 0
    assert fw.hits("a.test", "/ok") == 1
    assert fw.hits("c.test", "/page") == 1
    # One robots.txt fetch per origin, through the scanner, never again through Scrapy.
    for host in ("a.test", "b.test", "c.test", "d.test", "e.test"):
        assert fw.hits(host, "/robots.txt") == 1, host
    assert stats["tdmscan/origins_fetched"] == 5

    # Everything else as the policy decides it.
    finals: dict[str, list[Decision]] = {}
    dropped_req = dropped_resp = 0
    for url in PAGES:
        before, after = oracle(url)
        p = parse_url(url)
        assert fw.hits(p.host, p.path_query) == (0 if after is None else 1), url
        dropped_req += after is None
        dropped_resp += after is not None and after[0].verdict != "allowed"
        finals[url] = after if after is not None else before
    own = [ds[0] for ds in finals.values()]
    for verdict in ("allowed", "reserved", "unknown"):
        assert stats.get(f"tdmscan/verdict/{verdict}", 0) == sum(d.verdict == verdict for d in own)
    reasons: dict[str, int] = {}
    for d in own:
        for r in d.reasons:
            reasons[r] = reasons.get(r, 0) + 1
    assert {
        k[len("tdmscan/reason/") :]: v for k, v in stats.items() if k.startswith("tdmscan/reason/")
    } == reasons
    assert reasons["robots:disallow"] >= 2 and reasons["robots:unreachable"] == 1
    assert stats["tdmscan/forbidden/request"] == dropped_req >= 3
    assert stats.get("tdmscan/forbidden/response", 0) == dropped_resp
    assert stats["tdmscan/forbidden"] == dropped_req + dropped_resp
    assert stats["item_scraped_count"] == sum(d.verdict == "allowed" for d in own)

    from tdmscan.ledger import Ledger

    con = Ledger(ledger).connect()
    rows = con.execute(
        "SELECT url, agent, verdict, reasons, source_kind FROM decisions ORDER BY url, agent"
    ).fetchall()
    assert len(rows) == len(PAGES) * len(AGENTS)  # each URL once, for both agents
    assert {r[4] for r in rows} == {"own_crawl"}
    got = {(u, a): (v, tuple(r)) for u, a, v, r, _ in rows}
    for url, ds in finals.items():
        for d in ds:
            assert got[(url, d.agent)] == (d.verdict, d.reasons), (url, d.agent)
    assert got[("http://a.test/private/secret", "MyBot")][0] == "reserved"
    assert got[("http://b.test/page", "MyBot")][0] == "unknown"
    assert got[("http://d.test/page", "GPTBot")][0] == "reserved"
    # The robots.txt each decision rests on is in the ledger: one fetch row per origin.
    fetches = con.execute(
        "SELECT origin, status FROM fetches WHERE kind = 'robots' ORDER BY origin"
    ).fetchall()
    assert fetches == [
        ("http://a.test", 200),
        ("http://b.test", 503),
        ("http://c.test", 404),
        ("http://d.test", 200),
        ("http://e.test", 200),
    ]
    robots_a = con.execute(
        "SELECT body FROM snapshots WHERE url = 'http://a.test/robots.txt'"
    ).fetchall()
    assert robots_a and bytes(robots_a[0][0]) == b"User-agent: *\nDisallow: /private\n"
    runs = con.execute("SELECT kind, status FROM runs").fetchall()
    assert ("scrapy", "finished") in runs


def test_scrapy_strict_any_drops_when_any_agent_reserved(tmp_path: Path, fakeweb: Any) -> None:
    fw = fakeweb(sites())
    stats = run_spider(tmp_path, fw.proxy_url, None, TDMSCAN_STRICT_ANY=True)
    # d.test disallows GPTBot only: with strict_any the page is not downloaded either.
    assert fw.hits("d.test", "/page") == 0
    expected = sum(
        not all(d.ingest for d in oracle(url)[0]) for url in PAGES if url != "http://a.test/"
    )
    assert stats["tdmscan/forbidden/request"] == expected >= 4


def test_scrapy_without_asyncio_reactor_stops_instead_of_crawling_unchecked(
    tmp_path: Path, fakeweb: Any
) -> None:
    fw = fakeweb(sites())
    stats = run_spider(
        tmp_path,
        fw.proxy_url,
        None,
        allow_errors=True,
        TWISTED_REACTOR="twisted.internet.selectreactor.SelectReactor",
    )
    assert stats["finish_reason"].startswith("tdmscan_unavailable")
    assert fw.total_hits() == 0
