"""Differential tests against Google's reference matcher (the ``fast-robotstxt`` binding).

Two real-world corpora from ``fixtures/`` (sources and licences in ``fixtures/README.md``):
1. robots-corpus-2019: every URL of the URL list against its site's robots.txt, for GPTBot,
   CCBot, Googlebot and an agent no file names;
2. robots-corpus-ai-era: every file for 15 AI agents on 5 paths.

Every disagreement must be explained by a documented deviation
(``docs/robots-deviations.md``). Each is classified by a counterfactual: re-run our parser
with that one deviation switched off (or check the one input it concerns) and see the
disagreement vanish. Anything left unclassified fails the test, and the set of files per
category must equal what the docs list, so a new deviation cannot slip in unnoticed.
"""

from __future__ import annotations

import collections
import ctypes
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from tdmscan.signals.matching import canon as _canon
from tdmscan.signals.robots import ROBOTS_PARSE_LIMIT, RobotsTxt, parse_robots
from tdmscan.urls import InvalidURL, parse_url

pytestmark = pytest.mark.corpus

DATA = Path(__file__).resolve().parents[1] / "fixtures"

AI_AGENTS = (
    "GPTBot",
    "ChatGPT-User",
    "OAI-SearchBot",
    "CCBot",
    "Google-Extended",
    "Googlebot",
    "ClaudeBot",
    "anthropic-ai",
    "Claude-Web",
    "Applebot-Extended",
    "PerplexityBot",
    "Bytespider",
    "meta-externalagent",
    "cohere-ai",
    "Amazonbot",
)
AI_PATHS = ("/", "/news/article-1", "/search?q=x", "/wp-admin/", "/api/v1/x")
UNNAMED = "TdmScanProbeBot"  # a valid token that no file in either corpus names
AGENTS_2019 = ("GPTBot", "CCBot", "Googlebot", UNNAMED)

# The documented deviations (docs/robots-deviations.md), with the files of each corpus
# where they change a verdict. Keep the three in sync.
EXPECTED_2019: dict[str, set[str]] = {}
EXPECTED_AI_ERA: dict[str, set[str]] = {"parse-limit": {"www.xuexi.cn"}}
DOCUMENTED = {
    "parse-limit",
    "html-body",
    "robots-txt-implicit-allow",
    "reserved-escape",
    "url-canonicalisation",
}


def _need_data(name: str) -> Path:
    path = DATA / name
    # The corpus ships with the repository: a missing file is a broken checkout, not a skip.
    assert path.exists(), f"{path} missing (see fixtures/README.md)"
    return path


@pytest.fixture(scope="module")
def google() -> Callable[[bytes, str, str], bool]:
    """Google's verdict on raw bytes (the binding's public API wants str and re-encodes)."""
    robots = pytest.importorskip("robotstxt.robots", reason="fast-robotstxt not installed")
    matcher = robots.RobotsMatcher()
    lib = getattr(robots, "_lib", None)

    if lib is None:  # pragma: no cover - older binding layout

        def verdict(body: bytes, agent: str, path: str) -> bool:
            text = body.decode("utf-8", "replace")
            return bool(matcher.is_allowed(text, agent, "http://example.com" + path))

        return verdict

    def verdict(body: bytes, agent: str, path: str) -> bool:
        url = b"http://example.com" + path.encode()
        ua = agent.encode()
        return bool(
            lib.robots_allowed_by_robots(matcher._ptr, body, len(body), ua, len(ua), url, len(url))
        )

    return verdict


class _AdaString(ctypes.Structure):
    _fields_ = [("data", ctypes.c_char_p), ("length", ctypes.c_size_t)]


