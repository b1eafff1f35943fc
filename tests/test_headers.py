"""Response headers: X-Robots-Tag / Robots-Tag, Link rel=license, Content-Usage."""

from __future__ import annotations

from tdmscan.signals.headers import (
    combine_directives,
    content_usage_header,
    link_licences,
    parse_robots_tag,
)
from tdmscan.signals.html import parse_html_head
from tdmscan.types import Fetched


def test_plain_noai_applies_to_everyone():
    rd = parse_robots_tag([("X-Robots-Tag", "noai, noimageai")])
    assert rd.all == {"noai", "noimageai"}
    assert rd.for_agent("GPTBot") == {"noai", "noimageai"}
    assert rd.sources == (("header X-Robots-Tag", "noai, noimageai"),)


def test_names_case_insensitive_and_several_lines():
    rd = parse_robots_tag([("x-robots-tag", "NOAI"), ("X-ROBOTS-TAG", "noarchive")])
    assert rd.all == {"noai", "noarchive"}


def test_prefix_scopes_following_directives_not_whole_line():
    # Google/MDN: "otherbot: noindex, nofollow" -> both for otherbot, nothing global.
    rd = parse_robots_tag([("X-Robots-Tag", "otherbot: noindex, nofollow")])
    assert rd.all == frozenset()
    assert rd.by_agent["otherbot"] == {"noindex", "nofollow"}
    assert rd.for_agent("MyBot") == frozenset()


def test_edge_7_5_2_scoping_per_agent():
    headers = [
        ("X-Robots-Tag", "googlebot: noindex, noai"),
        ("X-Robots-Tag", "noai"),
        ("X-Robots-Tag", "ourbot: all"),
    ]
    rd = parse_robots_tag(headers)
    assert rd.for_agent("ourbot") == {"noai", "all"}
    assert rd.for_agent("GPTBot") == {"noai"}
    assert rd.for_agent("Googlebot") == {"noai", "noindex"}
    # unknown bot names never apply to us
    only_google = parse_robots_tag([("X-Robots-Tag", "googlebot: noindex, noai")])
    assert only_google.for_agent("ourbot") == frozenset()


def test_prefix_switches_within_one_value():
    rd = parse_robots_tag([("X-Robots-Tag", "noarchive, bota: noai, botb: noindex")])
    assert rd.all == {"noarchive"}
    assert rd.by_agent["bota"] == {"noai"} and rd.by_agent["botb"] == {"noindex"}


def test_agent_matching_is_whole_token_and_product_token():
    rd = parse_robots_tag([("X-Robots-Tag", "GPTBot: noai")])
    assert rd.for_agent("gptbot/1.2") == {"noai"}
    assert rd.for_agent("GPTBotX") == frozenset()
    assert rd.for_agent("GPT") == frozenset()


def test_colon_directives_are_not_prefixes():
    rd = parse_robots_tag(
        [("X-Robots-Tag", "max-snippet: 20, unavailable_after: 2026-01-01, noai")]
    )
    assert rd.all == {"max-snippet:20", "unavailable_after:2026-01-01", "noai"}


def test_robots_tag_repext_form():
    rd = parse_robots_tag([("Robots-Tag", "*=noindex, nosnippet; ExampleBot=;")])
    assert rd.all == {"noindex", "nosnippet"}
    assert rd.for_agent("ExampleBot") == {"noindex", "nosnippet"}
    rd = parse_robots_tag([("robots-tag", "*=noindex; GPTBot=noai, nofollow")])
    assert rd.for_agent("GPTBot") == {"noindex", "noai", "nofollow"}
    assert rd.for_agent("other") == {"noindex"}


def test_robots_tag_in_x_robots_syntax():
    rd = parse_robots_tag([("Robots-Tag", "noai")])
    assert rd.all == {"noai"}


def test_fetched_and_mapping_inputs():
    f = Fetched(status=200, headers=[("X-Robots-Tag", "noai")])
    assert parse_robots_tag(f).all == {"noai"}
    assert parse_robots_tag({"x-robots-tag": "noimageai"}).all == {"noimageai"}
    assert parse_robots_tag(None).all == frozenset()
    assert not parse_robots_tag([])


def test_edge_7_5_3_header_plus_conflicting_meta_combine():
    header = parse_robots_tag([("X-Robots-Tag", "all")])
    meta = parse_html_head(b'<head><meta name="robots" content="noai"></head>').robots
    both = combine_directives(header, meta)
    assert both.for_agent("MyBot") == {"all", "noai"}
    assert len(both.sources) == 2


# --- Link ------------------------------------------------------------------------------------


def test_link_licence_basic():
    ls = link_licences([("Link", '<https://creativecommons.org/licenses/by/4.0/>; rel="license"')])
    assert len(ls) == 1
    assert ls[0].url == "https://creativecommons.org/licenses/by/4.0/"
    assert ls[0].type is None and not ls[0].rsl and ls[0].source == "header Link"


def test_link_rsl_and_token_list_and_several_links():
    v = (
        "<https://ex.com/style.css>; rel=stylesheet, "
        '<https://ex.com/license.xml>; rel="License alternate"; type="application/rsl+xml", '
        "<https://ex.com/a,b>; rel=license"
    )
    ls = link_licences([("link", v), ("LINK", "<https://x/l>; REL=license")])
    assert [x.url for x in ls] == [
        "https://ex.com/license.xml",
        "https://ex.com/a,b",
        "https://x/l",
    ]
    assert ls[0].rsl and ls[0].type == "application/rsl+xml"
    assert not ls[1].rsl


def test_link_junk():
    assert link_licences([("Link", 'garbage, <unterminated; rel="license"')]) == ()
    assert link_licences([("Link", 'rel="license"')]) == ()
    assert link_licences([("Link", '<https://x>; rel="licensed"')]) == ()


def test_content_usage_header():
    p = content_usage_header([("Content-Usage", "train-ai=n, search=y")])
    assert p.get("train-ai") == "n" and p.get("search") == "y"


def test_edge_7_5_1_page_noimageai_inherited_by_images():
    from tdmscan.signals.headers import inherited_media_directives

    page_meta = parse_html_head(b'<head><meta name="robots" content="noimageai, noindex"></head>')
    inherited = inherited_media_directives(page_meta.robots, "MyBot")
    assert inherited == {"noimageai"}
    image_own = parse_robots_tag([("X-Robots-Tag", "noai")])
    # both recorded side by side: the image's own header and the inherited page directive
    assert image_own.for_agent("MyBot") | inherited == {"noai", "noimageai"}
