"""URL canonicalisation: one origin key and one RFC 9309 path form for every layer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tdmscan.urls import MAX_URL_LENGTH, InvalidURL, normalise_path, parse_url


@pytest.mark.parametrize(
    ("url", "canonical", "origin"),
    [
        ("https://Example.COM:443/a?b=1#frag", "https://example.com/a?b=1", "https://example.com"),
        ("HTTP://News.Example:80/x#top", "http://news.example/x", "http://news.example"),
        ("http://a.test:8080", "http://a.test:8080/", "http://a.test:8080"),
        ("http://bücher.de/ツ", "http://xn--bcher-kva.de/%E3%83%84", "http://xn--bcher-kva.de"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x", "http://[::1]:8080"),
        ("  https://example.com/p  ", "https://example.com/p", "https://example.com"),
        ("https://example.com.", "https://example.com/", "https://example.com"),
    ],
)
def test_canonical_form_and_origin(url, canonical, origin):
    p = parse_url(url)
    assert (p.url, p.origin) == (canonical, origin)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://x/", "not-http"),
        ("mailto:a@b.c", "not-http"),
        ("not a url", "not-http"),
        ("", "empty"),
        ("http:///path", "no-host"),
        ("https://a b.com/", "bad-host"),
        # docs/audit.md documents url:bad-port for a port out of range or not a number.
        ("http://x.com:99999/", "bad-port"),
        ("http://x.com:65536/", "bad-port"),
        ("http://x.com:0/", "bad-port"),
        ("http://x.com:port/", "bad-port"),
        ("ftp://x.com:99999/", "not-http"),
        ("http://[::1/", "unparsable"),
        ("http://exa\x00mple.com/", "control-characters"),
        ("http://example.com/" + "a" * MAX_URL_LENGTH, "too-long"),
    ],
)
def test_invalid_inputs_have_reasons(url, reason):
    with pytest.raises(InvalidURL) as exc:
        parse_url(url)
    assert exc.value.reason == reason


def test_rfc9309_percent_normalisation():
    # RFC 9309 2.2.2: unreserved escapes decoded, others upper-cased, non-ASCII encoded.
    assert normalise_path("/foo/bar/%62%61%7A") == "/foo/bar/baz"
    assert normalise_path("/a%2fb") == "/a%2Fb"
    assert normalise_path("/ツ") == "/%E3%83%84"
    assert normalise_path("/a b") == "/a%20b"
    assert normalise_path("/x*y$") == "/x*y$"  # pattern specials survive
    assert normalise_path("") == "/"


@given(st.text(max_size=60))
def test_normalise_path_is_idempotent_and_ascii(s):
    once = normalise_path(s)
    assert once.isascii()
    assert normalise_path(once) == once


@given(st.text(max_size=200))
def test_parse_url_raises_only_invalid_url(s):
    try:
        p = parse_url(s)
    except InvalidURL:
        return
    assert p.url.startswith(("http://", "https://")) and p.path_query.startswith("/")


# --------------------------------------------------------------------------- UTS #46 / IDNA2008


@pytest.mark.parametrize(
    ("url", "host"),
    [
        # Deviation characters are kept (non-transitional), as browsers do: faß.de and
        # fass.de are different domains with different owners.
        ("https://faß.de/x", "xn--fa-hia.de"),
        ("https://ς.gr/", "xn--3xa.gr"),
        ("https://Bücher.example/", "xn--bcher-kva.example"),
        # UTS #46 mapping: ideographic full stops and enclosed letters.
        ("https://a。b。com/", "a.b.com"),
        ("https://ⓕⓞⓞ.com/", "foo.com"),
        ("https://xn--fa-hia.de/", "xn--fa-hia.de"),
    ],
)
def test_hosts_follow_uts46_nontransitional(url, host):
    assert parse_url(url).host == host


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://a\u200db.com/", "idna-context"),  # ZWJ outside its allowed context
        ("https://\u0663\u0661a.eg/", "idna-bidi"),
        ("https://xn--zz.com/", "idna-invalid"),  # not valid punycode
    ],
)
def test_invalid_idna_labels_have_reasons(url, reason):
    with pytest.raises(InvalidURL) as exc:
        parse_url(url)
    assert exc.value.reason == reason


def test_invalid_idna_host_decides_invalid_with_the_reason():
    from tdmscan.policy import evaluate

    d = evaluate("https://a\u200db.com/x", robots_txt=b"User-agent: *\nAllow: /\n")
    assert d.verdict == "invalid" and d.reasons == ("url:idna-context",)


# ------------------------------------------------------------- query, bytes, credentials


def test_empty_query_is_kept():
    # RFC 3986 section 6.2.3: "/page?" is not "/page".
    assert parse_url("http://x.com/page?").path_query == "/page?"
    assert parse_url("http://x.com/page?#frag").url == "http://x.com/page?"
    assert parse_url("http://x.com/page#a?b").path_query == "/page"


def test_empty_query_against_rules():
    from tdmscan.policy import evaluate

    robots = b"User-agent: *\nDisallow: /*?\nDisallow: /fr/admin$\n"
    assert evaluate("http://x.com/page?", robots_txt=robots).verdict == "reserved"
    assert evaluate("http://x.com/page", robots_txt=robots).verdict == "allowed"
    assert evaluate("http://x.com/fr/admin", robots_txt=robots).verdict == "reserved"
    # "/fr/admin?" is caught by "/*?" only, not by the anchored rule.
    d = evaluate("http://x.com/fr/admin?", robots_txt=robots)
    assert d.robots.matched_rule == "Disallow: /*?"


def test_undecodable_bytes_are_one_escape_on_both_sides():
    from tdmscan.policy import evaluate

    # b"/caf\xe9" read with surrogateescape: the URL side must give "%E9", as the rule side
    # does for the same raw byte in robots.txt.
    assert parse_url("http://x.com/caf\udce9").path_query == "/caf%E9"
    robots = b"User-agent: *\nDisallow: /caf\xe9\n"
    assert evaluate("http://x.com/caf\udce9", robots_txt=robots).verdict == "reserved"
    assert evaluate("http://x.com/caf%E9", robots_txt=robots).verdict == "reserved"
    assert evaluate("http://x.com/caf%C3%A9", robots_txt=robots).verdict == "allowed"


def test_credentials_never_reach_a_decision():
    from tdmscan.policy import evaluate
    from tdmscan.types import Fetched
    from tdmscan.urls import strip_credentials

    assert strip_credentials("https://u:p@x.com/a@b") == "https://x.com/a@b"
    assert strip_credentials("https://x.com/a@b") == "https://x.com/a@b"
    page = Fetched(
        url="https://user:secret@x.com/a",
        status=200,
        headers={"x-robots-tag": "noai"},
        body=b"",
        final_url="https://user:secret@x.com/a",
    )
    d = evaluate("https://user:secret@x.com/a", response=page)
    assert d.verdict == "reserved"
    text = repr(d)
    assert "secret" not in text and "user:" not in text
    bad = evaluate("https://user:secret@exa mple.com/a")
    assert bad.verdict == "invalid" and "secret" not in repr(bad)


def test_origins_and_registrable_domains_follow_idna2008():
    from tdmscan.domains import registrable_domain

    p = parse_url("https://www.faß.de/x")
    assert p.origin == "https://www.xn--fa-hia.de"
    assert registrable_domain(p.host) == "xn--fa-hia.de"  # not fass.de, another owner
    q = parse_url("https://a.b.食狮.公司.cn/")
    assert registrable_domain(q.host) == "xn--85x722f.xn--55qx5d.cn"  # 公司.cn is a suffix
