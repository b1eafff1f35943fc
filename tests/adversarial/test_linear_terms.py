"""The terms-of-use detector over attacker bytes is linear in its input (grown 4x, at most
~12x as long): sentences without boundaries, dense cue words, lists with lead-ins, deep
nesting, and many terms-like links on a home page."""

from __future__ import annotations

from growth_util import assert_near_linear

from tdmscan.fetch.terms import terms_candidates
from tdmscan.signals.tos import parse_terms
from tdmscan.types import Fetched


def test_one_endless_sentence_of_cues_is_linear() -> None:
    unit = b"text and data mining prohibited may not robots scraping without consent AI "
    assert_near_linear(lambda n: parse_terms(unit * n, content_type="text/plain"), 1_000)


def test_many_short_clauses_are_linear() -> None:
    unit = b"<li>Text and data mining is prohibited.</li>"
    assert_near_linear(lambda n: parse_terms(b"<p>You agree not to:</p><ul>" + unit * n), 1_000)


def test_no_boundaries_no_cues_is_linear() -> None:
    assert_near_linear(lambda n: parse_terms(b"x" * n), 100_000)


def test_deep_nesting_is_cut_and_linear() -> None:
    def run(n: int) -> None:
        assert parse_terms(b"<div>" * n + b"<p>TDM is prohibited.</p>").ok

    assert_near_linear(run, 5_000)


def test_home_page_with_many_links_is_linear() -> None:
    def run(n: int) -> None:
        body = b"".join(b'<a href="/terms-%d">Terms %d</a>' % (i, i) for i in range(n))
        terms_candidates(Fetched(status=200, url="http://x.test/", body=body), "http://x.test")

    assert_near_linear(run, 1_000)
