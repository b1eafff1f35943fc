"""RSL 1.0: document parsing and evaluation."""

from __future__ import annotations

import pytest

from tdmscan.signals.headers import link_licences
from tdmscan.signals.rsl import (
    licence_urls_for,
    looks_like_rsl,
    parse_rsl,
)

SPEC_EXAMPLE = """<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/articles/" server="https://license.example.com" lastmod="2026-01-01T00:00:00Z">
    <license>
      <permits type="usage">search ai-input</permits>
      <prohibits type="usage">ai-train</prohibits>
      <permits type="user">non-commercial education</permits>
      <permits type="geo">EU US</permits>
      <payment type="use"><amount currency="EUR">0.01</amount></payment>
    </license>
    <copyright type="organization" contactEmail="rights@example.com">Example Media</copyright>
    <terms>https://example.com/ai-terms</terms>
  </content>
</rsl>"""


def doc(contents: str, attrs: str = "") -> str:
    return f'<rsl xmlns="https://rslstandard.org/rsl"{attrs}>{contents}</rsl>'


def test_spec_example_parse():
    d = parse_rsl(SPEC_EXAMPLE)
    assert d.ok and d.problems == () and d.max_age_days == 30
    (c,) = d.contents
    assert c.url == "/articles/" and c.server == "https://license.example.com"
    assert c.lastmod == "2026-01-01T00:00:00Z"
    lic = c.licenses[0]
    assert lic.permits["usage"] == ("search", "ai-input")
    assert lic.prohibits["usage"] == ("ai-train",)
    assert lic.payments[0].type == "use" and lic.payments[0].amount == "0.01"
    assert lic.payments[0].currency == "EUR"
    assert c.copyright == "Example Media" and c.contact == "rights@example.com"
    assert c.terms == "https://example.com/ai-terms"


def test_spec_example_evaluate():
    d = parse_rsl(SPEC_EXAMPLE)
    r = d.evaluate("/articles/2026/x.html", "train-ai")
    assert r.status == "prohibited"
    assert r.content_url == "/articles/" and r.contact == "rights@example.com"
    assert r.terms == "https://example.com/ai-terms"
    assert "permits user: non-commercial education" in r.conditions
    assert d.evaluate("/articles/x", "search").status == "licence-required"  # server given
    assert d.evaluate("/articles/x", "ai-index").status == "prohibited"  # closed permits list
    assert d.evaluate("/other", "train-ai").status == "no-match"


@pytest.mark.parametrize(
    ("payment", "status"),
    [
        ("", "permitted-free"),
        ('<payment type="free"/>', "permitted-free"),
        ('<payment type="attribution"/>', "permitted-attribution"),
        ('<payment type="purchase"><amount currency="USD">10</amount></payment>', "permitted-paid"),
        ('<payment type="inference"/>', "permitted-paid"),  # 0.9 value
        ('<payment type="free"/><payment type="training"/>', "permitted-paid"),
    ],
)
def test_payment_statuses(payment, status):
    d = parse_rsl(doc(f'<content url="/"><license>{payment}</license></content>'))
    r = d.evaluate("/a", "train-ai")
    assert r.status == status


def test_no_usage_element_permits_every_use_and_no_license_is_unspecified():
    d = parse_rsl(doc('<content url="/"><license/></content>'))
    assert d.evaluate("/a", "ai-input").status == "permitted-free"
    d = parse_rsl(doc('<content url="/"/>'))
    assert d.evaluate("/a").status == "unspecified"


@pytest.mark.parametrize("token", ["all", "ai-all", "ai-train", "train-ai"])
def test_usage_tokens_covering_training(token):
    d = parse_rsl(
        doc(
            f'<content url="/"><license><prohibits type="usage">{token}</prohibits></license>'
            "</content>"
        )
    )
    assert d.evaluate("/a", "train-ai").status == "prohibited"


def test_ai_all_does_not_cover_search():
    d = parse_rsl(
        doc(
            '<content url="/"><license><prohibits type="usage">ai-all</prohibits></license>'
            "</content>"
        )
    )
    assert d.evaluate("/a", "search").status == "permitted-free"


def test_prohibits_beats_permits():
    d = parse_rsl(
        doc(
            '<content url="/"><license><permits type="usage">all</permits>'
            '<prohibits type="usage">ai-train</prohibits></license></content>'
        )
    )
    assert d.evaluate("/a", "train-ai").status == "prohibited"
    assert d.evaluate("/a", "search").status == "permitted-free"


# --- §5.5-2: several matching <content> ---------------------------------------------------------


