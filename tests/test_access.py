"""The page's own answer as evidence: access barriers are never ``allowed`` (issue 13)."""

from __future__ import annotations

import pytest

from tdmscan.policy import evaluate
from tdmscan.types import Fetched

URL = "https://news.example/article/1"
OPEN_ROBOTS = b"User-agent: *\nAllow: /\n"


def _page(status: int, body: bytes = b"<html><head></head></html>", **kw) -> Fetched:
    headers = kw.pop("headers", {"content-type": "text/html"})
    return Fetched(status=status, headers=headers, body=body, url=URL, **kw)


@pytest.mark.parametrize("mode", ["conservative", "strict"])
@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, "access:auth-required"),
        (402, "access:payment-required"),
        (403, "access:forbidden"),
        (451, "access:legal"),
    ],
)
def test_status_barriers_are_never_allowed(status, reason, mode):
    d = evaluate(URL, robots_txt=OPEN_ROBOTS, response=_page(status), mode=mode)
    assert d.verdict == "reserved"
    assert reason in d.reasons
    ev = [e for e in d.evidence if e.reason == reason]
    assert ev and ev[0].protocol == "access" and f"HTTP {status}" in ev[0].raw


def test_pay_per_crawl_headers_and_x402_body_are_kept():
    page = _page(
        402,
        body=b'{"x402Version": 1, "accepts": [{"scheme": "exact"}]}',
        headers={
            "content-type": "application/json",
            "crawler-price": "USD 0.01",
            "crawler-error": "price-required",
        },
    )
    d = evaluate(URL, robots_txt=OPEN_ROBOTS, response=page)
    raw = next(e.raw for e in d.evidence if e.reason == "access:payment-required")
    assert "crawler-price: USD 0.01" in raw and "crawler-error: price-required" in raw
    assert "x402" in raw


def test_login_redirect_is_a_barrier():
    page = Fetched(
        status=200,
        headers={"content-type": "text/html"},
        body=b"<html><head><title>Sign in</title></head></html>",
        url=URL,
        final_url="https://news.example/account/login?next=/article/1",
        redirects=(URL,),
    )
    d = evaluate(URL, robots_txt=OPEN_ROBOTS, response=page)
    assert d.verdict == "reserved" and "access:login-required" in d.reasons


def test_a_redirect_elsewhere_is_not_a_barrier():
    page = Fetched(
        status=200,
        headers={"content-type": "text/html"},
        body=b"<html><head></head></html>",
        url=URL,
        final_url="https://news.example/article/1-slug",
        redirects=(URL,),
    )
    assert evaluate(URL, robots_txt=OPEN_ROBOTS, response=page).verdict == "allowed"


@pytest.mark.parametrize(
    "markup",
    [
        b'<script type="application/ld+json">{"@type": "NewsArticle", '
        b'"isAccessibleForFree": false, "hasPart": {"@type": "WebPageElement", '
        b'"isAccessibleForFree": "False", "cssSelector": ".paywall"}}</script>',
        b'<meta itemprop="isAccessibleForFree" content="false">',
    ],
)
def test_schema_org_paywall_markup_is_recorded(markup):
    body = b"<html><head>" + markup + b"</head><body>teaser</body></html>"
    d = evaluate(URL, robots_txt=OPEN_ROBOTS, response=_page(200, body))
    assert d.verdict == "reserved" and "access:paywalled" in d.reasons


def test_free_article_markup_is_not_a_barrier():
    body = (
        b'<html><head><script type="application/ld+json">{"isAccessibleForFree": true}'
        b"</script></head></html>"
    )
    assert evaluate(URL, robots_txt=OPEN_ROBOTS, response=_page(200, body)).verdict == "allowed"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limit_and_server_errors_stay_unknown(status):
    d = evaluate(URL, robots_txt=OPEN_ROBOTS, response=_page(status))
    assert d.verdict == "unknown" and d.reasons == ("page:unreachable",)
    assert not any(r.startswith("access:") for r in d.reasons)
