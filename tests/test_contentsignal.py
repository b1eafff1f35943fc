"""Cloudflare Content Signals (the published examples and value parsing)."""

from __future__ import annotations

from tdmscan.signals.contentsignal import parse_content_signal
from tdmscan.signals.headers import content_signal_header


def test_policy_example():
    cs = parse_content_signal("search=yes, ai-input=no, ai-train=no")
    assert dict(cs.values) == {"search": "yes", "ai-input": "no", "ai-train": "no"}
    assert not cs.lenient and cs.problems == ()
    assert cs.get("ai-train") == "no" and cs.get("missing") is None


def test_compact_form_with_use_key():
    # §4.3-1: no spaces, extra key "use" must parse
    cs = parse_content_signal("search=yes,ai-train=no,use=reference")
    assert cs.get("search") == "yes" and cs.get("ai-train") == "no"
    assert dict(cs.extras) == {"use": "reference"}
    assert not cs.lenient


def test_value_case_variant_is_lenient():
    cs = parse_content_signal("ai-train=No")
    assert cs.get("ai-train") == "no"
    assert cs.lenient and cs.problems


def test_underscore_key_variant_is_lenient():
    cs = parse_content_signal("ai_train=no")
    assert cs.get("ai-train") == "no"
    assert cs.lenient and any("ai_train" in p for p in cs.problems)


def test_uppercase_key_is_lenient():
    cs = parse_content_signal("AI-Train=yes")
    assert cs.get("ai-train") == "yes" and cs.lenient


def test_missing_key_neither_grants_nor_restricts():
    cs = parse_content_signal("search=yes")
    assert cs.get("ai-train") is None and cs.get("ai-input") is None


def test_bad_values_ignored():
    cs = parse_content_signal("ai-train=maybe, search, =yes, ai-input=y")
    assert cs.get("ai-train") is None and cs.get("ai-input") is None
    assert len(cs.problems) >= 3


def test_conflicting_duplicates_keep_no():
    cs = parse_content_signal("ai-train=yes, ai-train=no")
    assert cs.get("ai-train") == "no"
    cs = parse_content_signal("ai-train=no, ai-train=yes")
    assert cs.get("ai-train") == "no"


def test_semicolon_separator_and_comment():
    cs = parse_content_signal("search=yes; ai-train=no # managed")
    assert cs.get("ai-train") == "no" and cs.get("search") == "yes" and cs.lenient


def test_whitespace_and_quotes_tolerated():
    cs = parse_content_signal('  ai-train = "no" ,  search = yes ')
    assert cs.get("ai-train") == "no" and cs.get("search") == "yes"


def test_empty():
    cs = parse_content_signal("")
    assert dict(cs.values) == {} and cs.problems == ()


def test_non_string():
    assert parse_content_signal(None).problems  # type: ignore[arg-type]


def test_header_form_non_standard():
    assert content_signal_header([]) is None
    cs = content_signal_header([("content-signal", "ai-train=yes, search=yes, ai-input=yes")])
    assert cs is not None and cs.get("ai-train") == "yes"
