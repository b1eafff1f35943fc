"""The audit's decision loop (its one-agent shortcut included) agrees with ``Scanner.check_all``.

Every row of a manifest that mixes canonical URLs with ones the shortcut must leave to the
general path (escapes, fragments, a trailing ``?``, upper-case hosts, default ports, dot
segments, invalid rows, over-long URLs) is compared field by field with what the scanner
decides for the same URL against the same fake web.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tdmscan.audit import AuditConfig, AuditRunner, open_manifest
from tdmscan.audit.runner import canonical_flags, fast_path
from tdmscan.fakeweb import demo_sites_path, load_sites
from tdmscan.ledger import Ledger
from tdmscan.scanner import Scanner

FIELDS = (
    "url",
    "verdict",
    "reasons",
    "robots_branch",
    "robots_verdict",
    "robots_matched_line",
    "robots_matched_rule",
    "tdm_reservation",
    "tdm_source",
    "tdm_policy",
    "licences",
    "errors",
)

TAILS = [
    "/",
    "/articles/a.html",
    "/open/x",
    "/private/p",
    "/private/p?",
    "/private/%70",
    "/a/../private/q",
    "/img/a.jpg#frag",
    "/robots.txt",
    "/robots.txt?x=1",
    "/search?q=1",
    "/%7Euser/",
    "/caf\u00e9",
]


def _manifest(tmp_path: Path) -> tuple[Path, list[str]]:
    # Not the hanging host: its timeouts are another test's business, and slow.
    hosts = [s.host for s in load_sites(demo_sites_path()) if s.host != "slow.example"]
    lines = [f"http://{h}{t}" for h in hosts for t in TAILS]
    lines += [f"HTTP://{h.upper()}:80{t}" for h in hosts[:4] for t in TAILS[:4]]
    lines += ["ftp://nope.test/x", "not a url", "http://" + hosts[0] + "/" + "x" * 10_000]
    m = tmp_path / "m.txt"
    m.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return m, lines


def _ledger_rows(led: Ledger) -> list[dict[str, Any]]:
    con = led.connect()
    try:
        rel = con.sql(f"SELECT input_row, agent, {', '.join(FIELDS)} FROM decisions")
        return rel.to_arrow_table().to_pylist()
    finally:
        con.close()


def _as_row(d: Any) -> dict[str, Any]:
    """A Decision as the ledger columns in FIELDS hold it."""
    r = d.robots
    return {
        "url": d.url,
        "verdict": d.verdict,
        "reasons": list(d.reasons),
        "robots_branch": r.branch if r else None,
        "robots_verdict": r.verdict if r else None,
        "robots_matched_line": r.matched_line if r else None,
        "robots_matched_rule": r.matched_rule if r else None,
        "tdm_reservation": d.tdm_reservation,
        "tdm_source": d.tdm_source,
        "tdm_policy": d.tdm_policy,
        "licences": list(d.licences),
        "errors": list(d.errors),
    }


async def _expected(lines: list[str], agents: list[str]) -> dict[tuple[int, str], dict]:
    out: dict[tuple[int, str], dict] = {}
    async with Scanner(agents=agents, include_training_agents=False) as scanner:
        for i, url in enumerate(lines):
            for d in await scanner.check_all(url):
                out[(i, d.agent)] = d
    return out


@pytest.mark.parametrize("agents", [["tdmscan"], ["tdmscan", "GPTBot"]], ids=["one", "two"])
def test_audit_rows_equal_scanner_decisions(
    tmp_path: Path, demo_web: Any, fakeweb_env: Any, agents: list[str]
) -> None:
    fakeweb_env(demo_web)
    m, lines = _manifest(tmp_path)
    led = Ledger(tmp_path / "led")
    cfg = AuditConfig(agents=tuple(agents), timeout=3.0, workdir=tmp_path, fetch_process=False)
    AuditRunner(open_manifest(m), led, cfg, resume=False).run()
    got = _ledger_rows(led)
    assert len(got) == len(lines) * len(agents)
    want = asyncio.run(_expected(lines, agents))
    for row in got:
        d = want[(row["input_row"], row["agent"])]
        expected = _as_row(d)
        assert {k: row[k] for k in FIELDS} == expected, lines[row["input_row"]][:80]


def test_canonical_flags_agree_with_fast_path() -> None:
    import pyarrow as pa

    prefix = "http://a.test/"
    urls = [prefix + t.lstrip("/") for t in TAILS] + [
        prefix + "x" * 9000,
        prefix + "tab\there",
        prefix + "back\\slash",
        prefix + "ok?q=1",
    ]
    flags = canonical_flags(pa.array(urls, pa.string()))
    assert flags == [fast_path(u, prefix) is not None for u in urls]
    assert flags.count(True) >= 5 and flags.count(False) >= 5


CORPUS = Path(__file__).resolve().parents[1] / "fixtures"


def test_audit_of_real_urls_equals_scanner(tmp_path: Path, fakeweb: Any, fakeweb_env: Any) -> None:
    """20,000 real URLs of 1,265 sites (fixtures/, the 2019 corpus), each host serving
    its site's real robots.txt: every audit row equals Scanner.check_all for the same URL.
    Real paths (escapes, non-ASCII, queries, odd punctuation) exercise the shortcut and the
    general loop side by side. https is rewritten to http: the fake web does not do TLS."""
    import random

    import pyarrow.parquet as pq

    from tdmscan.fakeweb import Resp, Site
    from tdmscan.urls import InvalidURL, parse_url

    urls_file = CORPUS / "robots-corpus-2019-urls.parquet"
    robots_file = CORPUS / "robots-corpus-2019.parquet"
    assert urls_file.exists() and robots_file.exists(), "fixtures/ incomplete (fixtures/README.md)"
    robots = dict(
        zip(
            *(pq.read_table(robots_file).column(c).to_pylist() for c in ("site", "robots_txt")),
            strict=True,
        )
    )
    t = pq.read_table(urls_file)
    pairs = list(zip(t.column("site").to_pylist(), t.column("url").to_pylist(), strict=True))
    pairs = random.Random(11).sample(pairs, 20_000)
    lines: list[str] = []
    hosts: dict[str, bytes] = {}
    for site, url in pairs:
        if url.startswith("https://"):
            url = "http://" + url[len("https://") :]
        lines.append(url)
        try:
            host = parse_url(url).host
        except InvalidURL:
            continue
        if site in robots and robots[site] is not None:
            hosts.setdefault(host, robots[site])
    fw = fakeweb([Site(h, {"/robots.txt": Resp(body=body)}) for h, body in hosts.items()])
    fakeweb_env(fw)
    m = tmp_path / "m.txt"
    m.write_text("\n".join(lines) + "\n", encoding="utf-8")
    led = Ledger(tmp_path / "led")
    agents = ["GPTBot"]
    cfg = AuditConfig(agents=tuple(agents), timeout=5.0, workdir=tmp_path, fetch_process=False)
    AuditRunner(open_manifest(m), led, cfg, resume=False).run()
    got = _ledger_rows(led)
    assert len(got) == len(lines)
    want = asyncio.run(_expected(lines, agents))
    verdicts = set()
    for row in got:
        d = want[(row["input_row"], row["agent"])]
        verdicts.add(d.verdict)
        expected = _as_row(d)
        assert {k: row[k] for k in FIELDS} == expected, lines[row["input_row"]][:120]
    assert {"allowed", "reserved"} <= verdicts
