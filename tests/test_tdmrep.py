"""W3C TDMRep: tdmrep.json, headers, meta and precedence."""

from __future__ import annotations

import json

import pytest

from tdmscan.signals.html import parse_html_head
from tdmscan.signals.tdmrep import (
    layer,
    parse_tdmrep_json,
    tdm_from_headers,
    tdm_value,
)

EXAMPLE = json.dumps(
    [
        {
            "location": "/papers/",
            "tdm-reservation": 1,
            "tdm-policy": "https://pub.example/tdm/policy.json",
        },
        {"location": "/press/*.jpg$", "tdm-reservation": 0},
        {"location": "/", "tdm-reservation": 1},
    ]
).encode()


def test_example_file():
    f = parse_tdmrep_json(EXAMPLE)
    assert f.ok and not f.lenient and len(f.rules) == 3 and len(f.sha256) == 64
    m = f.match("/papers/a.pdf")
    assert m.rule.index == 0 and m.rule.reservation == 1
    assert m.rule.policy == "https://pub.example/tdm/policy.json"
    assert f.match("/press/x/photo.jpg").rule.reservation == 0
    assert f.match("/press/photo.jpg?w=1").rule.index == 2  # "$" anchors the end
    assert f.match("/about").rule.index == 2


def test_no_match_is_unset():
    f = parse_tdmrep_json(b'[{"location": "/papers/", "tdm-reservation": 1}]')
    m = f.match("/other")
    assert m.rule is None and m.value is None
    assert layer(m.value, None, None).reservation is None


def test_matching_is_case_sensitive_and_normalised():
    f = parse_tdmrep_json(b'[{"location": "/Papers/%7Euser", "tdm-reservation": 1}]')
    assert f.match("/papers/~user").rule is None
    assert f.match("/Papers/~user/x").rule is not None


# --- §2.10-1: array order beats length ------------------------------------------------------


def test_first_match_not_longest():
    f = parse_tdmrep_json(
        b'[{"location":"/","tdm-reservation":1},{"location":"/open/","tdm-reservation":0}]'
    )
    m = f.match("/open/x")
    assert m.rule.reservation == 1 and m.rule.index == 0
    assert m.shadowed and m.longest.index == 1


def test_not_shadowed_when_same_value():
    f = parse_tdmrep_json(
        b'[{"location":"/","tdm-reservation":1},{"location":"/open/","tdm-reservation":1}]'
    )
    assert not f.match("/open/x").shadowed


# --- §2.10-2: type and format junk --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reservation", "lenient"),
    [
        ("1", 1, False),
        ("0", 0, False),
        ('"1"', 1, True),
        ('" 0 "', 0, True),
        ("true", 1, True),
        ("false", 0, True),
        ("1.0", 1, True),
        ("2", None, False),
        ('"yes"', None, False),
        ("null", None, False),
        ("[1]", None, False),
    ],
)
def test_reservation_value_types(value, reservation, lenient):
    f = parse_tdmrep_json(f'[{{"location": "/", "tdm-reservation": {value}}}]')
    assert f.ok
    rule = f.rules[0]
    assert rule.reservation == reservation
    assert rule.lenient is lenient
    if reservation is None or lenient:
        assert rule.problems
    # strict reading: a lenient value is unset
    strict = f.match("/x", strict=True).value
    assert strict.reservation == (None if lenient else reservation)


def test_missing_reservation_is_unset_but_rule_still_first():
    f = parse_tdmrep_json(b'[{"location":"/"},{"location":"/","tdm-reservation":1}]')
    m = f.match("/a")
    assert m.rule.index == 0 and m.rule.reservation is None
    assert any("missing" in p for p in f.problems)


def test_regex_style_location_lenient():
    f = parse_tdmrep_json(b'[{"location":"/images/.*","tdm-reservation":1}]')
    assert f.lenient and f.rules[0].pattern == "/images/*"
    assert f.match("/images/a.png").rule is not None
    # strict: "." is literal, so only "/images/." prefixed paths match
    assert f.match("/images/a.png", strict=True).rule is None
    assert f.match("/images/.hidden", strict=True).rule is not None


def test_location_without_slash_and_full_url():
    f = parse_tdmrep_json(
        b'[{"location":"papers/","tdm-reservation":1},'
        b'{"location":"https://pub.example/books/","tdm-reservation":0}]'
    )
    assert f.lenient
    assert f.match("/papers/x").rule.index == 0
    assert f.match("/books/x").rule.index == 1


def test_object_instead_of_array_one_rule_lenient():
    f = parse_tdmrep_json(b'{"location":"/","tdm-reservation":1}')
    assert f.ok and f.lenient and len(f.rules) == 1
    assert f.match("/x").rule.reservation == 1
    assert any("object" in p for p in f.problems)


def test_object_without_location_is_not_ok():
    f = parse_tdmrep_json(b'{"rules":[]}')
    assert not f.ok and f.rules == ()


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"<html>404</html>", b"1", b'"x"', b"null", b"[" * 100_000, b"\xff\xfe["],
)
def test_junk_files_never_raise(data):
    f = parse_tdmrep_json(data)
    assert not f.ok and f.problems


def test_bad_rules_skipped():
    f = parse_tdmrep_json(
        b'[1, "x", {"tdm-reservation":1}, {"location":5,"tdm-reservation":1},'
        b'{"location":"/ok","tdm-reservation":1,"tdm-policy":7}]'
    )
    assert f.ok and [r.index for r in f.rules] == [4]
    assert f.rules[0].policy is None
    assert len(f.problems) >= 5


