"""Content-Signal / Content-Usage lines written before the first User-agent, and the
Content-Signal response header: recorded in strict mode, reservations in conservative mode."""

from __future__ import annotations

import pytest

from tdmscan.policy import SiteDecider, decide, evaluate, parse_site
from tdmscan.types import Fetched, SiteFiles, as_fetched
from tdmscan.urls import parse_url

URL = "https://shop.example/products/1"
BEFORE_UA_SIGNAL = (
    b"# Content signals for the whole site\n"
    b"Content-Signal: search=yes, ai-train=no\n\n"
    b"User-agent: *\nAllow: /\n"
)
BEFORE_UA_USAGE = (
    b"Content-Usage: train-ai=n\nContent-Usage: /open/ train-ai=y\n\nUser-agent: *\nAllow: /\n"
)


def test_content_signal_before_first_user_agent_reserves_when_conservative():
    d = evaluate(URL, robots_txt=BEFORE_UA_SIGNAL)
    assert d.verdict == "reserved" and "content-signal:ai-train=no" in d.reasons
    ev = next(e for e in d.evidence if e.reason == "content-signal:ai-train=no")
    assert ev.strength == "inferred" and ev.locator == "robots.txt line 2 (outside any group)"


def test_content_signal_before_first_user_agent_is_evidence_when_strict():
    d = evaluate(URL, robots_txt=BEFORE_UA_SIGNAL, mode="strict")
    assert d.verdict == "allowed"
    ev = [e for e in d.evidence if e.reason == "content-signal:ai-train=no"]
    assert ev and not ev[0].decisive


def test_search_purpose_reads_the_same_line():
    d = evaluate(URL, robots_txt=BEFORE_UA_SIGNAL, purpose="search")
    assert d.verdict == "allowed"
    assert any(e.reason == "content-signal:search=yes" for e in d.evidence)


@pytest.mark.parametrize(
    ("url", "verdict"),
    [(URL, "reserved"), ("https://shop.example/open/page", "allowed")],
)
def test_content_usage_before_first_user_agent(url, verdict):
    d = evaluate(url, robots_txt=BEFORE_UA_USAGE)
    assert d.verdict == verdict
    strict = evaluate(url, robots_txt=BEFORE_UA_USAGE, mode="strict")
    assert strict.verdict == "allowed"
    if verdict == "reserved":
        assert "aipref:train-ai=n" in d.reasons
        assert any(e.reason == "aipref:train-ai=n" and not e.decisive for e in strict.evidence)


def test_content_signal_response_header():
    page = Fetched(
        status=200,
        headers={"content-type": "text/html", "content-signal": "ai-train=no"},
        body=b"<html><head></head></html>",
        url=URL,
    )
    robots = b"User-agent: *\nAllow: /\n"
    d = evaluate(URL, robots_txt=robots, response=page)
    assert d.verdict == "reserved" and "content-signal:ai-train=no" in d.reasons
    assert evaluate(URL, robots_txt=robots, response=page, mode="strict").verdict == "allowed"


@pytest.mark.parametrize("mode", ["conservative", "strict"])
def test_site_decider_equals_decide_with_origin_wide_lines(mode):
    body = BEFORE_UA_SIGNAL.replace(
        b"User-agent", BEFORE_UA_USAGE.split(b"\n\n")[0] + b"\nUser-agent"
    )
    site = parse_site(
        SiteFiles(
            origin="https://shop.example",
            robots=as_fetched(body, "https://shop.example/robots.txt"),
        )
    )
    agents = ["GPTBot", "*"]
    sd = SiteDecider(site, agents, mode=mode)
    for path in ("/products/1", "/open/x", "/open/", "/", "/robots.txt"):
        u = parse_url("https://shop.example" + path)
        assert sd.decisions(u) == decide(u, agents, site, mode=mode)
