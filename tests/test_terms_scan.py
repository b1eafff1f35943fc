"""Terms-of-use pages on the fake web: discovery, one fetch per origin, policy, ledger."""

from __future__ import annotations

import pytest

import tdmscan
from tdmscan.fakeweb import Resp, Site
from tdmscan.fetch import FetchLimits
from tdmscan.fetch.terms import terms_candidates
from tdmscan.scanner import Scanner
from tdmscan.types import Fetched

pytestmark = pytest.mark.anyio
FAST = FetchLimits(total_timeout=2.0, connect_timeout=2.0)
HTML = "text/html; charset=utf-8"
ALLOW = Resp(body="User-agent: *\nAllow: /\n")


def page(body: str) -> Resp:
    return Resp(body=f"<!doctype html><html><body>{body}</body></html>", content_type=HTML)


RESERVING = page(
    "<h1>Terms of use</h1><p>Welcome to our site.</p>"
    "<p>The publisher reserves the use of all content for text and data mining within the "
    "meaning of Article 4(3) of Directive (EU) 2019/790.</p>"
    "<!-- Scraping is prohibited (draft, not in force) -->"
)
TERMS_SITES = [
    Site(
        "terms.test",
        {
            "/robots.txt": ALLOW,
            "/": page(
                '<a href="/privacy">Privacy policy</a> <a href="/about">About</a>'
                '<footer><a href="/legal/terms-of-use">Terms of use</a></footer>'
            ),
            "/legal/terms-of-use": RESERVING,
            "/privacy": page("<p>Text and data mining is prohibited.</p>"),
            "/article": page("<p>News.</p>"),
        },
    ),
    Site(
        "agb.test",
        {
            "/": page('<a href="/info/allgemeine-geschaeftsbedingungen.html">AGB</a>'),
            "/info/allgemeine-geschaeftsbedingungen.html": page(
                "<h2>§ 7 Nutzung</h2><p>Der Einsatz von Crawlern und anderen automatisierten "
                "Programmen zum Auslesen der Inhalte ist untersagt.</p>"
            ),
        },
    ),
    Site(
        "fallback.test",
        {
            "/": page("<p>No links at all.</p>"),
            "/terms": Resp(
                body="You may not use our content to train artificial intelligence models.",
                content_type="text/plain",
            ),
        },
    ),
    Site(
        "blocked.test",
        {
            "/robots.txt": Resp(body="User-agent: MyBot\nDisallow: /legal/\n"),
            "/": page('<a href="/legal/terms">Terms</a>'),
            "/legal/terms": RESERVING,
        },
    ),
    Site(
        "permits.test",
        {
            "/": page('<a href="/conditions">Conditions of use</a>'),
            "/conditions": page(
                "<p>All rights reserved.</p><p>Text and data mining of our articles is "
                "permitted for any purpose under CC BY 4.0.</p>"
            ),
        },
    ),
    Site(
        "offsite.test",
        {"/": page('<a href="http://other.test/terms">Terms</a>')},
    ),
    Site("other.test", {"/terms": RESERVING}),
    Site("down.test", {"/robots.txt": Resp(503)}),
]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def web(fakeweb, fakeweb_env):
    fw = fakeweb(TERMS_SITES)
    fakeweb_env(fw)
    return fw


def scanner(**kw) -> Scanner:
    kw.setdefault("fetcher", "aiohttp")
    return Scanner(["MyBot"], include_training_agents=False, limits=FAST, terms=True, **kw)


async def test_terms_link_found_read_and_decisive_in_conservative_mode(web):
    async with scanner() as s:
        d = await s.check("http://terms.test/article")
        assert d.verdict == "reserved" and d.reasons == ("tos:tdm-reserved",)
        (ev,) = [e for e in d.evidence if e.protocol == "tos"]
        assert ev.source_url == "http://terms.test/legal/terms-of-use"
        assert ev.raw.startswith("The publisher reserves the use of all content")
        assert ev.strength == "inferred" and ev.decisive
        for path in ("/a", "/b", "/c"):
            assert (await s.check("http://terms.test" + path)).verdict == "reserved"
    assert web.hits("terms.test", "/legal/terms-of-use") == 1
    assert web.hits("terms.test", "/") == 1
    assert web.hits("terms.test", "/privacy") == 0


async def test_strict_mode_records_without_deciding(web):
    async with scanner(mode="strict") as s:
        d = await s.check("http://terms.test/article")
    assert d.verdict == "allowed"
    (ev,) = [e for e in d.evidence if e.protocol == "tos"]
    assert ev.reason == "tos:tdm-reserved" and not ev.decisive