def test_bom_and_none_and_str():
    assert parse_tdmrep_json(b"\xef\xbb\xbf[]").ok
    assert not parse_tdmrep_json(None).ok
    assert parse_tdmrep_json('[{"location":"/","tdm-reservation":0}]').rules[0].reservation == 0


# --- headers -----------------------------------------------------------------------------------


def test_header_basic_case_insensitive():
    v = tdm_from_headers([("TDM-Reservation", "1"), ("tdm-POLICY", "https://p.example/policy")])
    assert v.reservation == 1 and v.policy == "https://p.example/policy" and not v.lenient


def test_header_two_lines_conflict():
    # §2.10-2: "tdm-reservation: 1, 0" from two lines combined
    v = tdm_from_headers([("tdm-reservation", "1"), ("tdm-reservation", "0")])
    assert v.values == ("1", "0")
    assert v.reservation == 1 and v.lenient
    assert v.strict().reservation is None


def test_header_combined_value():
    v = tdm_value("1, 0", None)
    assert v.values == ("1", "0") and v.reservation == 1 and v.lenient


def test_header_repeated_same_value():
    v = tdm_from_headers([("tdm-reservation", "0"), ("tdm-reservation", "0")])
    assert v.reservation == 0 and not v.lenient


@pytest.mark.parametrize("raw", ["yes", "2", "", "true", " "])
def test_header_invalid_values_unset(raw):
    v = tdm_value(raw, None)
    assert v.reservation is None and v.problems


def test_header_absent():
    v = tdm_from_headers([("content-type", "text/html")])
    assert v.reservation is None and v.policy is None and v.values == ()


# --- §2.10-3 layering ----------------------------------------------------------------------------


def test_file_1_header_0_gives_0():
    f = parse_tdmrep_json(b'[{"location":"/","tdm-reservation":1}]')
    r = layer(f.match("/a").value, tdm_from_headers([("tdm-reservation", "0")]), None)
    assert r.reservation == 0 and r.source == "header"


def test_meta_policy_only_inherits_reservation_replaces_policy():
    header = tdm_from_headers([("tdm-reservation", "1"), ("tdm-policy", "https://a/p")])
    page = parse_html_head(b'<head><meta name="tdm-policy" content="https://b/p"></head>')
    r = layer(None, header, page.tdm)
    assert r.reservation == 1 and r.source == "header"
    assert r.policy == "https://b/p" and r.policy_source == "meta"


def test_absent_never_resets():
    f = parse_tdmrep_json(b'[{"location":"/","tdm-reservation":1,"tdm-policy":"https://f/p"}]')
    r = layer(f.match("/a").value, tdm_value(None, None), tdm_value("yes", None))
    assert r.reservation == 1 and r.source == "file"
    assert r.policy == "https://f/p" and r.policy_source == "file"


def test_meta_overrides_header_and_file():
    page = parse_html_head(b'<head><meta name="TDM-Reservation" content="0"></head>')
    r = layer(tdm_value("1", None), tdm_value("1", None), page.tdm)
    assert r.reservation == 0 and r.source == "meta"


def test_policy_ignored_with_reservation_0():
    r = layer(tdm_value("0", "https://p"), None, None)
    assert r.reservation == 0 and r.policy is None and r.ignored_policy == "https://p"


def test_nothing():
    r = layer(None, None, None)
    assert r.reservation is None and r.source is None and r.policy is None


def test_strict_layer_drops_lenient_values():
    r = layer(tdm_value("0", None), tdm_value("1, 0", None), None, strict=True)
    assert r.reservation == 0 and r.source == "file"
    r = layer(tdm_value("0", None), tdm_value("1, 0", None), None)
    assert r.reservation == 1 and r.lenient


# --- §2.10-3: PDF XMP with either namespace spelling -----------------------------------------

XMP = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:tdm="{ns}">{body}</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


@pytest.mark.parametrize("ns", ["http://www.w3.org/ns/tdmrep/", "http://www.w3.org/ns/tdmrep#"])
def test_xmp_both_namespaces(ns):
    from tdmscan.signals.tdmrep import tdm_from_xmp

    body = "<tdm:reservation>1</tdm:reservation><tdm:policy>https://p/x</tdm:policy>"
    pdf = b"%PDF-1.7\n" + XMP.format(ns=ns, body=body).encode() + b"\n%%EOF"
    v = tdm_from_xmp(pdf)
    assert v.reservation == 1 and v.policy == "https://p/x"
    assert bool(v.problems) is ns.endswith("#")
    # embedded values supersede the earlier levels
    r = layer(tdm_value("0", None), None, tdm_value("0", None), embedded=v)
    assert r.reservation == 1 and r.source == "embedded"


def test_xmp_attribute_form_and_junk():
    from tdmscan.signals.tdmrep import tdm_from_xmp

    x = XMP.format(ns="http://www.w3.org/ns/tdmrep/", body="").replace(
        'rdf:about=""', 'rdf:about="" tdm:reservation="0"'
    )
    assert tdm_from_xmp(x).reservation == 0
    assert tdm_from_xmp(b"%PDF no xmp").reservation is None
    assert tdm_from_xmp(b"<x:xmpmeta><broken</x:xmpmeta>").problems
    assert tdm_from_xmp(None).reservation is None
