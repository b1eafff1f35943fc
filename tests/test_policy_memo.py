"""SiteDecider (page-less decisions memoised per selection) must equal decide() exactly.

The audit's hot path decides each distinct selection once and shares the Decision among URLs;
any path-dependent input the selection misses would hand one URL another URL's verdict, so
every site shape we know of is compared field by field with a fresh ``decide``.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import pytest

from tdmscan.fakeweb.spec import load_sites
from tdmscan.policy import SiteDecider, decide, parse_site
from tdmscan.types import Fetched, SiteFiles
from tdmscan.urls import InvalidURL, parse_url

DEMO = Path(__file__).resolve().parents[1] / "src/tdmscan/fakeweb/demo_sites.json"
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "robots-corpus-ai-era.parquet"

AGENT_SETS = [("tdmscan",), ("GPTBot", "CCBot", "tdmscan", "Googlebot")]
SETTINGS = [("train-ai", "conservative"), ("train-ai", "strict"), ("search", "conservative")]

GENERIC_PATHS = [
    "/",
    "/index.html",
    "/robots.txt",
    "/robots.txt?x=1",
    "/a/b/c.html",
    "/private/x",
    "/search?q=1",
    "/articles/2024/story.html",
    "/open/data.csv",
    "/img/photo.jpg",
    "/%7Euser/page",
    "/caf%C3%A9/menu",
    "/x?y=%2F",
    "/page/1.html",
    "/page/2.html",
    "/page/3.html",
]


def _fetched(origin: str, path: str, status: int, body: str | bytes, headers=()) -> Fetched:
    return Fetched(status=status, body=body, headers=headers, url=origin + path)


def _site_files(origin: str, bodies: dict[str, tuple[int, str | bytes]]) -> SiteFiles:
    def one(path: str) -> Fetched:
        status, body = bodies.get(path, (404, "not found"))
        return _fetched(origin, path, status, body)

    return SiteFiles(
        origin=origin,
        robots=one("/robots.txt"),
        tdmrep=one("/.well-known/tdmrep.json"),
        ai_txt=one("/ai.txt"),
    )


def _paths_from_rules(text: str) -> list[str]:
    """Paths that hit, miss and straddle the file's own patterns."""
    out: list[str] = []
    for m in re.finditer(r"(?im)^\s*(?:dis)?allow\s*:\s*(\S+)", text):
        pat = m.group(1)
        if not pat.startswith("/"):
            continue
        base = pat.replace("*", "x").rstrip("$")
        out += [base, base + "more", base.rstrip("/") or "/", base + "?q=1"]
    return out[:40]


def _check(site, paths: list[str], origin: str) -> tuple[int, int]:
    """Compare for every agent set and setting; returns (urls, templates) of the last pass."""
    parsed = []
    for p in paths:
        try:
            parsed.append(parse_url(origin + p))
        except InvalidURL:
            continue
    urls = templates = 0
    for agents in AGENT_SETS:
        for purpose, mode in SETTINGS:
            memo = SiteDecider(site, agents, purpose=purpose, mode=mode)
            # index_one (the audit's one-agent path) on its own decider, so its shortcut
            # creates templates itself instead of finding index()'s.
            one = SiteDecider(site, agents, purpose=purpose, mode=mode)
            for u in parsed:
                got = memo.decisions(u)
                want = decide(u, agents, site, purpose=purpose, mode=mode)
                assert got == want, (origin, u.url, agents, purpose, mode)
                for k in range(len(agents)):
                    d = one.templates[one.index_one(k, u.path_query, u)]
                    d = d if d.url == u.url else replace(d, url=u.url)
                    assert d == want[k], (origin, u.url, agents[k], purpose, mode)
            urls, templates = len(parsed) * len(agents), len(memo.templates)
    return urls, templates


def _demo_sites() -> list[tuple[str, object, list[str]]]:
    sites = load_sites(DEMO)
    by_host = {s.host: s for s in sites}
    out = []
    for s in sites:
        origin = f"http://{s.host}"

        def get(path: str, s=s, origin=origin) -> Fetched:
            r = s.lookup(path)
            return _fetched(origin, path, r.status, r.body, r.headers)

        files = SiteFiles(
            origin=origin,
            robots=get("/robots.txt"),
            tdmrep=get("/.well-known/tdmrep.json"),
            ai_txt=get("/ai.txt"),
        )
        site = parse_site(files)
        docs = {}
        for agent in ("tdmscan", "GPTBot", "CCBot", "*"):
            for u in site.rsl_urls(agent):
                p = parse_url(u)
                other = by_host.get(p.host)
                if other is not None:
                    r = other.lookup(p.path_query)
                    docs[u] = _fetched(p.origin, p.path_query, r.status, r.body)
        site = parse_site(files, docs)
        paths = (
            GENERIC_PATHS
            + list(s.routes)
            + _paths_from_rules(
                files.robots.body.decode("utf-8", "replace") if files.robots else ""
            )
        )
        out.append((origin, site, paths))
    return out


@pytest.mark.parametrize("case", _demo_sites(), ids=lambda c: c[0])
def test_demo_sites_memo_equals_decide(case):
    origin, site, paths = case
    _check(site, paths, origin)


