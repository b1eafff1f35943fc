"""The decision policy: cross-protocol combination, RFC 9309 branches, modes and purposes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tdmscan
from tdmscan import Fetched, evaluate
from tdmscan.types import VERDICTS

URL = "https://example.com/news/a.html"
PAGE_HTML = b"<html><head><title>t</title></head><body>x</body></html>"


def page(headers=(), body=PAGE_HTML, status=200, ctype="text/html; charset=utf-8"):
    hs = [("Content-Type", ctype), *headers] if ctype else list(headers)
    return Fetched(status=status, headers=hs, body=body, url=URL)


# --------------------------------------------------------------------------- public API shape


def test_public_api_example_from_design():
    d = tdmscan.evaluate(
        URL,
        agent="GPTBot",
        robots_txt=b"User-agent: GPTBot\nDisallow: /\n",
        response=Fetched(status=200, headers=[("X-Robots-Tag", "noai")], body=b"<html>..."),
    )
    assert d.verdict == "reserved"
    assert d.reasons == ("robots:disallow", "header:noai")
    assert d.tdm_policy is None
    assert d.licences == ()
    decisive = [e for e in d.evidence if e.decisive]
    assert {e.reason for e in decisive} == {"robots:disallow", "header:noai"}
    robots_ev = next(e for e in decisive if e.reason == "robots:disallow")
    assert robots_ev.locator == "robots.txt line 2"
    assert robots_ev.raw == "Disallow: /"
    assert d.robots.matched_line == 2 and d.robots.branch == "parsed"
    assert d.robots.sha256 and len(d.robots.sha256) == 64
    assert not d.ingest


def test_nothing_given_is_allowed_with_absent_robots():
    d = evaluate(URL, agent="MyBot")
    assert d.verdict == "allowed" and d.reasons == () and d.robots.branch == "absent"
    assert d.ingest


@pytest.mark.parametrize("bad", ["ftp://example.com/x", "not a url", "", "http://", "x" * 9000])
def test_invalid_urls(bad):
    d = evaluate(bad, agent="MyBot", robots_txt=b"User-agent: *\nDisallow: /\n")
    assert d.verdict == "invalid"
    assert d.reasons[0].startswith("url:")


def test_unknown_mode_and_purpose_are_usage_errors():
    with pytest.raises(ValueError):
        evaluate(URL, mode="lax")
    with pytest.raises(ValueError):
        evaluate(URL, purpose="everything")


# --------------------------------------------------------------------------- RFC 9309 branches


@pytest.mark.parametrize(
    ("fetched", "verdict", "branch"),
    [
        (Fetched(status=404), "allowed", "4xx-allow"),
        (Fetched(status=401), "allowed", "4xx-allow"),
        (Fetched(status=403), "allowed", "4xx-allow"),
        (Fetched(status=410), "allowed", "4xx-allow"),
        (Fetched(status=429), "unknown", "unreachable"),
        (Fetched(status=500), "unknown", "unreachable"),
        (Fetched(status=503), "unknown", "unreachable"),
        (Fetched(error="timeout"), "unknown", "unreachable"),
        (Fetched(error="dns"), "unknown", "unreachable"),
        (Fetched(error="tls"), "unknown", "unreachable"),
        (Fetched(error="reset"), "unknown", "unreachable"),
        (Fetched(status=200, body=b"<html><body>Not found</body></html>"), "allowed", "parsed"),
    ],
)
def test_robots_status_matrix(fetched, verdict, branch):
    d = evaluate(URL, agent="MyBot", robots_txt=fetched)
    assert (d.verdict, d.robots.branch) == (verdict, branch)
    if verdict == "unknown":
        assert d.reasons == ("robots:unreachable",)
        assert not d.ingest


@pytest.mark.parametrize("error", ["too-many-redirects", "redirect-loop"])
def test_redirect_limit_is_unknown_in_conservative_mode_and_unavailable_in_strict(error):
    """RFC 9309 2.3.1.2 allows treating a redirect maze as "unavailable"; conservative mode
    records it as an error instead of taking it as permission."""
    f = Fetched(status=301, error=error, redirects=("http://a.test/robots.txt",) * 2)
    d = evaluate(URL, agent="MyBot", robots_txt=f)
    assert (d.verdict, d.robots.branch) == ("unknown", "redirect-limit")
    assert d.reasons == ("robots:redirect-limit",) and not d.ingest
    d = evaluate(URL, agent="MyBot", robots_txt=f, mode="strict")
    assert (d.verdict, d.robots.branch) == ("allowed", "redirect-limit")


def test_unreachable_never_downgrades_a_reservation():
    d = evaluate(
        URL,
        agent="MyBot",
        robots_txt=Fetched(status=503),
        tdmrep_json=b'[{"location": "/", "tdm-reservation": 1}]',
    )
    assert d.verdict == "reserved"
    assert d.reasons == ("tdmrep:reserved", "robots:unreachable")


def test_stale_copy_is_used_and_recorded():
    stale = Fetched(status=200, body=b"User-agent: *\nDisallow: /news/\n", stale=True)
    d = evaluate(URL, agent="MyBot", robots_txt=stale)
    assert d.verdict == "reserved" and d.robots.branch == "stale-copy"


def test_robots_txt_itself_is_always_allowed():
    d = evaluate(
        "https://example.com/robots.txt", agent="MyBot", robots_txt=b"User-agent: *\nDisallow: /\n"
    )
    assert d.verdict == "allowed"


# --------------------------------------------------------------------------- modes


NEWS_ROBOTS = b"User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"


def test_conservative_treats_training_agent_disallow_as_reservation():
    d = evaluate(URL, agent="MyBot", robots_txt=NEWS_ROBOTS)
    assert d.verdict == "reserved"
    assert d.reasons == ("robots:training-agent-disallow",)
    ev = next(e for e in d.evidence if e.reason == "robots:training-agent-disallow")
    assert ev.strength == "inferred" and ev.decisive and "gptbot" in ev.locator


def test_strict_records_training_agent_disallow_without_deciding():
    d = evaluate(URL, agent="MyBot", robots_txt=NEWS_ROBOTS, mode="strict")
    assert d.verdict == "allowed" and d.reasons == ()
    ev = next(e for e in d.evidence if e.reason == "robots:training-agent-disallow")
    assert ev.decisive is False


def test_star_group_disallow_is_not_read_as_training_intent():
    robots = b"User-agent: MyBot\nAllow: /\n\nUser-agent: *\nDisallow: /\n"
    d = evaluate(URL, agent="MyBot", robots_txt=robots)
    assert d.verdict == "allowed"


def test_training_agent_inference_does_not_apply_to_search_purpose():
    d = evaluate(URL, agent="MyBot", robots_txt=NEWS_ROBOTS, purpose="search")
    assert d.verdict == "allowed"


def test_evaluating_the_training_agent_itself():
    d = evaluate(URL, agent="GPTBot", robots_txt=NEWS_ROBOTS, mode="strict")
    assert d.verdict == "reserved" and d.reasons == ("robots:disallow",)


def test_google_group_does_not_capture_google_extended():
    robots = b"User-agent: Google\nDisallow: /\n"
    assert evaluate(URL, agent="Google-Extended", robots_txt=robots).verdict == "allowed"
    assert evaluate(URL, agent="Google", robots_txt=robots).verdict == "reserved"


# --------------------------------------------------------------------------- aipref


def test_content_usage_in_robots():
    robots = (
        b"User-Agent: *\nAllow: /\nDisallow: /private/\nContent-Usage: train-ai=n\n"
        b"Content-Usage: /datasets/open/ train-ai=y\n"
    )
    d = evaluate("https://example.com/blog/x", agent="MyBot", robots_txt=robots)
    assert d.verdict == "reserved" and d.reasons == ("aipref:train-ai=n",)
    d = evaluate("https://example.com/datasets/open/a.csv", agent="MyBot", robots_txt=robots)
    assert d.verdict == "allowed"
    assert any(
        e.reason == "aipref:train-ai=y" and e.interpretation == "allowed" for e in d.evidence
    )
    d = evaluate("https://example.com/private/x", agent="MyBot", robots_txt=robots)
    assert d.reasons == ("robots:disallow",)  # disallowed paths carry no preference


def test_header_allow_never_cancels_robots_content_usage_disallow():
    robots = b"User-agent: *\nContent-Usage: train-ai=n\n"
    d = evaluate(
        URL, agent="MyBot", robots_txt=robots, response=page([("Content-Usage", "train-ai=y")])
    )
    assert d.verdict == "reserved" and d.reasons == ("aipref:train-ai=n",)


def test_content_usage_header_last_duplicate_wins_and_malformed_is_unknown():
    d = evaluate(
        URL,
        agent="MyBot",
        response=page([("Content-Usage", "train-ai=y"), ("Content-Usage", "train-ai=n")]),
    )
    assert d.reasons == ("aipref:train-ai=n",)
    d = evaluate(URL, agent="MyBot", response=page([("Content-Usage", "Train-AI=n")]))
    assert d.verdict == "allowed"
    assert any(e.reason == "aipref:unparsable" for e in d.evidence)
    d = evaluate(URL, agent="MyBot", response=page([("Content-Usage", 'train-ai="n"')]))
    assert d.verdict == "allowed"


def test_aipref_search_label_for_search_purpose():
    d = evaluate(
        URL,
        agent="MyBot",
        purpose="search",
        response=page([("Content-Usage", "train-ai=y, search=n")]),
    )
    assert d.reasons == ("aipref:search=n",)


# --------------------------------------------------------------------------- content signals


def test_content_signal_line_between_user_agent_lines_merges_groups():
    robots = b"User-agent: *\nContent-Signal: ai-train=no\nUser-agent: GPTBot\nDisallow: /\n"
    d = evaluate(URL, agent="MyBot", robots_txt=robots, mode="strict")
    assert d.verdict == "reserved"
    assert "robots:disallow" in d.reasons and "content-signal:ai-train=no" in d.reasons


def test_content_signal_yes_does_not_cancel_content_usage_no():
    robots = b"User-agent: *\nContent-Signal: ai-train=yes\nContent-Usage: train-ai=n\nAllow: /\n"
    d = evaluate(URL, agent="MyBot", robots_txt=robots)
    assert d.reasons == ("aipref:train-ai=n",)


def test_content_signal_for_star_does_not_reach_an_agent_with_its_own_group():
    robots = (
        b"User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n\n"
        b"User-agent: MyBot\nAllow: /\n"
    )
    assert evaluate(URL, agent="MyBot", robots_txt=robots).verdict == "allowed"
    assert evaluate(URL, agent="OtherBot", robots_txt=robots).reasons == (
        "content-signal:ai-train=no",
    )


def test_content_signal_search_yes_allows_search_purpose():
    robots = b"User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n"
    d = evaluate(URL, agent="MyBot", robots_txt=robots, purpose="search")
    assert d.verdict == "allowed"


# --------------------------------------------------------------------------- TDMRep


TDM_FILE = (
    b'[{"location": "/news/", "tdm-reservation": 1, '
    b'"tdm-policy": "https://example.com/tdm.json"}, {"location": "/", "tdm-reservation": 0}]'
)


def test_tdmrep_file_reservation_with_policy():
    d = evaluate(URL, agent="MyBot", tdmrep_json=TDM_FILE)
    assert d.verdict == "reserved" and d.reasons == ("tdmrep:reserved",)
    assert d.tdm_policy == "https://example.com/tdm.json"
    assert (d.tdm_reservation, d.tdm_source) == (1, "file")
    assert d.tdmrep_sha256


def test_tdmrep_first_match_in_array_order():
    f = b'[{"location":"/","tdm-reservation":1},{"location":"/open/","tdm-reservation":0}]'
    d = evaluate("https://example.com/open/x", agent="MyBot", tdmrep_json=f)
    assert d.verdict == "reserved"


def test_tdmrep_header_zero_overrides_file_one():
    d = evaluate(
        URL, agent="MyBot", tdmrep_json=TDM_FILE, response=page([("tdm-reservation", "0")])
    )
    assert d.verdict == "allowed"
    assert (d.tdm_reservation, d.tdm_source) == (0, "header")


def test_tdmrep_meta_with_only_policy_inherits_reservation():
    body = (
        b'<html><head><meta name="tdm-policy" content="https://example.com/p2.json">'
        b"</head><body></body></html>"
    )
    d = evaluate(URL, agent="MyBot", response=page([("tdm-reservation", "1")], body=body))
    assert d.verdict == "reserved"
    assert d.tdm_policy == "https://example.com/p2.json"


def test_tdmrep_file_not_2xx_is_not_implemented():
    d = evaluate(URL, agent="MyBot", tdmrep_json=Fetched(status=500))
    assert d.verdict == "allowed" and d.tdm_reservation is None


def test_tdmrep_meta_reservation():
    body = b'<html><head><meta name="tdm-reservation" content="1"></head><body></body></html>'
    d = evaluate(URL, agent="MyBot", response=page(body=body))
    assert d.reasons == ("tdmrep:reserved",) and d.tdm_source == "meta"


# --------------------------------------------------------------------------- noai family


def test_meta_noai_case_insensitive():
    body = b'<html><head><meta name="ROBOTS" content="NoAI"></head><body></body></html>'
    assert evaluate(URL, agent="MyBot", response=page(body=body)).reasons == ("meta:noai",)


def test_meta_in_body_is_ignored_but_recorded():
    body = b'<html><head></head><body><meta name="robots" content="noai"></body></html>'
    d = evaluate(URL, agent="MyBot", response=page(body=body))
    assert d.verdict == "allowed"
    assert any(e.reason == "meta:in-body-ignored" for e in d.evidence)


def test_x_robots_tag_agent_scoping():
    d = evaluate(URL, agent="MyBot", response=page([("X-Robots-Tag", "googlebot: noindex, noai")]))
    assert d.verdict == "allowed"
    d = evaluate(URL, agent="MyBot", response=page([("X-Robots-Tag", "mybot: noai")]))
    assert d.reasons == ("header:noai",)
    d = evaluate(URL, agent="MyBot", response=page([("x-robots-tag", "noai")]))
    assert d.reasons == ("header:noai",)


def test_header_and_meta_combine():
    body = b'<html><head><meta name="robots" content="noimageai"></head></html>'
    d = evaluate(URL, agent="MyBot", response=page([("X-Robots-Tag", "noai")], body=body))
    assert d.reasons == ("header:noai", "meta:noimageai")


def test_noimageai_on_image_is_explicit_on_page_inferred():
    img = Fetched(
        status=200,
        headers=[("Content-Type", "image/jpeg"), ("X-Robots-Tag", "noimageai")],
        body=b"\xff\xd8",
    )
    d = evaluate("https://example.com/a.jpg", agent="MyBot", response=img, mode="strict")
    assert d.reasons == ("header:noimageai",)
    body = b'<html><head><meta name="robots" content="noimageai"></head></html>'
    assert evaluate(URL, agent="MyBot", response=page(body=body), mode="strict").verdict == (
        "allowed"
    )


def test_noarchive_is_conservative_only():
    p = page([("X-Robots-Tag", "noarchive")])
    assert evaluate(URL, agent="MyBot", response=p).reasons == ("header:noarchive",)
    assert evaluate(URL, agent="MyBot", response=p, mode="strict").verdict == "allowed"


def test_noindex_alone_is_not_a_reservation():
    assert evaluate(URL, agent="MyBot", response=page([("X-Robots-Tag", "noindex")])).verdict == (
        "allowed"
    )


# --------------------------------------------------------------------------- ai.txt


AI_TXT = b"# Spawning AI\nUser-agent: *\nDisallow: *.jpg\nAllow: *.html\nDisallow: /\n"


@pytest.mark.parametrize(
    ("path", "verdict"),
    [
        ("/img/photo.jpg", "reserved"),
        ("/img/photo.JPG", "reserved"),  # "Disallow: /" still hits
        ("/a.jpg?w=200", "reserved"),
        ("/page.html", "allowed"),
        ("/other", "reserved"),
    ],
)
def test_ai_txt(path, verdict):
    d = evaluate("https://example.com" + path, agent="MyBot", ai_txt=AI_TXT)
    assert d.verdict == verdict
    if verdict == "reserved":
        assert d.reasons == ("ai-txt:disallow",)


def test_ai_txt_served_as_html_is_unrecognised_not_allowed_evidence():
    d = evaluate(URL, agent="MyBot", ai_txt=b"<!doctype html><html><body>app</body></html>")
    assert d.verdict == "allowed"
    assert any(e.reason == "ai-txt:unrecognised" for e in d.evidence)


# --------------------------------------------------------------------------- RSL


RSL_DOC = b"""<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/">
    <license>
      <permits type="usage">search</permits>
      <prohibits type="usage">ai-train</prohibits>
    </license>
  </content>
