"""IETF aipref: the RFC 9651 dictionary parser and usage statements."""

from __future__ import annotations

import pytest

from tdmscan.signals.aipref import (
    LEGACY_TRAINING_LABELS,
    DisplayString,
    InnerList,
    Item,
    Token,
    combine,
    parse_content_usage,
    parse_sf_dictionary,
    parse_usage_statement,
)
from tdmscan.signals.headers import content_usage_header

# --- RFC 9651 dictionary parser -----------------------------------------------------------


def test_sf_basic_members_and_types():
    d = parse_sf_dictionary('a=1, b=-2.5, c="x\\"y", d=tok/en:1, e=?0, f, g=:aGVsbG8=:, h=@12')
    assert d is not None
    assert d["a"] == Item(1, {})
    assert d["b"].value == -2.5
    assert d["c"].value == 'x"y' and not isinstance(d["c"].value, Token)
    assert isinstance(d["d"].value, Token) and d["d"].value == "tok/en:1"
    assert d["e"].value is False
    assert d["f"].value is True
    assert d["g"].value == b"hello"
    assert d["h"].value == 12


def test_sf_parameters_and_inner_lists():
    d = parse_sf_dictionary('a=(1 2 "x");p=1, b;q="z";r, c=x;s=?1')
    assert isinstance(d["a"], InnerList)
    assert [i.value for i in d["a"].items] == [1, 2, "x"]
    assert d["a"].params == {"p": 1}
    assert d["b"].value is True and d["b"].params == {"q": "z", "r": True}
    assert d["c"].params == {"s": True}


def test_sf_display_string():
    d = parse_sf_dictionary('a=%"caf%c3%a9"')
    assert isinstance(d["a"].value, DisplayString) and d["a"].value == "café"
    assert parse_sf_dictionary('a=%"%C3%A9"') is None  # upper-case hex is invalid


def test_sf_duplicate_keys_last_wins():
    d = parse_sf_dictionary("a=1, b=2, a=3")
    assert d["a"].value == 3
    assert list(d) == ["b", "a"]


@pytest.mark.parametrize(
    "text",
    [
        "Train-AI=n",  # upper-case key
        "a=1,",  # trailing comma
        "a=1 b=2",  # missing comma
        "a=",  # missing value
        "a=1234567890123456",  # integer too long
        "a=1.2345",  # too many fractional digits
        "a=1.",  # decimal without fraction
        'a="unterminated',
        'a="bad\\x"',
        "a=?2",
        "a=(1 2",
        "a=:not base64!:",
        "1a=1",
        "a=é",
        "a=1;",
        ",a=1",
    ],
)
def test_sf_failures(text):
    assert parse_sf_dictionary(text) is None


def test_sf_empty_and_whitespace():
    assert parse_sf_dictionary("") == {}
    assert parse_sf_dictionary("   a=1   ") is not None
    assert parse_sf_dictionary("a=1,\tb=2") is not None  # OWS after comma


def test_sf_not_a_string():
    assert parse_sf_dictionary(None) is None  # type: ignore[arg-type]


# --- usage statements (§3.2 examples) --------------------------------------------------------


def test_example_train_ai_n_search_y():
    p = parse_usage_statement("train-ai=n, search=y")
    assert p.ok and p.get("train-ai") == "n" and p.get("search") == "y"
    assert p.unknown_labels == ()


def test_example_parameter_ignored():
    p = parse_usage_statement('train-ai=n;src="cms"')
    assert p.get("train-ai") == "n"


def test_example_bare_label_is_boolean_unknown():
    p = parse_usage_statement("train-ai")
    assert p.ok and p.get("train-ai") is None
    assert any("Boolean" in x for x in p.problems)


@pytest.mark.parametrize("value", ['"n"', "?0", "0", "no", "Y", "N", "(n)", "yes"])
def test_non_token_y_n_values_are_unknown(value):
    p = parse_usage_statement(f"train-ai={value}")
    assert p.ok and p.get("train-ai") is None


def test_unknown_labels_recorded_and_ignored():
    p = parse_usage_statement("train-ai=y, foo.bar*=n, bots=n")
    assert p.unknown_labels == ("foo.bar*", "bots")
    assert p.get("train-ai") == "y"
    assert p.legacy_training_optouts() == ("bots",)


def test_legacy_labels():
    assert {"bots", "all", "tdm", "ai", "genai", "train-genai"} == LEGACY_TRAINING_LABELS


# --- §3.5 edge case 1: header field lines ----------------------------------------------------


def test_two_field_lines_combine_last_wins():
    p = parse_content_usage(["train-ai=y", "train-ai=n"])
    assert p.get("train-ai") == "n"


def test_header_lines_combined_via_headers():
    p = content_usage_header([("Content-Usage", "train-ai=y"), ("content-usage", "train-ai=n")])
    assert p.get("train-ai") == "n"


def test_string_n_is_unknown():
    assert parse_content_usage('train-ai="n"').get("train-ai") is None


def test_uppercase_key_is_parse_failure_all_unknown():
    p = parse_content_usage("Train-AI=n")
    assert not p.ok
    assert p.get("train-ai") is None and p.get("Train-AI") is None


def test_failure_in_one_line_poisons_the_combined_field():
    p = parse_content_usage(["train-ai=n", "Search=y"])
    assert not p.ok and p.get("train-ai") is None


def test_absent_field():
    p = content_usage_header([("Content-Type", "text/html")])
    assert p.ok and not p.present and p.get("train-ai") is None


def test_empty_lines_ignored():
    p = parse_content_usage(["", "train-ai=n"])
    assert p.get("train-ai") == "n"


# --- §3.5 edge case 3 / combination ------------------------------------------------------------


def test_combine_most_restrictive():
    y = parse_usage_statement("train-ai=y")
    n = parse_usage_statement("train-ai=n")
    unknown = parse_usage_statement("search=y")
    broken = parse_usage_statement("Train-AI=n")
    assert combine([y, n], "train-ai") == "n"  # header y + robots.txt n -> disallowed
    assert combine([n, y], "train-ai") == "n"
    assert combine([y, unknown], "train-ai") == "y"
    assert combine([unknown, broken, None], "train-ai") is None
    assert combine([], "train-ai") is None


def test_labels_are_independent_no_hierarchy():
    p = parse_usage_statement("search=n")
    assert p.get("train-ai") is None
