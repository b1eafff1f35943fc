"""Every parser over attacker bytes is linear in its input: each adversarial family from the
issue, grown 4x, may take at most ~12x as long (a quadratic one takes 16x; the exponential
wildcard matcher took minutes). Sizes are chosen so the old quadratic code took seconds."""

from __future__ import annotations

import random
import re

import pytest
from growth_util import assert_near_linear

from tdmscan.signals import embedded, html, robots, rsl, tdmrep
from tdmscan.signals.matching import path_pattern


def test_unclosed_tag_name_is_linear() -> None:
    # b"<a" + b"a" * 40_000 took 36 s with the backtracking tag regex.
    assert_near_linear(lambda n: html.parse_html_head(b"<html><head><a" + b"a" * n), 20_000)


def test_many_unclosed_tags_are_linear() -> None:
    assert_near_linear(lambda n: html.parse_html_head(b"<head>" + b"<a x=1 " * n), 5_000)


def test_deep_nesting_is_cut_and_linear() -> None:
    def run(n: int) -> None:
        head = html.parse_html_head(b"<html><body>" + b"<div>" * n)
        assert head.truncated

    assert_near_linear(run, 5_000)


def test_tag_regex_reads_tags_as_before() -> None:
    """The possessive tag regex splits every tag exactly as the backtracking one did."""
    old = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")
    rnd = random.Random(7)
    parts = ["<", ">", "/", "a", "div", " ", "x=1", "-", "<br/>", "</p>", "<img src=x />"]
    for _ in range(3000):
        text = "".join(rnd.choice(parts) for _ in range(rnd.randint(0, 12)))
        a = [(m.start(), m.group(1), m.group(2), m.group(3)) for m in old.finditer(text)]
        b = [
            (m.start(), m.group(1), m.group(2), "/" if m.group(3).endswith("/") else "")
            for m in html._TAG_RE.finditer(text)
        ]
        assert a == b, text


def _xmp(n: int) -> bytes:
    return b'<?xpacket begin=""?><a><![CDATA[' + b"<rdf:RDF " * n + b']]></a><?xpacket end="w"?>'


def test_xmp_packet_search_is_linear() -> None:
    # 16,000 repeats took 8 s with the lazy-scan regex.
    assert_near_linear(lambda n: embedded.parse_xmp(_xmp(n)), 4_000)
    assert_near_linear(lambda n: tdmrep.tdm_from_xmp(_xmp(n)), 4_000)


def test_xmp_packet_search_finds_what_the_regex_found() -> None:
    old = re.compile(rb"<x:xmpmeta\b.*?</x:xmpmeta>|<rdf:RDF\b.*?</rdf:RDF>", re.S)
    rnd = random.Random(3)
    frags = [b"<x:xmpmeta", b"</x:xmpmeta>", b"<rdf:RDF", b"</rdf:RDF>", b" ", b"a", b">"]
    frags += [b"<x:xmpmetaX", b"<rdf:RDF_", b"\n"]
    for _ in range(5000):
        s = b"".join(rnd.choice(frags) for _ in range(rnd.randint(0, 9)))
        m = old.search(s)
        assert tdmrep._first_xmp_packet(s) == (m.group(0) if m else None), s


# --- one matcher for every path pattern: growing wildcards, repeated prefixes ----------------


@pytest.mark.parametrize("k", [9, 12, 20])
def test_wildcard_pattern_is_fast_at_any_count(k: int) -> None:
    """Nine "*a" wildcards against a 40-character path took 4.6 s, ten 21 s."""
    pat = path_pattern("/" + "*a" * k + "b")
    path = "/" + "a" * 40
    assert_near_linear(lambda n: pat.matches("/" + "a" * n), 2_000)
    assert not pat.matches(path)


def test_matcher_growth_in_pattern_and_path_length() -> None:
    assert_near_linear(lambda n: path_pattern("/" + "*a" * n + "b").matches("/" + "a" * n), 200)
    assert_near_linear(lambda n: path_pattern("/" + "a*" * n + "$").matches("/" + "a" * 5000), 200)


def test_tdmrep_location_with_many_wildcards_is_linear() -> None:
    def run(n: int) -> None:
        loc = "/" + "*a" * n + "b"
        f = tdmrep.parse_tdmrep_json(f'[{{"location": "{loc}", "tdm-reservation": 1}}]')
        f.match("/" + "a" * (4 * n))

    assert_near_linear(run, 100)


def test_robots_with_many_wildcard_rules_is_linear() -> None:
    def run(n: int) -> None:
        lines = ["User-agent: *"] + [f"Disallow: /{'*a' * 12}{i}b" for i in range(n)]
        r = robots.parse_robots("\n".join(lines).encode())
        r.match("x", "/" + "a" * 60)

    assert_near_linear(run, 200)


def test_rsl_content_url_with_many_wildcards_is_linear() -> None:
    def run(n: int) -> None:
        doc = (
            '<rsl xmlns="https://rslstandard.org/rsl"><content url="/'
            + "*a" * n
            + 'b"><license><prohibits type="usage">ai-train</prohibits></license>'
            "</content></rsl>"
        )
        doc_ = rsl.parse_rsl(doc)
        assert doc_.ok and doc_.evaluate("/" + "a" * (4 * n)).status == "no-match"

    assert_near_linear(run, 100)


def test_repeated_prefix_robots_is_linear() -> None:
    assert_near_linear(
        lambda n: robots.parse_robots(b"User-agent: *\n" + b"Disallow: /a/a/a\n" * n).match(
            "x", "/a/a/a/b"
        ),
        5_000,
    )