def _ada_path(path: str) -> str | None:
    """The path the binding really matched: it canonicalises URLs with ada (WHATWG)."""
    try:
        from robotstxt.robots import _lib as lib
    except ImportError:  # pragma: no cover
        return None
    if not hasattr(lib, "ada_parse"):  # pragma: no cover
        return None
    lib.ada_parse.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    lib.ada_parse.restype = ctypes.c_void_p
    for fn in (lib.ada_get_pathname, lib.ada_get_search):
        fn.argtypes = [ctypes.c_void_p]
        fn.restype = _AdaString
    lib.ada_is_valid.argtypes = [ctypes.c_void_p]
    lib.ada_is_valid.restype = ctypes.c_bool
    lib.ada_free.argtypes = [ctypes.c_void_p]
    url = b"http://example.com" + path.encode()
    handle = lib.ada_parse(url, len(url))
    try:
        if not lib.ada_is_valid(handle):
            return None
        parts = [lib.ada_get_pathname(handle), lib.ada_get_search(handle)]
        return b"".join(ctypes.string_at(p.data, p.length) for p in parts).decode()
    finally:
        lib.ada_free(handle)


# Escapes of RFC 3986 reserved characters ("#", "*" and "$" excluded: those would change the
# file's structure or a pattern's meaning). The reference treats them as the character.
_RESERVED_ESCAPE = re.compile(rb"%(3A|2F|3F|5B|5D|40|21|26|27|28|29|2B|2C|3B|3D)", re.IGNORECASE)


def _decode_reserved(data: bytes) -> bytes:
    return _RESERVED_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), data)


class _Variants:
    """The counterfactual parses of one file, built on first use (big files are slow)."""

    def __init__(self, body: bytes, ours: RobotsTxt) -> None:
        self.body = body
        self.ours = ours
        self._cache: dict[str, RobotsTxt] = {}

    def get(self, name: str) -> RobotsTxt:
        if name not in self._cache:
            if name == "unlimited":
                self._cache[name] = RobotsTxt(self.body, _limit=len(self.body) + 1)
            elif name == "no-html-check":
                self._cache[name] = RobotsTxt(self.body, _html_check=False)
            else:
                self._cache[name] = parse_robots(_decode_reserved(self.body))
        return self._cache[name]


def classify(v: _Variants, agent: str, path: str, ours: bool, theirs: bool) -> str | None:
    """Name the documented deviation that explains one disagreement, or None."""
    if v.ours.truncated and v.get("unlimited").match(agent, path).allowed == theirs:
        return "parse-limit"
    if (
        "html-body" in v.ours.problems
        and v.get("no-html-check").match(agent, path).allowed == theirs
    ):
        return "html-body"
    if (path == "/robots.txt" or path.startswith("/robots.txt?")) and ours and not theirs:
        return "robots-txt-implicit-allow"
    if b"%" in v.body or "%" in path:
        path_decoded = _decode_reserved(path.encode()).decode()
        if v.get("reserved").match(agent, path_decoded).allowed == theirs:
            return "reserved-escape"
    ada = _ada_path(path)
    if ada is not None and ada != path and v.ours.match(agent, _canon(ada)).allowed == theirs:
        return "url-canonicalisation"
    return None


def run(
    jobs: Iterable[tuple[str, bytes, Iterable[str], Iterable[str]]],
    google: Callable[[bytes, str, str], bool],
) -> tuple[int, dict[str, set[str]], list[tuple[str, str, str, bool, bool]]]:
    """Compare every (agent, path) of every job; return count, classified files, unclassified."""
    n = 0
    classified: dict[str, set[str]] = collections.defaultdict(set)
    unclassified = []
    for site, body, agents, paths in jobs:
        ours_file = parse_robots(body)
        variants = _Variants(body, ours_file)
        low = body.lower()
        probe_named = UNNAMED.lower().encode() in low
        for path in paths:
            unnamed_verdict: bool | None = None
            for agent in agents:
                n += 1
                ours = ours_file.match(agent, path).allowed
                # Google only applies a group whose extracted token equals the agent, so an
                # agent whose name is not even a substring of the file gets exactly the
                # verdict of any other unnamed agent: one reference call covers them all.
                if probe_named or agent.lower().encode() in low:
                    theirs = google(body, agent, path)
                else:
                    if unnamed_verdict is None:
                        unnamed_verdict = google(body, UNNAMED, path)
                    theirs = unnamed_verdict
                if ours != theirs:
                    category = classify(variants, agent, path, ours, theirs)
                    if category is None:
                        unclassified.append((site, agent, path, ours, theirs))
                    else:
                        classified[category].add(site)
    return n, dict(classified), unclassified


