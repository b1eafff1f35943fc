"""Reports for legal (issue 6): every number checked against an independent count.

The ledgers here are planted through the ledger writer with decisions that
``tdmscan.policy.decide`` made from real robots.txt bytes; the independent counts read the
Parquet files directly (``read_parquet``), never through the report SQL.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import itertools
import json
import math
import os
import xml.etree.ElementTree as ET
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from tdmscan.cli import main
from tdmscan.ledger import DecisionContext, Ledger, RunInfo
from tdmscan.policy import decide, parse_site
from tdmscan.reports import (
    Scope,
    atom_feed,
    build_crawlers,
    build_diff,
    build_domains,
    build_evidence,
    build_licences,
    render,
    top_domain_count,
)
from tdmscan.types import Fetched, SiteFiles

UTC = dt.UTC
AGENTS = ["MyBot", "GPTBot"]
UA = "MyBot/2.0 (+https://example.org/bot)"
HOSTILE = "<script>alert(1)</script>"

# Run A (crawl time) and run B (re-check before training): robots.txt per host.
ROBOTS_A: dict[str, Any] = {
    "open.test": 404,
    "news.test": "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n",
    "shop.test": "User-agent: *\nDisallow: /cart/\n",
    "down.test": 503,
    "evil.test": f"# {HOSTILE}\nUser-agent: *\nDisallow: /private/{HOSTILE}\nDisallow: /x\n",
}
ROBOTS_B: dict[str, Any] = {
    **ROBOTS_A,
    "open.test": "User-agent: *\nDisallow: /a\n",  # /a becomes reserved
    "shop.test": "User-agent: *\nAllow: /\n",  # /cart/1 becomes allowed
    "news.test": "User-agent: *\nDisallow: /\n",  # reserved before and after, other reason
}
URLS: list[tuple[str, int | None]] = [
    ("http://open.test/a", 1000),
    ("http://open.test/b", 2000),
    ("http://open.test/c", None),
    ("http://news.test/x", 700),
    ("http://news.test/y", 800),
    ("http://shop.test/cart/1", 50),
    ("http://shop.test/item/1", 5000),
    ("http://shop.test/item/2", 300),
    ("http://down.test/p", 10),
    ("http://evil.test/x/1", 99),
    ("http://evil.test/ok", 4),
    (f"http://evil.test/private/{HOSTILE}", 12),
    ("ftp://nope.test/file", None),
]
DAY_A = dt.datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
DAY_B = dt.datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def _fetched(host: str, spec: Any) -> Fetched:
    url = f"http://{host}/robots.txt"
    if isinstance(spec, int):
        return Fetched(status=spec, url=url)
    return Fetched(status=200, body=spec.encode(), url=url)


def write_run(
    ledger: Ledger,
    robots: dict[str, Any],
    when: dt.datetime,
    *,
    run_id: str,
    user_agent: str | None = UA,
    agents: list[str] = AGENTS,
    deep: bool = False,
    urls: list[tuple[str, int | None]] = URLS,
) -> None:
    """One run: site files stored as fetches/snapshots, decisions from the real policy."""
    run = RunInfo(
        kind="audit",
        run_id=run_id,
        agents=agents,
        user_agent=user_agent,
        config={"command": "audit", "deep": deep},
        started_at=when,
    )
    sites = {}
    with ledger.writer(run, flush_seconds=None) as w:
        for host, spec in robots.items():
            files = SiteFiles(origin=f"http://{host}", robots=_fetched(host, spec))
            w.add_site(files)
            sites[host] = parse_site(files)
        for i, (url, size) in enumerate(urls):
            host = url.split("/")[2]
            for d in decide(url, agents, sites.get(host)):
                w.add(
                    d,
                    DecisionContext(
                        source_kind="manifest_audit",
                        content_size=size,
                        input_row=i,
                        checked_at=when + dt.timedelta(seconds=i),
                    ),
                )


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    led = Ledger(tmp_path_factory.mktemp("planted") / "ledger")
    write_run(led, ROBOTS_A, DAY_A, run_id="run-a")
    write_run(led, ROBOTS_B, DAY_B, run_id="run-b")
    return led


# -- independent counts ------------------------------------------------------------------------


def raw(led: Ledger, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` with ``D`` bound to the raw decisions Parquet (no views, no report SQL)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        glob = os.path.join(led.root, "decisions", "*", "*", "*.parquet").replace("'", "''")
        con.execute(
            f"CREATE VIEW D AS SELECT * FROM read_parquet('{glob}', union_by_name = true, "
            "hive_partitioning = false) WHERE run_id IS NOT NULL"
        )
        return con.execute(sql).fetchall()
    finally:
        con.close()


def table(report: Any, query: str) -> list[dict[str, Any]]:
    doc = json.loads(render(report, "json"))
    for s in doc["sections"]:
        for t in s["tables"]:
            if t["query"] == query:
                return t["rows"]
    raise KeyError(query)


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- evidence report -------------------------------------------------------------------------


def test_evidence_numbers_match_independent_counts(planted: Ledger) -> None:
    rep = build_evidence(planted, Scope(run_ids=("run-a",)))
    where = "run_id = 'run-a'"

    period = table(rep, "evidence_period")[0]
    (n, n_own, urls, origins, doms) = raw(
        planted,
        "SELECT count(*), count(*) FILTER (WHERE agent = 'MyBot'), count(DISTINCT url), "
        f"count(DISTINCT origin), count(DISTINCT registrable_domain) FROM D WHERE {where}",
    )[0]
    assert (period["decisions"], period["decisions_own_token"]) == (n, n_own) == (26, 13)
    assert (period["urls"], period["origins"], period["registrable_domains"]) == (
        urls,
        origins,
        doms,
    )

    totals = {r["verdict"]: r for r in table(rep, "evidence_verdict_totals")}
    expect = dict(
        raw(
            planted, f"SELECT verdict, count(*) FROM D WHERE {where} AND agent = 'MyBot' GROUP BY 1"
        )
    )
    expect_all = dict(raw(planted, f"SELECT verdict, count(*) FROM D WHERE {where} GROUP BY 1"))
    for v in ("allowed", "reserved", "unknown", "invalid"):
        assert totals[v]["decisions_own_token"] == expect.get(v, 0), v
        assert totals[v]["decisions_all_agents"] == expect_all.get(v, 0), v
    # The planted content itself: down.test unknown, ftp invalid, reservations on 3 hosts.
    assert expect == {"allowed": 6, "reserved": 5, "unknown": 1, "invalid": 1}

    by_agent = {
        a: r for r in table(rep, "evidence_verdicts_by_agent") for a in r["agent_list"].split(", ")
    }
    for agent, verdict, count in raw(
        planted, f"SELECT agent, verdict, count(*) FROM D WHERE {where} GROUP BY ALL"
    ):
        assert by_agent[agent][verdict] == count
    assert by_agent["MyBot"]["own_token"] is True and by_agent["GPTBot"]["own_token"] is False

    reasons = {r["reason"]: r for r in table(rep, "evidence_reasons")}
    expect_r = raw(
        planted,
        "SELECT r, count(DISTINCT url) FILTER (WHERE agent = 'MyBot'), count(*) FROM "
        f"(SELECT agent, url, unnest(reasons) AS r FROM D WHERE {where}) GROUP BY r",
    )
    assert set(reasons) == {r for r, _, _ in expect_r}
    for r, own, every in expect_r:
        assert (reasons[r]["urls"], reasons[r]["decisions_all_agents"]) == (
            own,
            every,
        )

    branches = {r["branch"]: r for r in table(rep, "evidence_robots_branches")}
    assert set(branches) == {
        "parsed",
        "4xx-allow",
        "unreachable",
        "stale-copy",
        "redirect-limit",
        "absent",
        "(none)",
    }
    for b, n_dec, n_orig in raw(
        planted,
        "SELECT coalesce(robots_branch, '(none)'), count(*), count(DISTINCT origin) "
        f"FROM D WHERE {where} AND agent = 'MyBot' GROUP BY 1",
    ):
        assert branches[b]["urls"] == n_dec
        assert branches[b]["origins"] == n_orig
    assert branches["4xx-allow"]["urls"] == 3
    assert branches["unreachable"]["urls"] == 1
    assert branches["stale-copy"]["urls"] == 0

    reserved = {r["domain"]: r for r in table(rep, "evidence_reserved_domains")}
    expect_d = raw(
        planted,
        "SELECT registrable_domain, count(DISTINCT url) FROM D WHERE verdict = 'reserved' AND "
        + where
        + " AND agent = 'MyBot' GROUP BY 1",
    )
    assert set(reserved) == {d for d, _ in expect_d} == {"news.test", "shop.test", "evil.test"}
    for d, own in expect_d:
        assert reserved[d]["urls_reserved"] == own

    unknowns = table(rep, "evidence_unknowns")
    assert (
        sum(r["urls"] for r in unknowns)
        == raw(
            planted,
            f"SELECT count(*) FROM D WHERE {where} AND agent = 'MyBot' AND "
            "(verdict IN ('unknown', 'invalid') OR len(errors) > 0)",
        )[0][0]
    )

    protocols = {r["protocol"]: r for r in table(rep, "evidence_protocols")}
    assert protocols["robots"]["tier"].startswith("mandatory")
    assert protocols["robots"]["spec_version"] == "RFC 9309"
    assert (
        protocols["robots"]["urls_reserved"]
        == raw(
            planted,
            f"SELECT count(DISTINCT url) FROM (SELECT url, unnest(evidence) e FROM D WHERE {where} "
            "AND agent = 'MyBot') WHERE e.protocol = 'robots' AND e.interpretation = 'reserved'",
        )[0][0]
    )

    crawlers = table(rep, "evidence_crawlers")
    assert [(c["user_agent"], c["own_token"], c["token_list"]) for c in crawlers] == [
        (UA, "MyBot", "MyBot, GPTBot")
    ]

    chain = table(rep, "evidence_chain")[0]
    assert chain["chain_head"] == planted.head()
    integrity = table(rep, "evidence_integrity")[0]
    assert integrity["snapshots_hash_mismatch"] == 0
    assert integrity["decisions_robots_copy_missing"] == 0


def test_evidence_sample_rests_on_stored_bytes(planted: Ledger) -> None:
    rep = build_evidence(planted, Scope(run_ids=("run-a",)), sample_per_group=5)
    sample = table(rep, "evidence_sample")
    assert sample, "the sample is empty"
    con = planted.connect()
    bodies = dict(con.execute("SELECT sha256, body FROM snapshots").fetchall())
    con.close()
    with_line = 0
    for s in sample:
        assert s["agent"] == "MyBot"
        if s["robots_sha256"]:
            body = bodies[s["robots_sha256"]]
            assert hashlib.sha256(body).hexdigest() == s["robots_sha256"]
            assert s["robots_snapshot_verified"] is True
        if s["robots_matched_line"]:
            line = body.decode().splitlines()[s["robots_matched_line"] - 1]
            assert s["robots_line_in_snapshot"] == line
            assert line == s["robots_matched_rule"]
            with_line += 1
    assert with_line >= 2
    # Every (verdict, first reason, branch) group is represented.
    groups = raw(
        planted,
        "SELECT DISTINCT verdict, coalesce(reasons[1], ''), coalesce(robots_branch, '') "
        "FROM D WHERE run_id = 'run-a' AND agent = 'MyBot'",
    )
    assert len(
        {
            (s["verdict"], (s["reasons"] or "").split(", ")[0], s["robots_branch"] or "")
            for s in sample
        }
    ) == len(groups)


def test_evidence_period_scope(planted: Ledger) -> None:
    only_b = build_evidence(planted, Scope(since=dt.datetime(2026, 3, 1, tzinfo=UTC)))
    assert table(only_b, "evidence_period")[0]["runs"] == 1
    assert {r["run_id"] for r in table(only_b, "evidence_runs")} == {"run-b"}
    both = build_evidence(planted)
    assert (
        table(both, "evidence_period")[0]["decisions"]
        == raw(planted, "SELECT count(*) FROM D")[0][0]
    )
    # --until DATE includes the whole day.
    r = run_cli(
        "report",
        "evidence",
        "--ledger",
        planted.root,
        "--until",
        "2026-01-10",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    period = next(
        t["rows"][0]
        for s in doc["sections"]
        for t in s["tables"]
        if t["query"] == "evidence_period"
    )
    assert period["decisions"] == 26


def test_evidence_html_is_self_contained_and_escaped(planted: Ledger) -> None:
    html = render(build_evidence(planted, sample_per_group=50), "html")
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for needle in ("http://", "https://"):
        # Only text content may mention URLs: no src/href pointing off the page.
        assert f'src="{needle}' not in html and f'href="{needle}' not in html
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "Content-Security-Policy" in html
    assert html.count("<svg") >= 3
    assert "DRAFT FOR LEGAL REVIEW" in html
    # Every table links to its query, and every query is in the appendix.
    rep = build_evidence(planted, sample_per_group=50)
    for t in rep.tables():
        assert f'href="#q-{t.query}"' in html
        assert f'id="q-{t.query}"' in html
    md = render(rep, "md")
    assert HOSTILE not in md and "\\<script\\>" in md


def test_report_sql_reruns_in_plain_duckdb(planted: Ledger) -> None:
    rep = build_evidence(planted, Scope(run_ids=("run-a",)))
    script = render(rep, "sql")
    con = duckdb.connect()
    con.execute(script)
    for q in ("evidence_verdict_totals", "evidence_reasons", "evidence_reserved_domains"):
        sql = next(x.sql for x in rep.queries if x.name == q)
        assert [tuple(r) for r in con.execute(sql).fetchall()] == rep.table(q).rows
    con.close()


def test_cli_usage_errors_exit_2(planted: Ledger, tmp_path: Path) -> None:
    r = run_cli("report", "evidence", "--ledger", str(tmp_path / "missing"))
    assert r.exit_code == 2 and "no such directory" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli("report", "domains", "--ledger", str(empty))
    assert r.exit_code == 2 and "not a tdmscan ledger" in r.output
    r = run_cli("report", "evidence", "--ledger", planted.root, "--run", "nope")
    assert r.exit_code == 2 and "nope" in r.output
    r = run_cli(
        "report",
        "evidence",
        "--ledger",
        planted.root,
        "--since",
        "2026-02-01",
        "--until",
        "2026-01-01",
    )
    assert r.exit_code == 2
    r = run_cli("report", "evidence", "--ledger", planted.root, "--format", "csv")
    assert r.exit_code == 2
    assert "Traceback" not in r.output


def test_html_default_output_path(planted: Ledger, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    r = run_cli("report", "evidence", "--ledger", planted.root)
    assert r.exit_code == 0, r.output
    path = Path(r.output.strip())
    assert path == tmp_path / "report-evidence.html" and path.read_text().startswith("<!doctype")
    out = tmp_path / "x.md"
    r = run_cli(
        "report", "licences", "--ledger", planted.root, "--format", "md", "--output", str(out)
    )
    assert r.exit_code == 0 and out.read_text().startswith("# Licence inventory")


# -- domains report ------------------------------------------------------------------------


def test_domains_ranking_by_bytes(planted: Ledger) -> None:
    rep = build_domains(planted, Scope(run_ids=("run-a",)))
    summary = table(rep, "domains_summary")[0]
    assert summary["metric"] == "bytes"
    # Independent: allowed own-token URLs, bytes per domain from the manifest size.
    per = raw(
        planted,
        "SELECT registrable_domain, sum(content_size), count(*) FROM D "
        "WHERE run_id = 'run-a' AND agent = 'MyBot' AND verdict = 'allowed' GROUP BY 1",
    )
    ranked = sorted(per, key=lambda r: (-(r[1] or 0), -r[2], r[0]))
    assert summary["domains_ranked"] == len(ranked)
    assert summary["bytes_retained"] == sum(r[1] or 0 for r in ranked)
    assert summary["urls_without_size"] == 1  # open.test/c
    k = math.ceil(Fraction(len(ranked), 10))
    top = table(rep, "domains_top")
    assert [(t["domain"], t["bytes"], t["urls"]) for t in top] == [
        (d, b, u) for d, b, u in ranked[:k]
    ]
    assert top[0]["domain"] == "shop.test"  # 5,300 bytes beats open.test's 3,000
    text = render(rep, "html")
    assert "Metric: bytes of content retained" in text


def test_domains_fall_back_to_url_count(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "l")
    write_run(led, ROBOTS_A, DAY_A, run_id="nosize", urls=[(u, None) for u, _ in URLS])
    rep = build_domains(led)
    assert table(rep, "domains_summary")[0]["metric"] == "urls"
    assert "falls back to URL counts" in render(rep, "md")
    top = table(rep, "domains_top")
    assert top[0]["domain"] == "open.test" and top[0]["size"] == 3


def _many_domains(led: Ledger, days: list[int], *, run_id: str) -> None:
    """``days[i]`` new domains on day i+1 of January 2026; domain j has j+1 bytes."""
    site = parse_site(SiteFiles("http://x.test", robots=Fetched(status=404)))
    run = RunInfo(kind="audit", run_id=run_id, agents=["MyBot"])
    j = 0
    with led.writer(run, flush_seconds=None, flush_rows=50_000) as w:
        for day, count in enumerate(days, 1):
            when = dt.datetime(2026, 1, day, tzinfo=UTC)
            for _ in range(count):
                (d,) = decide(f"http://d{j:05d}.test/page", ["MyBot"], site)
                assert d.verdict == "allowed"
                w.add(d, DecisionContext(content_size=j + 1, checked_at=when))
                j += 1


def _expected_top(n: int, sme: bool) -> int:
    share = Fraction(5 if sme else 10, 100)
    k = math.ceil(share * n)
    return min(k, 1000) if sme else k


@pytest.mark.parametrize("sme", [False, True])
def test_domain_cutoffs_at_small_boundaries(tmp_path: Path, sme: bool) -> None:
    led = Ledger(tmp_path / "l")
    sizes = [10, 11, 19, 20, 21]
    _many_domains(led, [sizes[0]] + [b - a for a, b in itertools.pairwise(sizes)], run_id="small")
    got = {}
    for day, n in enumerate(sizes, 1):
        until = dt.datetime(2026, 1, day, tzinfo=UTC) + dt.timedelta(days=1)
        rep = build_domains(led, Scope(until=until), sme=sme)
        top = table(rep, "domains_top")
        assert table(rep, "domains_summary")[0]["domains_ranked"] == n
        assert len(top) == _expected_top(n, sme) == top_domain_count(n, sme=sme)
        # The biggest domains, in order: domain j has j+1 bytes.
        assert [t["domain"] for t in top] == [
            f"d{j:05d}.test" for j in range(n - 1, n - 1 - len(top), -1)
        ]
        got[n] = len(top)
    if sme:
        assert got == {10: 1, 11: 1, 19: 1, 20: 1, 21: 2}
    else:
        assert got == {10: 1, 11: 2, 19: 2, 20: 2, 21: 3}


@pytest.mark.slow
def test_domain_cutoffs_at_the_sme_cap(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "l")
    sizes = [19_980, 20_000, 20_001, 25_000]
    _many_domains(led, [sizes[0]] + [b - a for a, b in itertools.pairwise(sizes)], run_id="big")
    for day, n in enumerate(sizes, 1):
        until = dt.datetime(2026, 1, day + 1, tzinfo=UTC)
        sme = table(build_domains(led, Scope(until=until), sme=True), "domains_top")
        assert (
            len(sme)
            == _expected_top(n, True)
            == {19_980: 999, 20_000: 1000, 20_001: 1000, 25_000: 1000}[n]
        )
        assert sme[-1]["domain"] == f"d{n - len(sme):05d}.test"
    full = table(build_domains(led), "domains_top")
    assert len(full) == 2_500
    r = run_cli("report", "domains", "--ledger", led.root, "--sme", "--format", "csv")
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert len(rows) == 1000 and rows[0]["domain"] == "d24999.test" and rows[0]["rank"] == "1"


def test_top_domain_count_rule() -> None:
    for n in range(0, 3000):
        assert top_domain_count(n) == math.ceil(Fraction(n, 10))
        assert top_domain_count(n, sme=True) == min(math.ceil(Fraction(n, 20)), 1000)
    assert top_domain_count(10**7, sme=True) == 1000


# -- diff ----------------------------------------------------------------------------------


def test_diff_finds_exactly_the_planted_changes(planted: Ledger) -> None:
    rep = build_diff(planted, "run-a", "run-b")
    changes = {(r["url"], r["agent"], r["change"]) for r in table(rep, "diff_changes")}
    # Independent: pair the raw rows in Python.
    rows = raw(planted, "SELECT run_id, url, agent, verdict, reasons FROM D")
    a = {(u, ag): (v, sorted(set(r))) for run, u, ag, v, r in rows if run == "run-a"}
    b = {(u, ag): (v, sorted(set(r))) for run, u, ag, v, r in rows if run == "run-b"}
    expect = set()
    for key in a.keys() & b.keys():
        (va, ra), (vb, rb) = a[key], b[key]
        if va != vb:
            expect.add((*key, f"became_{vb}"))
        elif ra != rb:
            expect.add((*key, "reason_changed"))
    assert changes == expect
    # The planted ones are there, and nothing about the untouched hosts.
    assert ("http://open.test/a", "MyBot", "became_reserved") in changes
    assert ("http://shop.test/cart/1", "MyBot", "became_allowed") in changes
    assert ("http://news.test/x", "MyBot", "reason_changed") in changes
    assert not any(
        u.startswith(("http://down.test", "http://evil.test", "ftp:")) for u, _, _ in changes
    )
    summary = {r["change"]: r["pairs"] for r in table(rep, "diff_summary")}
    counts = Counter(c for _, _, c in changes)
    for kind in ("became_reserved", "became_allowed", "reason_changed"):
        assert summary[kind] == counts[kind]
    assert summary["only_in_a"] == summary["only_in_b"] == 0
    domains = {(r["domain"], r["agent"]): r for r in table(rep, "diff_domains")}
    assert domains[("open.test", "MyBot")]["became_reserved"] == 1


def test_diff_cli_formats(planted: Ledger, tmp_path: Path) -> None:
    r = run_cli("diff", "run-a", "run-b", "--ledger", planted.root, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert {"summary", "domains", "changes"} <= set(doc)
    r = run_cli("diff", "run-a", "run-b", "--ledger", planted.root, "--format", "csv")
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.output)))
    assert len(rows) == len(doc["changes"])
    r = run_cli("diff", "run-a", "run-b", "--ledger", planted.root)
    assert r.exit_code == 0 and "became_reserved" in r.output
    out = tmp_path / "d.csv"
    r = run_cli(
        "diff", "run-a", "run-b", "--ledger", planted.root, "--format", "csv", "--output", str(out)
    )
    assert r.exit_code == 0 and out.read_text().startswith("change,")
    r = run_cli("diff", "run-a", "run-b", "--ledger", planted.root)
    assert r.exit_code == 0
    # Identical runs: no changes, still exit 0.
    r = run_cli("diff", "run-a", "run-a", "--ledger", planted.root, "--format", "json")
    assert r.exit_code == 0 and json.loads(r.output)["changes"] == []
    r = run_cli("diff", "run-a", "nope", "--ledger", planted.root)
    assert r.exit_code == 2


# -- licences --------------------------------------------------------------------------------

GOOD_TOML = """
[[dataset]]
dataset = "news-archive"
version = "2025-06"
licensor = "Example Press Ltd"
licence = "LicenseRef-ExamplePress-AI-2025"
commercial_use = "yes"
derivatives = "yes"
ai_training = "express"
term = "2025-01-01/2027-12-31"
territory = "EU"
evidence = ["https://contracts.example/4711"]
category = "2.2.1"
used = true

