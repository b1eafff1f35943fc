"""Property tests: no parser raises on hostile input, and a few invariants hold."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tdmscan.signals.aipref import combine, parse_content_usage, parse_sf_dictionary
from tdmscan.signals.catalogue import load_catalogue
from tdmscan.signals.contentsignal import parse_content_signal
from tdmscan.signals.headers import (
    content_signal_header,
    content_usage_header,
    link_licences,
    parse_robots_tag,
)
from tdmscan.signals.html import parse_html_head
from tdmscan.signals.licences import licence_from_url, licences_in_text
from tdmscan.signals.rsl import parse_rsl
from tdmscan.signals.tdmrep import (
    layer,
    parse_tdmrep_json,
    tdm_from_headers,
    tdm_from_xmp,
    tdm_value,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = st.sampled_from(
    [
        "X-Robots-Tag",
        "x-robots-tag",
        "Robots-Tag",
        "Link",
        "Content-Usage",
        "tdm-reservation",
        "TDM-Policy",
        "Content-Signal",
        "Content-Type",
    ]
)
SF_ALPHABET = st.sampled_from([*'abcnyz-_.*=,;:"?@%()\\ \t019/+ABC', "é", "\x00"])
sf_text = st.text(SF_ALPHABET, max_size=60)
header_value = st.one_of(st.text(max_size=80), sf_text)
header_lists = st.lists(st.tuples(st.one_of(NAMES, st.text(max_size=12)), header_value), max_size=8)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["location", "tdm-reservation", "tdm-policy", "license", "@type", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@SETTINGS
@given(st.one_of(st.text(max_size=200), sf_text))
def test_sf_dictionary_never_raises(text):
    d = parse_sf_dictionary(text)
    assert d is None or isinstance(d, dict)


@SETTINGS
@given(st.lists(sf_text, max_size=4))
def test_content_usage_never_raises_and_values_are_y_n(lines):
    p = parse_content_usage(lines)
    assert set(p.prefs.values()) <= {"y", "n"}
    assert combine([p], "train-ai") in (None, "y", "n")


@SETTINGS
@given(st.text(max_size=200))
def test_content_signal_never_raises(text):
    cs = parse_content_signal(text)
    assert set(cs.values.values()) <= {"yes", "no"}


@SETTINGS
@given(header_lists)
def test_header_parsers_never_raise(headers):
    parse_robots_tag(headers)
    link_licences(headers)
    content_usage_header(headers)
    content_signal_header(headers)
    v = tdm_from_headers(headers)
    assert v.reservation in (None, 0, 1)


@SETTINGS
@given(st.binary(max_size=400))
def test_tdmrep_bytes_never_raise(data):
    f = parse_tdmrep_json(data)
    f.match("/x")


@SETTINGS
@given(json_values, st.text(max_size=30))
def test_tdmrep_json_shapes_never_raise(doc, path):
    f = parse_tdmrep_json(json.dumps(doc))
    m = f.match(path)
    m2 = f.match(path, strict=True)
    r = layer(m.value, None, None)
    assert r.reservation in (None, 0, 1)
    assert m2.value is None or m2.value.reservation in (None, 0, 1)
    if m.rule is not None:
        # first match in array order: no earlier rule matches the same path
        earlier = [r_ for r_ in f.rules if r_.index < m.rule.index]
        probe = parse_tdmrep_json(json.dumps([{"location": r_.location} for r_ in earlier]))
        assert probe.match(path).rule is None or len(probe.rules) != len(earlier)


@SETTINGS
@given(st.one_of(st.none(), st.text(max_size=20)), st.one_of(st.none(), st.text(max_size=20)))
def test_tdm_value_never_raises(a, b):
    v = tdm_value(a, b)
    assert v.reservation in (None, 0, 1)
    tdm_from_xmp(a)


@SETTINGS
@given(st.one_of(st.binary(max_size=600), st.text(max_size=600)))
def test_html_never_raises(body):
    h = parse_html_head(body)
    assert isinstance(h.ok, bool)


HTML_BITS = st.sampled_from(
    [
        "<head>",
        "</head>",
        "<body>",
        '<meta name="robots" content="noai">',
        '<meta name="GPTBot" content="noai, x">',
        '<meta name="tdm-reservation" content="1">',
        '<link rel="license" href="x">',
        '<script type="application/ld+json">',
        '<script type="application/rsl+xml">',
        "</script>",
        '{"license": [1, {"@id": null}], "image": {"license": "y"}}',
        "<div>",
        "<!--",
        "\x00",
        "é",
    ]
)


@SETTINGS
@given(st.lists(HTML_BITS, max_size=20))
def test_html_structured_junk_never_raises(parts):
    assert parse_html_head("".join(parts)).ok


@SETTINGS
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_rsl_never_raises(data):
    d = parse_rsl(data)
    d.evaluate("/a")


RSL_BITS = st.sampled_from(
    [
        '<rsl xmlns="https://rslstandard.org/rsl">',
        "</rsl>",
        '<content url="/">',
        '<content url="*">',
        "</content>",
        "<license>",
        "</license>",
        '<permits type="usage">ai-train</permits>',
        '<prohibits type="usage">all</prohibits>',
        '<payment type="x"/>',
        "<terms>t</terms>",
    ]
)


@SETTINGS
@given(st.lists(RSL_BITS, max_size=14), st.sampled_from(["train-ai", "search", "zzz"]))
def test_rsl_structured_junk_never_raises(parts, purpose):
    r = parse_rsl("".join(parts)).evaluate("/a/b", purpose)
    assert r.status in (
        "prohibited",
        "permitted-free",
        "permitted-attribution",
        "permitted-paid",
        "licence-required",
        "unspecified",
        "no-match",
    )


@SETTINGS
@given(st.text(max_size=120))
def test_licences_never_raise(text):
    licence_from_url(text)
    licence_from_url("https://creativecommons.org/" + text)
    licences_in_text(text)


@SETTINGS
@given(st.text(max_size=40))
def test_catalogue_lookup_never_raises(token):
    cat = load_catalogue()
    cat.get(token)
    cat.category(token)


def test_huge_inputs():
    big = "train-ai=n, " * 50_000 + "search=y"
    assert parse_content_usage(big).get("train-ai") == "n"
    parse_content_signal("ai-train=no," * 100_000)
    parse_robots_tag([("X-Robots-Tag", "a: noai, " * 50_000)])
    assert not parse_tdmrep_json(b"[" * 1_000_000).ok
    assert parse_html_head(b"<div>" * 200_000).truncated
    parse_rsl("<rsl>" + "<x>" * 100_000 + "</x>" * 100_000 + "</rsl>")
    parse_tdmrep_json(json.dumps([{"location": "/", "tdm-reservation": 1}] * 20_000))


WRONG = [None, 0, 1.5, b"\xff", object(), [1, 2], {"a": 1}, [("X-Robots-Tag", None)], "str"]


def test_wrong_types_never_raise():
    for w in WRONG:
        parse_sf_dictionary(w)  # type: ignore[arg-type]
        parse_content_usage(w)  # type: ignore[arg-type]
        parse_content_signal(w)  # type: ignore[arg-type]
        parse_robots_tag(w)
        link_licences(w)
        content_usage_header(w)
        content_signal_header(w)
        tdm_from_headers(w)
        tdm_value(w, w)  # type: ignore[arg-type]
        tdm_from_xmp(w)  # type: ignore[arg-type]
        parse_tdmrep_json(w)  # type: ignore[arg-type]
        parse_tdmrep_json(b"[]").match(w)  # type: ignore[arg-type]
        parse_html_head(w)  # type: ignore[arg-type]
        parse_rsl(w)  # type: ignore[arg-type]
        parse_rsl('<rsl><content url="/"/></rsl>').evaluate(w)  # type: ignore[arg-type]
        licence_from_url(w)  # type: ignore[arg-type]
        licences_in_text(w)  # type: ignore[arg-type]
        load_catalogue().get(w)  # type: ignore[arg-type]