async def test_agb_link_scraping_clause_and_well_known_fallback(web):
    async with scanner() as s:
        d = await s.check("http://agb.test/x")
        assert d.reasons == ("tos:scraping-prohibited",)
        d = await s.check("http://fallback.test/x")
        assert d.reasons == ("tos:tdm-reserved",)
        assert d.evidence[-1].source_url == "http://fallback.test/terms"


async def test_robots_disallowed_terms_page_is_not_fetched(web):
    async with scanner() as s:
        d = await s.check("http://blocked.test/x")
    assert d.verdict == "allowed"
    assert web.hits("blocked.test", "/legal/terms") == 0
    assert not [e for e in d.evidence if e.protocol == "tos"]


async def test_unreachable_robots_means_no_terms_requests(web):
    async with scanner() as s:
        d = await s.check("http://down.test/x")
    assert d.verdict == "unknown"
    assert web.hits("down.test", "/") == 0 and web.hits("down.test", "/terms") == 0


async def test_permitting_terms_and_offsite_links_are_not_reservations(web):
    async with scanner() as s:
        d = await s.check("http://permits.test/x")
        assert d.verdict == "allowed"
        assert [e.reason for e in d.evidence if e.protocol == "tos"] == ["tos:none-found"]
        d = await s.check("http://offsite.test/x")
        assert d.verdict == "allowed"
    assert web.hits("other.test", "/terms") == 0


async def test_terms_off_by_default(web):
    async with Scanner(["MyBot"], include_training_agents=False, limits=FAST) as s:
        d = await s.check("http://terms.test/article")
    assert d.verdict == "allowed"
    assert web.hits("terms.test", "/") == 0


async def test_terms_page_is_a_ledger_snapshot(web, tmp_path):
    from tdmscan.ledger import Ledger

    async with scanner(ledger=tmp_path / "led") as s:
        await s.check("http://terms.test/article")
        await s.check("http://terms.test/other")
    led = Ledger(tmp_path / "led")
    rows = (
        led.connect()
        .execute(
            "SELECT f.url, f.status, s.size FROM fetches f JOIN snapshots s USING (sha256) "
            "WHERE f.kind = 'terms'"
        )
        .fetchall()
    )
    assert rows == [("http://terms.test/legal/terms-of-use", 200, len(RESERVING.body))]


def test_candidates_rank_terms_over_legal_and_never_privacy():
    home = Fetched(
        status=200,
        url="https://www.shop.test/",
        headers=[("Content-Type", "text/html")],
        body=(
            b'<a href="/datenschutz">Datenschutz</a><a href="/impressum">Impressum</a>'
            b'<a href="https://help.shop.test/nutzungsbedingungen">Nutzungsbedingungen</a>'
            b'<a href="https://evil.test/terms">Terms</a><a href="#top">Terms</a>'
        ),
    )
    assert terms_candidates(home, "https://www.shop.test") == [
        "https://help.shop.test/nutzungsbedingungen",
        "https://www.shop.test/impressum",
    ]


def test_evaluate_takes_terms_as_bytes_or_fetched():
    body = b"<p>Il est interdit d'utiliser les contenus pour entra\xc3\xaener des IA.</p>"
    d = tdmscan.evaluate("https://x.test/a", "MyBot", robots_txt=b"", terms=body)
    assert d.reasons == ("tos:tdm-reserved",)
    f = Fetched(status=404, url="https://x.test/cgu")
    d = tdmscan.evaluate("https://x.test/a", "MyBot", robots_txt=b"", terms=f)
    assert d.verdict == "allowed"
    assert [e.reason for e in d.evidence] == ["tos:not-read"]
    d = tdmscan.evaluate("https://x.test/a", "MyBot", robots_txt=b"", terms=body, purpose="search")
    assert d.verdict == "allowed"