TRICKY = {
    "proxy-training-group": {
        "/robots.txt": (
            200,
            "User-agent: *\nAllow: /\nDisallow: /private/\n\n"
            "User-agent: GPTBot\nDisallow: /articles/\nAllow: /articles/open/\n\n"
            "User-agent: CCBot\nDisallow: /*.jpg$\n",
        )
    },
    "content-usage-paths": {
        "/robots.txt": (
            200,
            "User-agent: *\nAllow: /\nContent-Usage: train-ai=y\n"
            "Content-Usage: /articles/ train-ai=n\nContent-Usage: /articles/open/ train-ai=y\n"
            "Content-Usage: /img/ ai=n\nDisallow: /private/\n",
        )
    },
    "content-signal": {
        "/robots.txt": (
            200,
            "User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n"
            "User-agent: GPTBot\nContent-Signal: ai-train=yes\nDisallow: /a/\n",
        )
    },
    "tdmrep-shadowing": {
        "/robots.txt": (404, ""),
        "/.well-known/tdmrep.json": (
            200,
            '[{"location": "/articles/*", "tdm-reservation": 0},'
            ' {"location": "/articles/paid/", "tdm-reservation": 1,'
            ' "tdm-policy": "https://x.test/p.json"},'
            ' {"location": "/img/", "tdm-reservation": "1"},'
            ' {"location": ".*", "tdm-reservation": 1}]',
        ),
    },
    "ai-txt": {
        "/robots.txt": (200, "User-agent: *\nDisallow: /private/\n"),
        "/ai.txt": (200, "User-agent: *\nDisallow: /img/\nAllow: /img/free/\nDisallow: *.csv\n"),
    },
    "ai-txt-unrecognised": {"/ai.txt": (200, "<html>not an ai.txt</html>")},
    "robots-unreachable": {
        "/robots.txt": (503, "busy"),
        "/.well-known/tdmrep.json": (200, '[{"location": "/open/", "tdm-reservation": 0}]'),
        "/ai.txt": (200, "User-agent: *\nDisallow: /img/\n"),
    },
    "robots-redirect": {"/robots.txt": (302, "")},
    "rsl": {
        "/robots.txt": (
            200,
            "License: https://rsl.test/licence.xml\nUser-agent: *\nAllow: /\n",
        )
    },
    "escapes-and-anchors": {
        "/robots.txt": (
            200,
            "User-agent: *\nDisallow: /%7Euser/\nDisallow: /caf\u00e9/\nAllow: /*?y=$\n"
            "Disallow: /x?\nDisallow: /page/2\n",
        )
    },
}

RSL_DOC = b"""<rsl xmlns="https://rslstandard.org/rsl">
  <content url="/articles/*"><license><prohibits type="usage">train-ai</prohibits></license>
  </content>
  <content url="/open/"><license><permits type="usage">all</permits></license></content>
  <content url="/img/*.jpg"><license><payment type="purchase"/></license></content>
</rsl>"""


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_tricky_sites_memo_equals_decide(name):
    origin = f"https://{name}.test"
    files = _site_files(origin, TRICKY[name])
    docs = {}
    if name == "rsl":
        docs["https://rsl.test/licence.xml"] = Fetched(
            status=200, body=RSL_DOC, url="https://rsl.test/licence.xml"
        )
    site = parse_site(files, docs)
    text = files.robots.body.decode() if files.robots else ""
    paths = (
        GENERIC_PATHS
        + _paths_from_rules(text)
        + [
            "/articles/open/x",
            "/articles/paid/x",
            "/articles/a.html",
            "/img/free/a.jpg",
            "/img/a.jpg",
            "/data/x.csv",
            "/a/",
            "/page/20",
            "/x?y=",
        ]
    )
    urls, templates = _check(site, paths, origin)
    # The memo has to be exercised: many URLs, few distinct outcomes.
    assert templates < urls


def test_no_site_and_invalid_inputs():
    memo = SiteDecider(None, ["tdmscan", "GPTBot"])
    u = parse_url("https://nosite.test/a")
    assert memo.decisions(u) == decide(u, ["tdmscan", "GPTBot"], None)
    with pytest.raises(ValueError):
        SiteDecider(None, ["x"], mode="lenient")
    with pytest.raises(ValueError):
        SiteDecider(None, ["x"], purpose="fun")


def test_templates_are_shared_and_urls_kept():
    files = _site_files("https://s.test", {"/robots.txt": (200, "User-agent: *\nDisallow: /p/\n")})
    site = parse_site(files)
    memo = SiteDecider(site, ["tdmscan"])
    a = memo.index(parse_url("https://s.test/p/1"))
    b = memo.index(parse_url("https://s.test/p/2"))
    c = memo.index(parse_url("https://s.test/q"))
    assert a == b != c
    assert len(memo.templates) == 2
    # Only the robots.txt rule varies here: index_one takes its shortcut, same answers.
    assert memo._fast[0]
    assert [memo.index_one(0, p, parse_url("https://s.test" + p)) for p in ("/p/3", "/q")] == [
        a[0],
        c[0],
    ]
    d = memo.decisions(parse_url("https://s.test/p/2"))[0]
    assert d.url == "https://s.test/p/2" and d.verdict == "reserved"


def test_real_robots_files_memo_equals_decide():
    import pyarrow.parquet as pq

    table = pq.read_table(CORPUS, columns=["site", "robots_txt"])
    rnd = random.Random(7)
    rows = rnd.sample(range(table.num_rows), 150)
    sites = table.column("site").take(rows).to_pylist()
    bodies = table.column("robots_txt").take(rows).to_pylist()
    for host, body in zip(sites, bodies, strict=True):
        origin = f"https://{host}" if "://" not in str(host) else str(host).rstrip("/")
        try:
            parse_url(origin + "/")
        except InvalidURL:
            origin = "https://corpus.test"
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
        files = _site_files(origin, {"/robots.txt": (200, text)})
        site = parse_site(files)
        _check(site, GENERIC_PATHS + _paths_from_rules(text), origin)
