"""Every figure of every report reconciles with the scope it states (issue 15, items 1 and 2).

The ledger holds several runs of overlapping manifests: a conservative and a strict run with
different robots.txt (the same URLs decided twice), a run whose own product token is another
crawler, a --deep run whose page fetches change verdicts, and duplicate manifest rows. The
decisions are made by ``tdmscan.policy.decide`` from real robots.txt and page bytes and written
through the ledger writer. Each report's totals are checked against each other (allowed +
reserved + unknown + invalid = URLs checked, in the tables, the draft text and every format)
and against an independent count made in Python from the raw Parquet rows.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_reports import ROBOTS_A, ROBOTS_B, URLS, _fetched, raw, run_cli, table

from tdmscan.ledger import DecisionContext, Ledger, RunInfo
from tdmscan.policy import decide, parse_site
from tdmscan.reports import (
    Scope,
    build_crawlers,
    build_diff,
    build_domains,
    build_evidence,
    build_licences,
    render,
)
from tdmscan.types import Fetched, SiteFiles

UTC = dt.UTC
NOAI = b'<html><head><meta name="robots" content="noai"></head><body>x</body></html>'
CC_BY = (
    b'<html><head><link rel="license" href="https://creativecommons.org/licenses/by/4.0/">'
    b"</head></html>"
)
PLAIN = b"<html><head><title>t</title></head><body>x</body></html>"


def _run(
    led: Ledger,
    run_id: str,
    when: dt.datetime,
    robots: dict[str, Any],
    agents: list[str],
    *,
    mode: str = "conservative",
    urls: list[tuple[str, int | None]] = URLS,
    pages: dict[str, bytes] | None = None,
) -> None:
    run = RunInfo(
        kind="audit",
        run_id=run_id,
        agents=agents,
        user_agent=f"{agents[0]}/1.0",
        mode=mode,
        config={"command": "audit", "deep": pages is not None, "mode": mode},
        started_at=when,
    )
    sites = {}
    with led.writer(run, flush_seconds=None) as w:
        for host, spec in robots.items():
            files = SiteFiles(origin=f"http://{host}", robots=_fetched(host, spec))
            w.add_site(files)
            sites[host] = parse_site(files)
        for i, (url, size) in enumerate(urls):
            host = url.split("/")[2]
            page = None
            if pages is not None and url.startswith("http"):
                page = Fetched(
                    status=200,
                    url=url,
                    headers=(("content-type", "text/html"),),
                    body=pages.get(url, PLAIN),
                    fetched_at=when,
                )
                w.add_fetch(page, "page", f"http://{host}")
            for d in decide(url, agents, sites.get(host), page, mode=mode):
                w.add(
                    d,
                    DecisionContext(
                        source_kind="manifest_audit",
                        content_size=size,
                        input_row=i,
                        checked_at=when + dt.timedelta(seconds=i),
                    ),
                )


T1 = dt.datetime(2026, 1, 10, 12, tzinfo=UTC)
T2 = dt.datetime(2026, 2, 10, 12, tzinfo=UTC)
T3 = dt.datetime(2026, 3, 10, 12, tzinfo=UTC)
T4 = dt.datetime(2026, 4, 10, 12, tzinfo=UTC)
CATALOGUE = ["MyBot", "GPTBot", "CCBot", "ClaudeBot"]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    led = Ledger(tmp_path_factory.mktemp("mixed") / "ledger")
    # Conservative crawl with a catalogue of training tokens; a duplicate manifest row.
    _run(led, "cons", T1, ROBOTS_A, CATALOGUE, urls=[*URLS, URLS[0]])
    # Strict re-check of the same URLs with changed robots.txt.
    _run(led, "strict", T2, ROBOTS_B, ["MyBot", "GPTBot"], mode="strict")
    # Another crawler (own token OtherBot) on part of the URLs plus a new one.
    _run(
        led,
        "other",
        T3,
        ROBOTS_A,
        ["OtherBot", "GPTBot"],
        urls=[*URLS[:5], ("http://open.test/new", 77)],
    )
    # A --deep run: page fetches, one page carrying noai.
    _run(
        led,
        "deep",
        T4,
        ROBOTS_A,
        ["MyBot"],
        urls=URLS[:4],
        pages={"http://open.test/b": NOAI, "http://open.test/c": CC_BY},
    )
    return led


SCOPES = [
    Scope(),
    Scope(mode="conservative"),
    Scope(mode="strict"),
    Scope(run_ids=("cons", "strict")),
    Scope(run_ids=("cons",)),
    Scope(since=T2, until=T4),
    Scope(run_ids=("deep",)),
]


def _scope_where(s: Scope) -> str:
    parts = ["true"]
    if s.run_ids:
        parts.append("run_id IN (" + ", ".join(f"'{r}'" for r in s.run_ids) + ")")
    if s.since:
        parts.append(f"checked_at >= TIMESTAMPTZ '{s.since.isoformat()}'")
    if s.until:
        parts.append(f"checked_at < TIMESTAMPTZ '{s.until.isoformat()}'")
    if s.mode:
        parts.append(f"mode = '{s.mode}'")
    return " AND ".join(parts)


def independent(led: Ledger, s: Scope) -> dict[str, Any]:
    """The counting rule done in Python over raw rows: each URL once, latest own-token decision."""
    own = _runs_own_token(led)
    rows = raw(
        led,
        "SELECT url, run_id, agent, verdict, checked_at, decision_id, registrable_domain, "
        f"page_checked FROM D WHERE {_scope_where(s)}",
    )
    latest: dict[str, tuple[Any, ...]] = {}
    for url, run_id, agent, verdict, at, did, dom, paged in rows:
        if own.get(run_id) not in (None, agent):
            continue
        key = (at, did)
        if url not in latest or key > latest[url][0]:
            latest[url] = (key, verdict, dom, bool(paged))
    verdicts = Counter(v for _, v, _, _ in latest.values())
    return {
        "urls_checked": len(latest),
        **{v: verdicts.get(v, 0) for v in ("allowed", "reserved", "unknown", "invalid")},
        "urls_page_checked": sum(1 for *_, p in latest.values() if p),
        "allowed_site_level_only": sum(
            1 for _, v, _, p in latest.values() if v == "allowed" and not p
        ),
        "registrable_domains": len({d for _, _, d, _ in latest.values() if d is not None}),
        "reserved_by_domain": Counter(d for _, v, d, _ in latest.values() if v == "reserved"),
        "decisions": len(rows),
    }


def _runs_own_token(led: Ledger) -> dict[str, str | None]:
    con = led.connect()
    try:
        return {
            r: (a[0] if a else None)
            for r, a in con.execute("SELECT run_id, agents FROM runs").fetchall()
        }
    finally:
        con.close()


def _num(text: str, pattern: str) -> int:
    m = re.search(pattern, text)
    assert m, (pattern, text)
    return int(m.group(1).replace(",", ""))


@pytest.mark.parametrize("scope", SCOPES, ids=lambda s: s.describe())
def test_evidence_figures_reconcile(mixed: Ledger, scope: Scope) -> None:
    rep = build_evidence(mixed, scope)
    exp = independent(mixed, scope)
    key = table(rep, "evidence_summary")[0]
    verdicts = ("allowed", "reserved", "unknown", "invalid")

    # The key figures are the independent count, and the verdicts add up.
    for k in ("urls_checked", *verdicts, "urls_page_checked", "allowed_site_level_only"):
        assert key[k] == exp[k], k
    assert key["registrable_domains"] == exp["registrable_domains"]
    assert sum(key[v] for v in verdicts) == key["urls_checked"]

    # Every other table counts the same URLs.
    period = table(rep, "evidence_period")[0]
    assert period["urls"] == key["urls_checked"]
    assert period["decisions"] == exp["decisions"]
    totals = {r["verdict"]: r for r in table(rep, "evidence_verdict_totals")}
    assert {v: totals[v]["urls"] for v in verdicts} == {v: key[v] for v in verdicts}
    assert sum(r["decisions_all_agents"] for r in totals.values()) == period["decisions"]
    assert sum(r["decisions_own_token"] for r in totals.values()) == period["decisions_own_token"]
    branches = table(rep, "evidence_robots_branches")
    assert sum(b["urls"] for b in branches) == key["urls_checked"]
    reserved = table(rep, "evidence_reserved_domains")
    assert sum(d["urls_reserved"] for d in reserved) == key["reserved"]
    assert {d["domain"]: d["urls_reserved"] for d in reserved} == dict(exp["reserved_by_domain"])
    assert len(reserved) == key["domains_with_reserved_urls"]
    unknowns = table(rep, "evidence_unknowns")
    for v in ("unknown", "invalid"):
        assert sum(r["urls"] for r in unknowns if r["verdict"] == v) == key[v]
    for row in table(rep, "evidence_verdicts_by_agent"):
        assert sum(row[v] for v in verdicts) == row["urls"], row
        assert row["tokens"] == len(row["agent_list"].split(", "))
    coverage = table(rep, "scope_page_coverage")[0]
    assert coverage["urls_checked"] == key["urls_checked"]
    assert coverage["urls_allowed_site_level_only"] == key["allowed_site_level_only"]
    for s in table(rep, "evidence_sample"):
        assert s["run_id"] in {r for r in scope.run_ids} or not scope.run_ids

    # The draft text states the same figures, in every format.
    doc = json.loads(render(rep, "json"))
    draft = next(s for s in doc["sections"] if s["id"] == "draft")["paragraphs"]
    d23, d31 = draft
    assert _num(d23, r"\(viii\) ([\d,]+) URLs? on") == key["urls_checked"]
    assert _num(d23, r"on ([\d,]+) registrable domains?") == key["registrable_domains"]
    assert _num(d31, r"Of the ([\d,]+) URLs? checked") == key["urls_checked"]
    assert _num(d31, r"checked, ([\d,]+) were allowed") == key["allowed"]
    assert _num(d31, r"([\d,]+) were excluded") == key["reserved"]
    assert _num(d31, r"([\d,]+) were not used") == key["unknown"]
    assert _num(d31, r"([\d,]+) were not valid") == key["invalid"]
    assert _num(d31, r"on ([\d,]+) registrable domains?, see") == len(reserved)
    summary = next(s for s in doc["sections"] if s["id"] == "summary")["paragraphs"]
    assert f"{key['urls_checked']:,} URL" in summary[1]
    assert any(p.startswith("Counting rule:") for p in summary)
    md, html = render(rep, "md"), render(rep, "html")
    for p in (d31, summary[1]):
        assert p[:60] in md.replace("\\", "") and p[:60] in html

    # Never a claim about pages beyond what was checked.
    if key["urls_page_checked"] == 0:
        assert "were not read" in d23
        assert "were not read" in summary[2]
        assert f"All {key['allowed']:,} allowed URL" in summary[2]
        assert "meta robots" not in d23.split("At site level")[1].split("were not read")[0]
    else:
        assert f"read for {key['urls_page_checked']:,} of the" in summary[2]
        assert f"{key['allowed_site_level_only']:,} of the {key['allowed']:,} allowed" in d23


@pytest.mark.parametrize("scope", SCOPES[:4], ids=lambda s: s.describe())
def test_domains_report_reconciles_with_evidence(mixed: Ledger, scope: Scope) -> None:
    key = table(build_evidence(mixed, scope), "evidence_summary")[0]
    dom = build_domains(mixed, scope)
    s = table(dom, "domains_summary")[0]
    assert s["urls_checked"] == key["urls_checked"]
    assert s["urls_retained"] == key["allowed"]
    assert s["domains_checked"] == key["registrable_domains"]
    assert table(dom, "scope_page_coverage")[0]["urls_allowed"] == key["allowed"]
    doc = json.loads(render(dom, "json"))
    paras = " ".join(doc["sections"][0]["paragraphs"])
    assert "Counting rule:" in paras and "Page-level signals" in paras


def test_crawlers_and_licences_reconcile(mixed: Ledger) -> None:
    everything = table(build_evidence(mixed), "evidence_summary")[0]
    crawlers = build_crawlers(mixed)
    rows = table(crawlers, "crawlers")
    assert sum(r["runs"] for r in rows) == 4
    assert sum(r["decisions"] for r in rows) == raw(mixed, "SELECT count(*) FROM D")[0][0]
    # One configuration per (User-Agent, tokens, purpose, mode, deep): four here.
    assert {(r["own_token"], r["mode"], r["page_signals_checked"]) for r in rows} == {
        ("MyBot", "conservative", False),
        ("MyBot", "strict", False),
        ("OtherBot", "conservative", False),
        ("MyBot", "conservative", True),
    }
    cov = table(crawlers, "scope_page_coverage")[0]
    assert cov["urls_checked"] == everything["urls_checked"]
    assert cov["urls_allowed_site_level_only"] == everything["allowed_site_level_only"]
    licences = build_licences(mixed)
    assert table(licences, "scope_page_coverage")[0] == cov
    # Licences found on the web count each URL once, by the same rule: open.test/c carries
    # CC-BY-4.0 in its page, read by the --deep run, which is its latest own-token decision.
    web = {r["spdx"]: r for r in table(licences, "licences_web")}
    assert web["CC-BY-4.0"]["urls"] == 1 and web["CC-BY-4.0"]["domains"] == 1
    assert sum(r["urls"] for r in web.values()) <= everything["urls_page_checked"]


def test_diff_figures_reconcile(mixed: Ledger) -> None:
    rep = build_diff(mixed, "cons", "strict")
    summary = {r["change"]: r for r in table(rep, "diff_summary")}
    n_pairs = raw(
        mixed,
        "SELECT count(*) FROM (SELECT DISTINCT url, agent, purpose FROM D "
        "WHERE run_id IN ('cons', 'strict'))",
    )[0][0]
    assert sum(r["pairs"] for r in summary.values()) == n_pairs
    domains = table(rep, "diff_domains")
    changes = table(rep, "diff_changes")
    for kind in (
        "became_reserved",
        "became_allowed",
        "became_unknown",
        "became_invalid",
        "reason_changed",
    ):
        assert sum(d[kind] for d in domains) == summary[kind]["pairs"], kind
        assert sum(1 for c in changes if c["change"] == kind) == summary[kind]["pairs"], kind
    # CCBot and ClaudeBot were evaluated only in the conservative run.
    assert summary["only_in_a"]["pairs"] == 2 * len({u for u, _ in URLS})
    doc = json.loads(render(rep, "json"))
    paras = doc["sections"][0]["paragraphs"]
    assert f"add up to the {n_pairs:,} pairs compared" in paras[0]
    assert sum("Page-level signals were not read" in p for p in paras) == 2
    # One term for each kind of change, in every output of the command.
    for fmt in ("table", "json", "csv"):
        r = run_cli("diff", "cons", "strict", "--ledger", mixed.root, "--format", fmt)
        assert r.exit_code == 0, r.output
        assert "undecided" not in r.output
        if fmt != "csv":
            # What the user reads says how pairs are counted and what the runs read of pages.
            assert "Counting rule" in r.output and "Page-level signals" in r.output, fmt


def test_deep_run_page_coverage_counts_pages(mixed: Ledger) -> None:
    key = table(build_evidence(mixed, Scope(run_ids=("deep",))), "evidence_summary")[0]
    assert key["urls_checked"] == 4 and key["urls_page_checked"] == 4
    assert key["allowed_site_level_only"] == 0
    # The noai page is reserved only because its page was read.
    ev = build_evidence(mixed, Scope(run_ids=("deep",)))
    reasons = {r["reason"] for r in table(ev, "evidence_reasons")}
    assert any(r.startswith(("meta", "robots-meta", "noai")) for r in reasons), reasons


def test_cli_mode_scope(mixed: Ledger, tmp_path: Path) -> None:
    r = run_cli(
        "report", "evidence", "--ledger", mixed.root, "--mode", "strict", "--format", "json"
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    key = next(
        t["rows"][0]
        for s in doc["sections"]
        for t in s["tables"]
        if t["query"] == "evidence_summary"
    )
    assert key["policy_modes"] == "strict" and key["runs"] == 1
    r = run_cli("report", "evidence", "--ledger", mixed.root, "--mode", "lenient")
    assert r.exit_code == 2