@pytest.mark.parametrize("fetch_process", ["off", "on"])
def test_audit_terms_flag(web, tmp_path, fetch_process):
    from click.testing import CliRunner

    from tdmscan.cli import main
    from tdmscan.ledger import Ledger

    manifest = tmp_path / "urls.txt"
    manifest.write_text("http://terms.test/a\nhttp://terms.test/b\nhttp://permits.test/c\n")
    led = tmp_path / "led"
    base = ["audit", str(manifest), "--ledger", str(led), "--agent", "MyBot", "--quiet"]
    r = CliRunner().invoke(main, [*base, "--fetch-process", fetch_process], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    con = Ledger(led).connect()
    assert con.execute("SELECT count(*) FROM fetches WHERE kind = 'terms'").fetchone() == (0,)
    r = CliRunner().invoke(
        main,
        [*base, "--terms", "--new-run", "--fetch-process", fetch_process],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    con = Ledger(led).connect()
    rows = con.execute(
        "SELECT url, verdict, reasons FROM decisions WHERE run_id = "
        "(SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1) ORDER BY url"
    ).fetchall()
    assert rows == [
        ("http://permits.test/c", "allowed", []),
        ("http://terms.test/a", "reserved", ["tos:tdm-reserved"]),
        ("http://terms.test/b", "reserved", ["tos:tdm-reserved"]),
    ]
    terms = con.execute("SELECT url FROM fetches WHERE kind = 'terms' ORDER BY url").fetchall()
    assert terms == [("http://permits.test/conditions",), ("http://terms.test/legal/terms-of-use",)]


def test_warc_terms_from_the_archive(tmp_path):
    from test_warc import rec, robots, write_warc

    from tdmscan.integrations.warc import iter_warc

    terms_html = RESERVING.body.decode()
    home = '<html><body><a href="/site/nutzungsbedingungen.html">Nutzungsbedingungen</a></body>'
    path = tmp_path / "crawl.warc.gz"
    write_warc(
        path,
        [
            robots("http://w.test", "User-agent: *\nAllow: /\n"),
            rec("http://w.test/", body=home),
            rec("http://w.test/site/nutzungsbedingungen.html", body=terms_html),
            rec("http://w.test/article"),
            robots("http://n.test", "User-agent: *\nAllow: /\n"),
            rec("http://n.test/article"),
        ],
    )

    def verdict(results, url):
        return next(d for r in results for d in r.decisions if d.url == url)

    plain = list(iter_warc([path], ["MyBot"], fetch_missing=False))
    assert verdict(plain, "http://w.test/article").verdict == "allowed"
    with_terms = list(iter_warc([path], ["MyBot"], fetch_missing=False, terms=True))
    d = verdict(with_terms, "http://w.test/article")
    assert d.reasons == ("tos:tdm-reserved",)
    assert d.evidence[-1].source_url == "http://w.test/site/nutzungsbedingungen.html"
    assert verdict(with_terms, "http://n.test/article").verdict == "allowed"


def test_datatrove_filter_reads_terms(web, tmp_path):
    pytest.importorskip("datatrove")
    from datatrove.data import Document

    from tdmscan.integrations.datatrove import TdmscanFilter

    flt = TdmscanFilter(agents=["MyBot"], include_training_agents=False, terms=True)
    docs = [
        Document(text="x", id="1", metadata={"url": "http://terms.test/article"}),
        Document(text="y", id="2", metadata={"url": "http://permits.test/x"}),
    ]
    kept = list(flt.run(iter(docs)))
    assert [d.id for d in kept] == ["2"]
    assert docs[0].metadata["tdmscan"]["reasons"] == ["tos:tdm-reserved"]


def test_scrapy_setting_turns_terms_on():
    pytest.importorskip("scrapy")
    from scrapy.utils.test import get_crawler

    from tdmscan.integrations.scrapy import TdmscanMiddleware

    mw = TdmscanMiddleware(get_crawler(settings_dict={"TDMSCAN_TERMS": True}))
    assert mw.scanner_options["terms"] is True
    mw = TdmscanMiddleware(get_crawler(settings_dict={}))
    assert mw.scanner_options["terms"] is False


def test_evidence_report_terms_section(web, tmp_path):
    from click.testing import CliRunner

    from tdmscan.cli import main
    from tdmscan.ledger import Ledger
    from tdmscan.reports import build_evidence

    manifest = tmp_path / "urls.txt"
    manifest.write_text("http://terms.test/a\nhttp://terms.test/b\nhttp://agb.test/c\n")
    led = tmp_path / "led"
    r = CliRunner().invoke(
        main,
        ["audit", str(manifest), "--ledger", str(led), "--agent", "MyBot", "--quiet", "--terms"],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    rep = build_evidence(Ledger(led))
    sec = next(s for s in rep.sections if s.id == "terms-of-use")
    summary, clauses = sec.tables
    k = summary.one()
    assert k["origins_terms_looked_for"] == 2 and k["terms_pages_read"] == 2
    assert k["urls_tdm_reserved_clause"] == 2 and k["urls_scraping_prohibited_clause"] == 1
    assert k["urls_reserved_on_terms_only"] == 3
    rows = [dict(zip(clauses.columns, r, strict=True)) for r in clauses.rows]
    assert {(r["terms_page"], r["reason"], r["urls"]) for r in rows} == {
        ("http://terms.test/legal/terms-of-use", "tos:tdm-reserved", 2),
        ("http://agb.test/info/allgemeine-geschaeftsbedingungen.html",
         "tos:scraping-prohibited", 1),
    }  # fmt: skip
    assert any("disputed" in p for p in sec.paragraphs)