[[dataset]]
dataset = "nc-photos"
version = "v3"
licensor = "Photo Coop"
licence = "CC-BY-NC-4.0"
commercial_use = "no"
derivatives = "yes"
ai_training = "silent"
category = 2.1
used = true
models = ["model-x"]

[[dataset]]
dataset = "forbidden-corpus"
licensor = "Strict Archive"
licence = "LicenseRef-NoAI"
ai_training = "prohibited"
category = "2.2.2"
used = true

[[dataset]]
dataset = "shelved"
licence = "LicenseRef-NoAI"
ai_training = "prohibited"
category = "2.2.2"
used = false
"""

GOOD_CSV = (
    "dataset,version,licensor,licence,commercial_use,derivatives,ai_training,term,territory,"
    "evidence,category,used\n"
    "CC-MAIN-2024-10,CC-MAIN-2024-10,Common Crawl,LicenseRef-CC-ToU,yes,yes,silent,,worldwide,"
    "https://commoncrawl.org/terms-of-use,2.1,yes\n"
    "synthetic-qa,2026-01,Own,LicenseRef-Internal,yes,yes,express,2026-01-01/,,,2.5,no\n"
)


def _import(led: Ledger, tmp_path: Path, name: str, text: str) -> Any:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return run_cli("licences", "import", str(f), "--ledger", led.root)


def test_licence_import_and_conflicts(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "l")
    write_run(led, ROBOTS_A, DAY_A, run_id="crawl")
    r = _import(led, tmp_path, "inv.toml", GOOD_TOML)
    assert r.exit_code == 0, r.output
    assert "imported 4" in r.output
    r = _import(led, tmp_path, "inv.csv", GOOD_CSV)
    assert r.exit_code == 0, r.output
    rep = build_licences(led)
    inventory = table(rep, "licences_inventory")
    n_raw = duckdb.sql(
        "SELECT count(*) FROM read_parquet('"
        + os.path.join(led.root, "licences", "*", "*.parquet")
        + "') WHERE dataset_id IS NOT NULL"
    ).fetchall()[0][0]
    assert len(inventory) == n_raw == 6
    row = next(i for i in inventory if i["dataset"] == "news-archive")
    assert (row["term_start"], row["term_end"], row["commercial_use"]) == (
        "2025-01-01",
        "2027-12-31",
        "yes",
    )
    conflicts = {(c["dataset"], c["conflict"]) for c in table(rep, "licences_conflicts")}
    assert conflicts == {
        ("nc-photos", "commercial use not permitted"),
        ("forbidden-corpus", "AI training prohibited"),
    }
    cats = {c["template_category"]: c for c in table(rep, "licences_by_category")}
    assert cats["2.1"]["datasets"] == 2 and cats["2.2.2"]["datasets"] == 2
    assert cats["2.2.2"]["datasets_used"] == 1 and cats["2.5"]["datasets_used"] == 0
    # Re-importing supersedes rather than duplicates; the ledger still verifies.
    assert _import(led, tmp_path, "inv2.toml", GOOD_TOML).exit_code == 0
    assert len(table(build_licences(led), "licences_inventory")) == 6
    assert led.verify().ok
    # Licence imports are not crawlers.
    assert [c["own_token"] for c in table(build_crawlers(led), "crawlers")] == ["MyBot"]
    r = run_cli("report", "licences", "--ledger", led.root, "--format", "csv")
    assert r.exit_code == 0 and len(list(csv.DictReader(io.StringIO(r.output)))) == 6


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("a.csv", "dataset,licnece,category\nx,MIT,2.1\n", "line 2: unknown field 'licnece'"),
        ("b.csv", "dataset,licence,category\nx,MIT,2.3\n", "line 2, field 'category'"),
        (
            "c.csv",
            "dataset,licence,category,commercial_use\nx,MIT,2.1,yes\ny,MIT,2.1,maybe\n",
            "line 3, field 'commercial_use': 'maybe' is not one of yes, no, unknown",
        ),
        ("d.csv", "dataset,licence,category\n,MIT,2.1\n", "line 2: required field 'dataset'"),
        (
            "e.toml",
            '[[dataset]]\ndataset="x"\nlicence="MIT"\ncategory="2.1"\nterm="2026-01-01/2025-01-01"\n',
            "entry 1, field 'term': the term ends before it starts",
        ),
        ("f.toml", "[[dataset]\n", "invalid TOML"),
        ("g.toml", 'title = "x"\n', "unexpected top-level key 'title'"),
        ("h.json", "{}", "unknown file type"),
        (
            "i.toml",
            '[[dataset]]\ndataset="x"\nlicence="MIT"\ncategory="2.1"\nterm_end="31/12/2026"\n',
            "field 'term_end': '31/12/2026' is not a date",
        ),
        ("j.csv", "", "empty file"),
    ],
)
def test_licence_import_errors(tmp_path: Path, name: str, text: str, needle: str) -> None:
    led = Ledger(tmp_path / "l")
    head = led.head()
    r = _import(led, tmp_path, name, text)
    assert r.exit_code == 2, r.output
    assert needle in r.output
    assert r.output.count("\n") == 1 and r.output.startswith("Error: ")
    assert led.head() == head  # nothing written


def test_licences_detected_on_the_web(tmp_path: Path) -> None:
    """Licence, TDMRep and RSL evidence from real page and site signals (policy.decide)."""
    from tdmscan.policy import evaluate

    led = Ledger(tmp_path / "l")
    page = Fetched(
        status=200,
        headers=[("Content-Type", "text/html")],
        body=b'<html><head><link rel="license" href="https://creativecommons.org/licenses/'
        b'by-sa/4.0/"></head><body></body></html>',
        url="http://cc.test/guide.html",
    )
    rsl = (
        b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
        b'<prohibits type="usage">ai-train</prohibits></license>'
        b'<copyright contactEmail="rights@rsl.test">RSL Test</copyright>'
        b"<terms>http://rsl.test/terms</terms></content></rsl>"
    )
    tdm = (
        b'[{"location": "/articles/*", "tdm-reservation": 1, '
        b'"tdm-policy": "http://pub.test/policy.json"}]'
    )
    decisions = [
        evaluate(
            "http://cc.test/guide.html", "MyBot", robots_txt=Fetched(status=404), response=page
        ),
        evaluate(
            "http://rsl.test/a",
            "MyBot",
            robots_txt=b"User-agent: *\nAllow: /\nLicense: http://rsl.test/license.xml\n",
            rsl_documents={"http://rsl.test/license.xml": rsl},
        ),
        evaluate(
            "http://pub.test/articles/one", "MyBot", robots_txt=Fetched(status=404), tdmrep_json=tdm
        ),
    ]
    with led.writer(
        RunInfo(run_id="deep", agents=["MyBot"], config={"deep": True}), flush_seconds=None
    ) as w:
        for d in decisions:
            w.add(d)
    assert decisions[0].licences == ("CC-BY-SA-4.0",)
    rep = build_licences(led)
    web = table(rep, "licences_web")
    assert [(w["spdx"], w["domains"], w["urls"]) for w in web] == [("CC-BY-SA-4.0", 1, 1)]
    assert "link" in web[0]["source_signals"]
    rsl_rows = table(rep, "licences_rsl")
    assert rsl_rows[0]["outcome"] == "rsl:prohibited"
    assert rsl_rows[0]["contact_email"] == "rights@rsl.test"
    assert rsl_rows[0]["terms_url"] == "http://rsl.test/terms"
    tdm_rows = table(rep, "licences_tdm_policies")
    assert [(t["policy_url"], t["urls"]) for t in tdm_rows] == [("http://pub.test/policy.json", 1)]


# -- crawlers ---------------------------------------------------------------------------------

A = "{http://www.w3.org/2005/Atom}"


def test_crawler_page_and_atom_feed(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "l")
    write_run(led, ROBOTS_A, DAY_A, run_id="c1")
    write_run(led, ROBOTS_A, DAY_A + dt.timedelta(days=1), run_id="c2")  # same config
    write_run(led, ROBOTS_A, DAY_B, run_id="c3", user_agent="MyBot/3.0", deep=True)
    feed_path = tmp_path / "crawlers.atom"
    page = tmp_path / "crawlers.html"
    r = run_cli(
        "report",
        "crawlers",
        "--ledger",
        led.root,
        "--atom",
        str(feed_path),
        "--output",
        str(page),
        "--provider",
        "Example AI",
        "--contact",
        "optout@example.org",
    )
    assert r.exit_code == 0, r.output
    root = ET.parse(feed_path).getroot()
    assert root.tag == f"{A}feed"
    for tag in ("id", "title", "updated"):
        assert (root.findtext(f"{A}{tag}") or "").strip(), tag
    assert root.find(f"{A}author/{A}name") is not None
    entries = root.findall(f"{A}entry")
    n_configs = (
        raw(led, "SELECT count(*) FROM (SELECT DISTINCT run_id FROM D)")[0][0] - 1
    )  # c1 and c2 share one configuration
    assert len(entries) == n_configs == 2
    for e in entries:
        for tag in ("id", "title", "updated"):
            assert (e.findtext(f"{A}{tag}") or "").strip(), tag
        dt.datetime.fromisoformat(e.findtext(f"{A}updated").replace("Z", "+00:00"))
    assert "MyBot/3.0" in entries[0].findtext(f"{A}content")  # newest first
    assert len({e.findtext(f"{A}id") for e in entries}) == 2
    # Stable ids: regenerating gives the same feed and entry ids.
    again = ET.fromstring(atom_feed(build_crawlers(led), led))
    assert again.findtext(f"{A}id") == root.findtext(f"{A}id")
    assert [e.findtext(f"{A}id") for e in again.findall(f"{A}entry")] == [
        e.findtext(f"{A}id") for e in entries
    ]
    html = page.read_text()
    assert "MyBot/2.0 (+https://example.org/bot)" in html and "optout@example.org" in html
    rows = table(build_crawlers(led), "crawlers")
    assert [r["runs"] for r in rows] == [2, 1]


# -- a real audit of the fake web ---------------------------------------------------------------


def test_reports_on_a_real_audit_of_the_fake_web(
    tmp_path: Path, demo_web: Any, fakeweb_env: Any
) -> None:
    from tdmscan.fakeweb import demo_manifest_path

    fakeweb_env(demo_web)
    urls = [u for u in demo_manifest_path().read_text().splitlines() if u.strip()]
    manifest = tmp_path / "m.csv"
    with manifest.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["url", "size"])
        for i, u in enumerate(urls):
            w.writerow([u, 1000 + 37 * i])
    led_dir = tmp_path / "ledger"
    r = run_cli(
        "audit",
        str(manifest),
        "--ledger",
        str(led_dir),
        "--size-column",
        "size",
        "--agent",
        "MyBot",
        "--agent",
        "GPTBot",
        "--timeout",
        "1",
        "-q",
        "--json",
    )
    assert r.exit_code in (0, 1), r.output
    led = Ledger(led_dir)

    r = run_cli("report", "evidence", "--ledger", str(led_dir), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    tables = {t["query"]: t["rows"] for s in doc["sections"] for t in s["tables"]}
    totals = {t["verdict"]: t["decisions_own_token"] for t in tables["evidence_verdict_totals"]}
    expect = dict(raw(led, "SELECT verdict, count(*) FROM D WHERE agent = 'MyBot' GROUP BY 1"))
    assert totals == {v: expect.get(v, 0) for v in totals}
    assert totals["reserved"] > 0 and totals["unknown"] > 0 and totals["invalid"] > 0
    branches = {b["branch"]: b["urls"] for b in tables["evidence_robots_branches"]}
    for b, n in raw(
        led,
        "SELECT coalesce(robots_branch, '(none)'), count(*) FROM (SELECT * FROM D "
        "WHERE agent = 'MyBot' QUALIFY row_number() OVER (PARTITION BY url "
        "ORDER BY checked_at DESC, decision_id DESC) = 1) GROUP BY 1",
    ):
        assert branches[b] == n
    reserved = {d["domain"] for d in tables["evidence_reserved_domains"]}
    assert reserved == {
        d
        for (d,) in raw(
            led,
            "SELECT DISTINCT registrable_domain FROM D WHERE verdict = 'reserved' "
            "AND agent = 'MyBot'",
        )
    }
    assert tables["evidence_integrity"][0]["snapshots_hash_mismatch"] == 0

    r = run_cli("report", "domains", "--ledger", str(led_dir), "--format", "csv")
    assert r.exit_code == 0, r.output
    listed = list(csv.DictReader(io.StringIO(r.output)))
    per = raw(
        led,
        "SELECT registrable_domain, sum(content_size), count(*) FROM (SELECT * FROM D "
        "WHERE agent = 'MyBot' QUALIFY row_number() OVER (PARTITION BY url "
        "ORDER BY checked_at DESC, decision_id DESC) = 1) WHERE verdict = 'allowed' "
        "AND registrable_domain IS NOT NULL GROUP BY 1",
    )
    ranked = sorted(per, key=lambda r: (-r[1], -r[2], r[0]))
    k = math.ceil(Fraction(len(ranked), 10))
    assert [(x["domain"], int(x["bytes"])) for x in listed] == [(d, b) for d, b, _ in ranked[:k]]
    assert all(x["metric"] == "bytes" for x in listed)

    r = run_cli("report", "licences", "--ledger", str(led_dir), "--format", "json")
    assert r.exit_code == 0
    r = run_cli(
        "report",
        "crawlers",
        "--ledger",
        str(led_dir),
        "--format",
        "md",
        "--atom",
        str(tmp_path / "f.atom"),
    )
    assert r.exit_code == 0 and "MyBot" in r.output
    ET.parse(tmp_path / "f.atom")


def test_evidence_lawful_access_section(tmp_path: Path) -> None:
    """Page fetches of a --deep run: barriers by kind, with the decisions for those URLs; a
    ledger without page fetches says barriers were not observed rather than showing zeros."""
    led = Ledger(tmp_path / "ledger")
    write_run(led, {"pay.test": 404}, DAY_A, run_id="plain")
    rep = build_evidence(led)
    assert table(rep, "evidence_access_summary") == [
        {"page_fetches": 0, "pages": 0, "pages_with_barrier": 0}
    ]
    assert table(rep, "evidence_access_barriers") == []
    doc = json.loads(render(rep, "json"))
    section = next(s for s in doc["sections"] if s["id"] == "lawful-access")
    assert any("not observed" in p for p in section["paragraphs"])

    pages = {
        "http://pay.test/a": Fetched(status=402, url="http://pay.test/a"),
        "http://pay.test/b": Fetched(status=403, url="http://pay.test/b"),
        "http://pay.test/c": Fetched(status=403, url="http://pay.test/c"),
        "http://pay.test/d": Fetched(
            status=200,
            url="http://pay.test/d",
            final_url="http://pay.test/account/login?next=/d",
            redirects=("http://pay.test/d",),
        ),
        "http://pay.test/e": Fetched(status=200, url="http://pay.test/e"),  # no barrier
        # A login page asked for directly is no barrier: only a redirect to one is.
        "http://pay.test/login": Fetched(
            status=200, url="http://pay.test/login", final_url="http://pay.test/login"
        ),
    }
    run = RunInfo(kind="audit", run_id="deep", agents=AGENTS, config={"deep": True})
    site = parse_site(SiteFiles(origin="http://pay.test", robots=_fetched("pay.test", 404)))
    with led.writer(run, flush_seconds=None) as w:
        for i, (url, page) in enumerate(pages.items()):
            w.add_fetch(page, "page", "http://pay.test")
            ds = decide(url, AGENTS, site, page)
            if url.endswith("/c"):  # pretend a reservation was found for this one
                ds = [dataclasses.replace(d, verdict="reserved") for d in ds]
            for d in ds:
                w.add(d, DecisionContext(source_kind="manifest_audit", input_row=i))
    rep = build_evidence(led, Scope(run_ids=("deep",)))
    assert table(rep, "evidence_access_summary") == [
        {"page_fetches": 6, "pages": 6, "pages_with_barrier": 4}
    ]
    rows = {
        r["barrier"]: (r["pages"], r["urls_allowed"], r["urls_not_allowed"])
        for r in table(rep, "evidence_access_barriers")
    }
    # A barrier is itself evidence (access:* reasons): none of these URLs is allowed.
    assert rows == {"http-403": (2, 0, 2), "http-402": (1, 0, 1), "login-redirect": (1, 0, 1)}
    # The section's text says so too, and names the paywall markup it now reads.
    doc = json.loads(render(rep, "json"))
    text = " ".join(next(s for s in doc["sections"] if s["id"] == "lawful-access")["paragraphs"])
    assert "decided not allowed with an access:* reason" in text
    assert "access:paywalled" in text
