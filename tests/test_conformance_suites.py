"""Other projects' robots.txt and structured-field test suites, as data (fixtures/conformance).

Every assertion of the ported suites runs against tdmscan. Where tdmscan answers differently
on purpose, the case is listed in DEVIATIONS with the section of docs/robots-deviations.md
that explains it; the test fails on any other disagreement, and on a listed deviation that no
longer disagrees (so the list cannot go stale).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tdmscan.signals import aipref
from tdmscan.signals.matching import canon, is_valid_token
from tdmscan.signals.robots import parse_robots
from tdmscan.urls import InvalidURL, parse_url

DATA = Path(__file__).parents[1] / "fixtures" / "conformance"
DOCS = Path(__file__).parents[1] / "docs" / "robots-deviations.md"


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text("utf-8"))


GOOGLE = _load("google_robots_test.json")
CPYTHON = _load("cpython_robotparser.json")
SF = _load("sf_dictionary.json")
PROTEGO = _load("protego_tests.json")

#: (suite, test, agent, url) -> the heading in docs/robots-deviations.md that explains it.
DEVIATIONS: dict[tuple[str, str, str, str], str] = {
    ("google", "GoogleOnly_AcceptUserAgentUpToFirstSpace", "Foo Bar", "http://foo.bar/x/y"): (
        "The caller's agent is reduced to its product token"
    ),
    ("google", "ID_Encoding", "FooBot", "http://foo.bar/foo/bar/ツ"): (
        "The URL is percent-encoded by tdmscan"
    ),
    ("google", "ID_Encoding", "FooBot", "http://foo.bar/foo/bar/baz"): (
        "Unreserved escapes are decoded"
    ),
    ("cpython", "UseFirstUserAgentWildcardTest", "test_robotparser", "/another/path"): (
        "Every `*` group applies, merged"
    ),
    ("cpython", "UserAgentGoogleMobileTest", "Googlebot-Mobile", "/something.jpg"): (
        "Agents are whole tokens"
    ),
}

#: protego's Rule1TestBot ... Rule7TestBot groups: Google cuts each user-agent value at its
#: first digit, so all seven are one "rule" group there and here (see the docs section).
_DIGIT_AGENT_CASES = {
    ("Rule1TestBot", "/fo.html"),
    ("Rule2TestBot", "/fo.html"),
    ("Rule2TestBot", "/food/xyz.html"),
    ("Rule3TestBot", "/foo/bar.txt"),
    ("Rule4TestBot", "/foo"),
    ("Rule4TestBot", "/foo/bar.html"),
}
for _agent, _url in _DIGIT_AGENT_CASES:
    DEVIATIONS[("protego", "test_allowed_wildcards", _agent, _url)] = (
        "Agents with digits are cut at the first digit"
    )


def _path(url: str) -> str:
    try:
        return parse_url(url).path_query
    except InvalidURL:
        # Google's long-line cases use URLs beyond tdmscan's URL cap: match the raw path.
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


def _google_cases():
    for c in GOOGLE["allowed"]:
        key = ("google", c["test"], c["agent"], c["url"])
        yield pytest.param(c, key, id=f"{c['test']}:{c['agent']}:{c['url'][:60]}")


def _protego_cases():
    for c in PROTEGO["allowed"]:
        key = ("protego", c["test"], c["agent"], c["url"])
        yield pytest.param(c, key, id=f"protego:{c['test']}:{c['agent']}:{c['url'][:60]}")


def _cpython_cases():
    for c in CPYTHON["cases"]:
        for expected, items in ((True, c["good"]), (False, c["bad"])):
            for item in items:
                agent, url = item if isinstance(item, list) else (c["agent"], item)
                case = {
                    "robots_txt": c["robots_txt"],
                    "agent": agent,
                    "url": url,
                    "allowed": expected,
                }
                key = ("cpython", c["name"], agent, url)
                yield pytest.param(case, key, id=f"{c['name']}:{agent}:{url}")


@pytest.mark.parametrize(("case", "key"), [*_google_cases(), *_cpython_cases(), *_protego_cases()])
def test_robots_suites(case: dict, key: tuple) -> None:
    url = case["url"] if case["url"].startswith("http") else "http://x.test" + case["url"]
    ours = parse_robots(case["robots_txt"]).match(case["agent"], _path(url)).allowed
    if key in DEVIATIONS:
        assert ours != case["allowed"], f"listed deviation no longer disagrees: {key}"
        assert DEVIATIONS[key] in DOCS.read_text("utf-8")
    else:
        assert ours == case["allowed"]


@pytest.mark.parametrize("case", GOOGLE["parser"], ids=lambda c: f"{c['test']}:{c['case']}")
def test_google_parser_checks(case: dict) -> None:
    r = parse_robots(case["robots_txt_latin1"].encode("latin-1"))
    if case["check"] == "last_rule_line":
        # The Disallow line is line 6 whatever the line endings.
        rule = r.match("bar", "/x").rule
        assert rule is not None and rule.line == case["expected"]
    elif case["check"] == "group_foo_has_rule":
        assert (r.match("foo", "/AnyValue").rule is not None) is case["expected"]
    else:
        assert list(r.sitemaps) == case["expected"]


def test_google_token_validity_and_escapes() -> None:
    for v in GOOGLE["valid_tokens"]:
        assert is_valid_token(v["token"]) is v["valid"], v
    for url, path in GOOGLE["path_params_query"]:
        assert parse_url(url).path_query == path
    for raw, escaped in GOOGLE["escape_pattern"]:
        assert canon(raw) == escaped


def test_digit_agents_merge_as_in_the_reference() -> None:
    # Google cuts a file's user-agent value at the first character outside [A-Za-z_-], so
    # "UserAgent010" and "UserAgent012" are both "useragent": one merged group (checked
    # against fast-robotstxt; kept).
    r = parse_robots(
        "User-agent: UserAgent010\nDisallow: /a\n\nUser-agent: UserAgent012\nDisallow: /b\n"
    )
    assert not r.match("UserAgent", "/a").allowed and not r.match("UserAgent", "/b").allowed


def _bare(v: object) -> object:
    if isinstance(v, aipref.Token):
        return {"__type": "token", "value": str(v)}
    if isinstance(v, bytes):
        return {"__type": "binary", "value": base64.b32encode(v).decode()}
    return v


def _member(m: object) -> list:
    params = {k: _bare(x) for k, x in m.params.items()}  # type: ignore[attr-defined]
    if isinstance(m, aipref.InnerList):
        return [[_member(i) for i in m.items], params]
    return [_bare(m.value), params]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "case",
    [c for cases in SF["suites"].values() for c in cases],
    ids=lambda c: c["name"],
)
def test_rfc9651_dictionary_corpus(case: dict) -> None:
    # Several field lines are one value joined by ", " (RFC 9651 section 4.2).
    parsed = aipref.parse_sf_dictionary(", ".join(case["raw"]))
    if case.get("must_fail"):
        assert parsed is None
    else:
        assert parsed is not None
        assert {k: _member(v) for k, v in parsed.items()} == case["expected"]