</rsl>"""


def test_rsl_prohibited_via_robots_license_line():
    robots = b"License: https://example.com/license.xml\nUser-agent: *\nAllow: /\n"
    d = evaluate(
        URL,
        agent="MyBot",
        robots_txt=robots,
        rsl_documents={"https://example.com/license.xml": RSL_DOC},
    )
    assert d.reasons == ("rsl:prohibited",)
    d = evaluate(
        URL,
        agent="MyBot",
        robots_txt=robots,
        purpose="search",
        rsl_documents={"https://example.com/license.xml": RSL_DOC},
    )
    assert d.verdict == "allowed"


def test_rsl_document_unobtainable_is_conservative_reservation():
    robots = b"License: https://example.com/license.xml\nUser-agent: *\nAllow: /\n"
    docs = {"https://example.com/license.xml": Fetched(status=404)}
    assert evaluate(URL, agent="MyBot", robots_txt=robots, rsl_documents=docs).reasons == (
        "rsl:unobtainable",
    )
    assert (
        evaluate(URL, agent="MyBot", robots_txt=robots, rsl_documents=docs, mode="strict").verdict
        == "allowed"
    )


def test_rsl_inline_script():
    body = (
        b'<html><head><script type="application/rsl+xml">'
        + RSL_DOC
        + b"</script></head><body></body></html>"
    )
    assert evaluate(URL, agent="MyBot", response=page(body=body)).reasons == ("rsl:prohibited",)


# --------------------------------------------------------------------------- licences


def test_cc_licence_is_inventory_not_reservation():
    body = (
        b'<html><head><link rel="license noopener" '
        b'href="https://creativecommons.org/licenses/by-nc-nd/4.0/deed.de"></head></html>'
    )
    d = evaluate(URL, agent="MyBot", response=page(body=body))
    assert d.verdict == "allowed"
    assert d.licences == ("CC-BY-NC-ND-4.0",)


def test_link_header_licence():
    d = evaluate(
        URL,
        agent="MyBot",
        response=page(
            [("Link", '<https://creativecommons.org/licenses/by/3.0/fr/>; rel="license"')]
        ),
    )
    assert d.licences == ("LicenseRef-CC-BY-3.0-FR",)


# --------------------------------------------------------------------------- page failures


def test_unreachable_page_is_unknown():
    d = evaluate(URL, agent="MyBot", response=Fetched(error="timeout", url=URL))
    assert d.verdict == "unknown" and d.reasons == ("page:unreachable",)


def test_reasons_accumulate_across_protocols():
    robots = b"User-agent: *\nDisallow: /news/\nContent-Signal: ai-train=no\n"
    d = evaluate(
        URL,
        agent="MyBot",
        robots_txt=robots,
        tdmrep_json=TDM_FILE,
        response=page([("X-Robots-Tag", "noai")]),
    )
    assert d.reasons == (
        "robots:disallow",
        "content-signal:ai-train=no",
        "tdmrep:reserved",
        "header:noai",
    )


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    url=st.one_of(
        st.text(max_size=80),
        st.from_regex(r"https?://[a-z]{1,8}\.test/[ -~]{0,30}", fullmatch=True),
    ),
    robots=st.one_of(st.none(), st.binary(max_size=300)),
    tdm=st.one_of(st.none(), st.binary(max_size=200)),
    ai=st.one_of(st.none(), st.binary(max_size=200)),
    body=st.binary(max_size=300),
    hdrs=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "X-Robots-Tag",
                    "Content-Usage",
                    "tdm-reservation",
                    "Link",
                    "Content-Type",
                    "Robots-Tag",
                ]
            ),
            st.text(max_size=40),
        ),
        max_size=4,
    ),
    status=st.one_of(st.none(), st.integers(100, 599)),
    mode=st.sampled_from(["conservative", "strict"]),
)
def test_evaluate_always_returns_a_verdict(url, robots, tdm, ai, body, hdrs, status, mode):
    resp = Fetched(status=status, headers=hdrs, body=body, error=None if status else "timeout")
    d = evaluate(
        url, agent="MyBot", robots_txt=robots, tdmrep_json=tdm, ai_txt=ai, response=resp, mode=mode
    )
    assert d.verdict in VERDICTS
    if d.verdict == "reserved":
        assert d.reasons


# --------------------------------------------------------------------------- embedded wiring


def test_decide_and_evaluate_new_parameters_are_optional_keywords():
    import inspect

    from tdmscan.policy import decide

    dp = inspect.signature(decide).parameters
    assert list(dp)[:4] == ["url", "agents", "site", "page"]
    assert dp["referrer"].default is None and dp["referrer"].kind is inspect.Parameter.KEYWORD_ONLY
    ep = inspect.signature(evaluate).parameters
    assert ep["referrer"].default is None and ep["c2pa_manifest"].default is None


def test_html_page_gets_no_embedded_signals():
    from tdmscan.policy import parse_page

    p = parse_page(page(), "/news/a.html")
    assert p.is_html and p.embedded is None and p.epub is None and p.c2pa is None


def test_tdmrep_lenient_forms_count_in_conservative_only():
    lenient = b'[{"location": "/news/.*", "tdm-reservation": "1"}]'
    assert evaluate(URL, agent="MyBot", tdmrep_json=lenient).reasons == ("tdmrep:reserved",)
    d = evaluate(URL, agent="MyBot", tdmrep_json=lenient, mode="strict")
    assert d.verdict == "allowed" and d.tdm_reservation is None


def test_tdmrep_conflicting_header_values():
    p = page([("tdm-reservation", "1"), ("tdm-reservation", "0")])
    assert evaluate(URL, agent="MyBot", response=p).reasons == ("tdmrep:reserved",)
    assert evaluate(URL, agent="MyBot", response=p, mode="strict").verdict == "allowed"


def test_tdmrep_first_match_shadowing_is_recorded():
    f = b'[{"location":"/","tdm-reservation":1},{"location":"/open/","tdm-reservation":0}]'
    d = evaluate("https://example.com/open/x", agent="MyBot", tdmrep_json=f)
    assert d.verdict == "reserved"
    assert any(e.reason == "tdmrep:first-match-shadows-longer" for e in d.evidence)