def _report(unclassified: list[tuple[str, str, str, bool, bool]]) -> str:
    lines = [f"{len(unclassified)} unexplained disagreements with Google, first 20:"]
    lines += [
        f"  {site} agent={agent} path={path} ours={'allow' if o else 'disallow'} "
        f"google={'allow' if g else 'disallow'}"
        for site, agent, path, o, g in unclassified[:20]
    ]
    return "\n".join(lines)


@pytest.mark.slow
def test_ai_era_corpus_agrees_with_google(google: Callable[[bytes, str, str], bool]) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(
        _need_data("robots-corpus-ai-era.parquet"), columns=["site", "robots_txt"]
    )
    rows = table.to_pylist()
    assert len(rows) == 16082
    jobs = ((r["site"], r["robots_txt"], AI_AGENTS, AI_PATHS) for r in rows)
    n, classified, unclassified = run(jobs, google)
    assert n == 16082 * len(AI_AGENTS) * len(AI_PATHS)
    assert not unclassified, _report(unclassified)
    assert set(classified) <= DOCUMENTED
    assert classified == EXPECTED_AI_ERA


@pytest.mark.slow
def test_2019_corpus_urls_agree_with_google(google: Callable[[bytes, str, str], bool]) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    files = {
        r["site"]: r["robots_txt"]
        for r in pq.read_table(_need_data("robots-corpus-2019.parquet")).to_pylist()
    }
    by_site: dict[str, list[str]] = collections.defaultdict(list)
    for row in pq.read_table(_need_data("robots-corpus-2019-urls.parquet")).to_pylist():
        try:
            by_site[row["site"]].append(parse_url(row["url"]).path_query)
        except InvalidURL:
            continue
    jobs = [(s, files[s], AGENTS_2019, paths) for s, paths in by_site.items() if s in files]
    assert sum(len(paths) for _, _, _, paths in jobs) > 100_000
    _, classified, unclassified = run(jobs, google)
    assert not unclassified, _report(unclassified)
    assert set(classified) <= DOCUMENTED
    assert classified == EXPECTED_2019


def test_classifier_recognises_each_documented_deviation(
    google: Callable[[bytes, str, str], bool],
) -> None:
    """The classifier itself: each category on a minimal file (no corpus needed)."""
    big = b"User-agent: *\n" + b"#" * ROBOTS_PARSE_LIMIT + b"\nDisallow: /\n"
    html = b"<html>\nUser-agent: *\nDisallow: /\n"
    star = b"User-agent: *\nDisallow: /\n"
    cases = [
        (big, "x", "/a", "parse-limit"),
        (html, "x", "/a", "html-body"),
        (star, "x", "/robots.txt", "robots-txt-implicit-allow"),
        (b"User-agent: *\nDisallow: /b\n", "x", "/a/../b", "url-canonicalisation"),
        (b"User-agent: *\nDisallow: /a%2Fb\n", "x", "/a/b", "reserved-escape"),
        (b"User-agent: *\nDisallow: /a:b\n", "x", "/a%3Ab", "reserved-escape"),
    ]
    for body, agent, path, expected in cases:
        ours = parse_robots(body).match(agent, path).allowed
        theirs = google(body, agent, path)
        assert ours != theirs, expected
        v = _Variants(body, parse_robots(body))
        assert classify(v, agent, path, ours, theirs) == expected
