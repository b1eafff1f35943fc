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
        ("http://x.com:99999/", "unparsable"),
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
