"""The AI agent catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tdmscan.signals.catalogue import CATEGORIES, load_catalogue

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cat():
    return load_catalogue()


def test_version_fields(cat):
    assert cat.version.startswith("2026-08-22")
    assert cat.source_commit == "738c80d"
    assert cat.source_date == "2026-08-22"
    assert "ai.robots.txt" in cat.source
    assert len(cat.agents) == 166


def test_cached(cat):
    assert load_catalogue() is cat


@pytest.mark.parametrize(
    ("token", "category"),
    [
        ("GPTBot", "training"),
        ("CCBot", "training"),
        ("ClaudeBot", "training"),
        ("Google-Extended", "control-token"),
        ("Applebot-Extended", "control-token"),
        ("OAI-SearchBot", "search"),
        ("ChatGPT-User", "user-fetch"),
        ("PerplexityBot", "search"),
        ("Perplexity-User", "user-fetch"),
        ("Bytespider", "training"),
        ("meta-externalagent", "training"),
        ("meta-externalfetcher", "user-fetch"),
        ("Diffbot", "data-provider"),
        ("GoogleOther", "other"),
        ("Claude-SearchBot", "search"),
        ("Claude-User", "user-fetch"),
    ],
)
def test_curated_categories(cat, token, category):
    assert cat.category(token) == category


def test_lookup_case_insensitive_and_product_token(cat):
    assert cat.get("gptbot").token == "GPTBot"
    assert cat.get("GPTBot/1.2").token == "GPTBot"
    assert cat.get("Meta-ExternalAgent").category == "training"
    assert cat.get("MistralAI-User/1.0").category == "user-fetch"
    assert cat.get("iaskspider/2.0").token == "iaskspider/2.0"
    assert cat.get("NoSuchBot") is None
    assert cat.get("") is None
    assert cat.get(None) is None  # type: ignore[arg-type]


def test_training_tokens(cat):
    toks = cat.training_tokens()
    for t in ("GPTBot", "CCBot", "ClaudeBot", "Google-Extended", "Applebot-Extended"):
        assert t in toks
    for t in ("OAI-SearchBot", "ChatGPT-User", "PerplexityBot", "Applebot"):
        assert t not in toks
    lowered = [t.lower() for t in toks]
    assert len(lowered) == len(set(lowered))
    assert all(" " not in t and "/" not in t for t in toks)


def test_every_agent_well_formed(cat):
    for a in cat.agents:
        assert a.category in CATEGORIES
        assert a.respects_robots in ("yes", "no", "unclear", "discretion")
        assert "](" not in a.operator  # markdown links flattened
    invalid = {a.token for a in cat.agents if not a.valid_token}
    assert {"iaskspider/2.0", "Brightbot 1.0", "MistralAI-User/1.0"} <= invalid
    assert "GPTBot" not in invalid


def test_json_shipped_and_reproducible(tmp_path):
    shipped = ROOT / "src" / "tdmscan" / "signals" / "data" / "ai_agents.json"
    assert shipped.exists()
    seed = ROOT / "fixtures" / "ai-robots-2026-08-22.json"
    import runpy

    mod = runpy.run_path(str(ROOT / "scripts" / "build_catalogue.py"))
    out = tmp_path / "agents.json"
    assert mod["main"](["x", str(seed), str(out)]) == 0
    assert json.loads(out.read_text()) == json.loads(shipped.read_text())


def test_reviewed_generic_names_are_not_training_tokens():
    from tdmscan.policy import evaluate
    from tdmscan.signals.catalogue import load_catalogue

    cat = load_catalogue()
    tokens = {t.lower() for t in cat.training_tokens()}
    for generic in ("spider", "imagespider", "lcc", "awario", "lightpanda", "echobot"):
        assert generic not in tokens
    assert {"gptbot", "ccbot", "claudebot", "google-extended", "kangaroo"} <= tokens
    # Every training token is either curated or checked by hand, with a reason on record.
    for a in cat.agents:
        if a.trains:
            assert a.classified in ("curated", "reviewed"), a.token
        if a.classified == "reviewed":
            assert a.review_note, a.token
    # An old "User-agent: Spider" block is about crawling, not a training reservation...
    old = b"User-agent: Spider\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    assert evaluate("https://a.test/x", "tdmscan", robots_txt=old).verdict == "allowed"
    # ...while a group naming a training crawler still is (conservative inference).
    ai = b"User-agent: Kangaroo Bot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    d = evaluate("https://a.test/x", "tdmscan", robots_txt=ai)
    assert d.verdict == "reserved" and "robots:training-agent-disallow" in d.reasons
