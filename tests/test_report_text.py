"""What reports say, word for word (issue 15, items 4 and 5 for reports).

Reports go to lawyers and rights holders who have only the report: they cite public sources
(the Code of Practice measures, the Commission's Template sections, RFCs, the AI Act), never
the project's internal notes; one term names one thing; prose shows no Markdown syntax and
never splits a command-line option.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from test_reports import DAY_A, DAY_B, ROBOTS_A, ROBOTS_B, write_run

from tdmscan.audit.summary import RunSummary, render_summary
from tdmscan.ledger import Ledger
from tdmscan.reports import (
    build_crawlers,
    build_diff,
    build_domains,
    build_evidence,
    build_licences,
    render,
)

INTERNAL = re.compile(r"\b(DESIGN|COMPLIANCE|SIGNALS|ECOSYSTEM)\b|Checklist C-|\b\w+\.md\b")
PUBLIC = ("Code of Practice", "Template", "RFC", "AI Act")


@pytest.fixture(scope="module")
def led(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    led = Ledger(tmp_path_factory.mktemp("text") / "ledger")
    write_run(led, ROBOTS_A, DAY_A, run_id="run-a")
    write_run(led, ROBOTS_B, DAY_B, run_id="run-b")
    return led


def _reports(led: Ledger) -> dict[str, Any]:
    return {
        "evidence": build_evidence(led),
        "domains": build_domains(led),
        "licences": build_licences(led),
        "crawlers": build_crawlers(led),
        "diff": build_diff(led, "run-a", "run-b"),
    }


def test_reports_cite_public_sources_only(led: Ledger) -> None:
    for kind, rep in _reports(led).items():
        for fmt in ("html", "md", "json", "sql"):
            text = render(rep, fmt)
            m = INTERNAL.search(text)
            assert m is None, (kind, fmt, text[max(0, m.start() - 80) : m.end() + 80])
        doc = json.loads(render(rep, "json"))
        for s in doc["sections"]:
            if s["relevant_to"]:
                assert s["relevant_to"].startswith(PUBLIC), (kind, s["id"], s["relevant_to"])
        sources = next(s for s in doc["sections"] if s["id"] == "sources")
        text = " ".join(sources["paragraphs"])
        # Full public titles with their dates, and every measure and section cited.
        assert (
            "General-Purpose AI Code of Practice, Copyright chapter (published 10 July 2025)"
            in (text)
        )
        assert "Explanatory Notice and Template for the Public Summary of Training Content" in text
        assert "C(2025) 5235 final (24 July 2025)" in text
        for measure in ("1.1", "1.2", "1.3", "1.4", "1.5"):
            assert f"Measure {measure}:" in text, measure
        for section in ("1.3", "2.1", "2.3", "3.1"):
            assert f"Section {section}" in text or f"Sections {section}" in text, section
        assert "RFC 9309, Robots Exclusion Protocol (September 2022)" in text


def test_prose_has_no_markdown_and_options_never_split(led: Ledger) -> None:
    for kind, rep in _reports(led).items():
        doc = json.loads(render(rep, "json"))
        for s in doc["sections"]:
            for p in s["paragraphs"]:
                assert "`" not in p, (kind, p)
        html = render(rep, "html")
        prose = re.sub(r"<pre>.*?</pre>|<style>.*?</style>", "", html, flags=re.S)
        assert "`" not in prose, kind
        # Every option in prose is one unbreakable unit.
        for m in re.finditer(r"(?<![\w-])--[a-z][a-z0-9-]*", prose):
            before = prose[max(0, m.start() - 18) : m.start()]
            assert before.endswith('<code class="opt">'), (kind, prose[m.start() - 60 : m.end()])
    html = render(build_licences(led), "html")
    assert '<code class="opt">--deep</code>' in html
    assert "tdmscan licences import" in html


def test_diff_uses_one_term_per_change(led: Ledger) -> None:
    rep = build_diff(led, "run-a", "run-b")
    summary_kinds = {r[0] for r in rep.table("diff_summary").rows}
    domain_columns = set(rep.table("diff_domains").columns) - {"domain", "agent"}
    assert domain_columns <= summary_kinds
    assert domain_columns == {
        "became_reserved",
        "became_allowed",
        "became_unknown",
        "became_invalid",
        "reason_changed",
    }
    for fmt in ("html", "md", "json"):
        assert "undecided" not in render(rep, fmt)


def test_crawler_page_does_not_print_the_ledger_path(led: Ledger) -> None:
    rep = build_crawlers(led)
    for fmt in ("html", "md", "json"):
        assert led.root not in render(rep, fmt), fmt
    # Internal reports still name the ledger they were built from.
    assert led.root in render(build_evidence(led), "html")


@pytest.mark.parametrize("n_agents", [1, 2])
def test_audit_summary_pluralises_agents(n_agents: int) -> None:
    agents = ["MyBot", "GPTBot"][:n_agents]
    s = RunSummary(
        run_id="r",
        ledger="/l",
        status="finished",
        rows=3,
        decisions=3 * n_agents,
        agents=agents,
        own_agent="MyBot",
        verdicts={"allowed": 3},
        by_reason=[("allowed", "robots:allowed", 3, 3 * n_agents)],
        top_reserving=[],
        errors=[],
    )
    buf = io.StringIO()
    render_summary(s, Console(file=buf, width=200))
    out = buf.getvalue()
    assert "all 1 agents" not in out
    assert ("all 2 agents" in out) == (n_agents == 2)


def test_docs_list_the_evidence_report_sections(led: Ledger) -> None:
    """docs/reports.md (and the README screenshot made from the same report) name the
    sections the report actually has, in order."""
    from tdmscan.reports.render import _queries_title

    rep = build_evidence(led)
    titles = [s.title for s in rep.sections] + [_queries_title(rep)]
    doc = (Path(__file__).resolve().parent.parent / "docs" / "reports.md").read_text("utf-8")
    block = doc[doc.index("## `report evidence`") :]
    block = block[: block.index("\n## ")]
    cells = [
        line.split("|")[1].strip()
        for line in block.splitlines()
        if line.startswith("| ") and not line.startswith(("| section", "|---"))
    ]
    assert len(cells) == len(titles), (cells, titles)
    for cell, title in zip(cells, titles, strict=True):
        assert title.startswith(cell), (cell, title)


def test_every_report_says_page_signals_were_not_read(led: Ledger) -> None:
    """No run here fetched a page: every report says so, with the allowed URLs that rest on
    site-level signals only, and the draft text claims site-level protocols only."""
    allowed = build_evidence(led).table("evidence_summary").one()["allowed"]
    assert allowed > 0
    for kind, rep in _reports(led).items():
        doc = json.loads(render(rep, "json"))
        text = " ".join(p for s in doc["sections"] for p in s["paragraphs"])
        assert "Page-level signals were not read" in text, kind
        if kind != "diff":
            assert f"All {allowed:,} allowed URLs rest on site-level signals only" in text, kind
        else:  # per run: run B's own count
            b = rep.table("diff_page_coverage").records()[-1]
            assert f"All {b['urls_allowed']:,} allowed URL" in text
    draft = " ".join(next(s for s in build_evidence(led).sections if s.id == "draft").paragraphs)
    claimed = draft.split("At site level it also honoured")[1].split(".")[0]
    for page_only in ("noai", "X-Robots-Tag", "Licence metadata"):
        assert page_only not in claimed, page_only
    assert "were not read: no page was fetched" in draft