def test_most_specific_content_wins():
    d = parse_rsl(
        doc(
            '<content url="/"><license><prohibits type="usage">all</prohibits></license></content>'
            '<content url="/articles/"><license><permits type="usage">ai-train</permits>'
            '<payment type="attribution"/></license></content>'
        )
    )
    assert d.evaluate("/articles/x").status == "permitted-attribution"
    assert d.evaluate("/about").status == "prohibited"


def test_equal_specificity_conflict_most_restrictive():
    d = parse_rsl(
        doc(
            '<content url="/a/"><license><permits type="usage">ai-train</permits></license>'
            '</content><content url="/a/"><license><prohibits type="usage">ai-train</prohibits>'
            "</license></content>"
        )
    )
    r = d.evaluate("/a/x")
    assert r.status == "prohibited" and any("conflict" in p for p in r.problems)


def test_patterns_and_full_urls():
    d = parse_rsl(
        doc(
            '<content url="https://ex.com/*.pdf$"><license><prohibits type="usage">all'
            "</prohibits></license></content>"
        )
    )
    assert d.evaluate("/docs/a.pdf").status == "prohibited"
    assert d.evaluate("https://ex.com/docs/a.pdf").status == "prohibited"
    assert d.evaluate("https://other.com/docs/a.pdf").status == "no-match"
    assert d.evaluate("/docs/a.pdf?x=1").status == "no-match"


def test_alternative_licences_most_permissive():
    d = parse_rsl(
        doc(
            '<content url="/"><license><payment type="subscription"/></license>'
            '<license><payment type="attribution"/></license></content>'
        )
    )
    assert d.evaluate("/a").status == "permitted-attribution"


# --- §5.5-3: comma-separated and 0.9 values, missing document ---------------------------------


def test_comma_separated_permits():
    d = parse_rsl(
        doc(
            '<content url="/"><license><permits type="usage">ai-input,search</permits>'
            "</license></content>"
        )
    )
    assert d.contents[0].licenses[0].permits["usage"] == ("ai-input", "search")
    assert d.evaluate("/a", "search").status == "permitted-free"
    assert d.evaluate("/a", "train-ai").status == "prohibited"


def test_unknown_usage_tokens_recorded():
    d = parse_rsl(
        doc(
            '<content url="/"><license><permits type="usage">ai-summarize, crawl</permits>'
            "</license></content>"
        )
    )
    assert any("unknown usage" in p for p in d.problems)
    assert d.evaluate("/a", "ai-input").status == "permitted-free"


def test_missing_document_is_unlicensed():
    # a 404 for the referenced file: the caller passes None
    d = parse_rsl(None)
    assert not d.ok
    r = d.evaluate("/a")
    assert r.status == "licence-required" and r.problems


def test_rel_license_without_type_rsl_vs_cc():
    ls = link_licences([("Link", "<https://ex.com/license.xml>; rel=license")])
    assert not ls[0].rsl  # undecided until fetched
    assert looks_like_rsl(doc('<content url="/"/>'))
    assert not looks_like_rsl(b"<!doctype html><html><body>CC BY 4.0</body></html>")
    assert not looks_like_rsl(None)


# --- §5.5-1: License in a group vs global ----------------------------------------------------


def test_group_license_lines_replace_global():
    assert licence_urls_for(("https://g/l.xml",), ("https://global/l.xml",)) == ("https://g/l.xml",)
    assert licence_urls_for((), ("https://global/l.xml",)) == ("https://global/l.xml",)


# --- document level -----------------------------------------------------------------------------


def test_max_age_and_no_namespace():
    d = parse_rsl('<rsl max-age="7"><content url="/"/></rsl>')
    assert d.ok and d.max_age_days == 7 and any("no namespace" in p for p in d.problems)
    d = parse_rsl('<rsl max-age="soon"><content url="/"/></rsl>')
    assert d.max_age_days == 30 and d.problems


def test_embedded_rsl_wrapper():
    rss = (
        '<rss xmlns:rsl="https://rslstandard.org/rsl"><channel><item><rsl:rsl>'
        '<rsl:content url="/ep1"><rsl:license/></rsl:content></rsl:rsl></item></channel></rss>'
    )
    d = parse_rsl(rss)
    assert d.ok and d.contents[0].url == "/ep1"


@pytest.mark.parametrize(
    "data",
    [
        '<?xml version="1.0"?><!DOCTYPE rsl [<!ENTITY a "aaaa">]><rsl>&a;</rsl>',
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><rsl>&lol2;</rsl>',
        "<rsl><content url='/'>",
        "not xml",
        b"\xff\xfe<",
        "",
        "<html><body/></html>",
    ],
)
def test_refused_and_broken(data):
    d = parse_rsl(data)
    assert not d.ok and d.problems


def test_content_without_url_ignored():
    d = parse_rsl(doc('<content><license/></content><content url="/x"/>'))
    assert [c.url for c in d.contents] == ["/x"] and d.problems
