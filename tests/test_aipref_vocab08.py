"""IETF aipref vocab-08 (train-ai, ai-use, search); labels of earlier drafts stay recognised,
with the draft they come from named in the evidence."""

from __future__ import annotations

import pytest

from tdmscan.policy import evaluate
from tdmscan.signals.aipref import KNOWN_LABELS, LABEL_DRAFTS, parse_content_usage
from tdmscan.signals.registry import load_registry

URL = "https://news.example/story"


def _robots(statement: str) -> bytes:
    return f"User-agent: *\nAllow: /\nContent-Usage: {statement}\n".encode()


def test_vocab08_labels_are_known():
    assert {"train-ai", "ai-use", "search"} == KNOWN_LABELS
    p = parse_content_usage("train-ai=y, ai-use=n, search=y")
    assert p.unknown_labels == () and p.get("ai-use") == "n"


def test_ai_use_n_reserves_ai_input_explicitly():
    d = evaluate(URL, robots_txt=_robots("ai-use=n"), purpose="ai-input")
    assert d.verdict == "reserved" and "aipref:ai-use=n" in d.reasons
    ev = next(e for e in d.evidence if e.reason == "aipref:ai-use=n")
    assert ev.strength == "explicit"
    assert "vocab-08" in ev.spec_version
    assert ev.spec_version == load_registry().get("aipref").version
    # ... and says nothing about training.
    assert evaluate(URL, robots_txt=_robots("ai-use=n")).verdict == "allowed"


def test_search_y_does_not_open_general_training():
    # vocab-08 section 4.3: search=y overrides train-ai=n only inside a search application.
    stmt = "train-ai=n, search=y"
    assert evaluate(URL, robots_txt=_robots(stmt)).verdict == "reserved"
    assert evaluate(URL, robots_txt=_robots(stmt), purpose="search").verdict == "allowed"


@pytest.mark.parametrize(
    ("statement", "purpose", "draft"),
    [
        ("bots=n", "train-ai", "draft-ietf-aipref-vocab-03 to -04"),
        ("all=n", "train-ai", "draft-ietf-aipref-vocab-02"),
        ("genai=n", "train-ai", "draft-ietf-aipref-vocab-01"),
        ("train-genai=n", "train-ai", "draft-ietf-aipref-vocab-02 to -03"),
        ("inference=n", "ai-input", "draft-ietf-aipref-vocab-01"),
        ("ai-output=n", "ai-input", "draft-ietf-aipref-vocab-04"),
    ],
)
def test_legacy_labels_name_their_draft(statement, purpose, draft):
    label = statement.split("=")[0]
    assert LABEL_DRAFTS[label] == draft
    d = evaluate(URL, robots_txt=_robots(statement), purpose=purpose)
    assert d.verdict == "reserved" and f"aipref:{label}=n" in d.reasons
    ev = next(e for e in d.evidence if e.reason == f"aipref:{label}=n")
    assert ev.strength == "inferred" and draft in ev.locator
    strict = evaluate(URL, robots_txt=_robots(statement), purpose=purpose, mode="strict")
    assert strict.verdict == "allowed"


def test_retired_input_labels_do_not_reserve_training():
    assert evaluate(URL, robots_txt=_robots("inference=n")).verdict == "allowed"
