"""Scope of a report and the connection every report starts from."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..ledger import Ledger
from ..policy import SPEC
from ..signals.registry import load_registry
from .model import Report, Section
from .queries import QueryRunner, sql_literal

#: Protocols the policy evaluates: (key, name, legal tier, where it is read), from the
#: protocol registry (tdmscan/signals/data/protocols.toml), so reports, evidence rows and
#: ``tdmscan protocols`` never disagree about a protocol's version or legal standing.
PROTOCOLS: tuple[tuple[str, str, str, str], ...] = tuple(
    (p.id, p.name, p.tier, "; ".join(p.read_from)) for p in load_registry().protocols
)


def protocol_catalogue_sql() -> str:
    rows = ",\n        ".join(
        "({}, {}, {}, {}, {}, {})".format(
            i, *(sql_literal(v) for v in (key, name, SPEC.get(key, "unversioned"), tier, level))
        )
        for i, (key, name, tier, level) in enumerate(PROTOCOLS, 1)
    )
    return (
        "-- protocol_catalogue: the protocols this tdmscan build evaluates, with the spec\n"
        "-- version it implements (generated from the protocol registry).\n"
        "CREATE OR REPLACE TEMP TABLE protocol_catalogue AS\n"
        "SELECT * FROM (VALUES\n        "
        + rows
        + "\n) AS t(ord, protocol, name, spec_version, tier, level);"
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """Which decisions a report covers: some runs, a period of ``checked_at``, a policy mode,
    or everything.

    ``until`` is exclusive; the command line turns a date into the start of the next day so
    that ``--until 2026-01-31`` includes the whole of 31 January (UTC).
    """

    run_ids: tuple[str, ...] = ()
    since: _dt.datetime | None = None
    until: _dt.datetime | None = None
    mode: str | None = None

    def variables(self) -> dict[str, Any]:
        return {
            "run_ids": list(self.run_ids) or None,
            "since": self.since,
            "until": self.until,
            "mode": self.mode,
        }

    def describe(self) -> str:
        parts = []
        if self.run_ids:
            parts.append("runs " + ", ".join(self.run_ids))
        if self.since:
            parts.append(f"checked at or after {self.since.isoformat()}")
        if self.until:
            parts.append(f"checked before {self.until.isoformat()}")
        if self.mode:
            parts.append(f"{self.mode} mode only")
        return "; ".join(parts) or "every run in the ledger"

    def parameters(self) -> dict[str, Any]:
        return {
            "runs": list(self.run_ids),
            "since": self.since.isoformat() if self.since else None,
            "until_exclusive": self.until.isoformat() if self.until else None,
            "mode": self.mode,
        }


#: The counting rule every URL figure follows (scope.sql, view scope_urls), stated in reports.
COUNTING_RULE = (
    "Counting rule: each URL in scope is counted once, with its latest decision for the "
    "crawler's own product token (latest check time; ties broken by decision id), whatever "
    "the number of runs, policy modes or agents in scope. Allowed, reserved, unknown and "
    "invalid URLs therefore add up to the URLs checked. Decision counts, where shown, count "
    "every decision recorded in scope and are larger when URLs were checked more than once."
)

#: The public documents reports cite, by the short names used in "Relevant to" lines.
SOURCES: tuple[tuple[str, str], ...] = (
    (
        "Code of Practice",
        "General-Purpose AI Code of Practice, Copyright chapter (published 10 July 2025). "
        "Measure 1.1: draw up, keep up to date and implement a copyright policy. Measure 1.2: "
        "reproduce and extract only lawfully accessible content when crawling (no "
        "circumvention of effective technological measures such as paywalls or subscriptions; "
        "exclude websites that EU/EEA courts or authorities recognise as persistently and "
        "repeatedly infringing). Measure 1.3: identify and comply with rights reservations "
        "(1.3(1) robots.txt under RFC 9309; 1.3(2) other appropriate machine-readable "
        "protocols; 1.3(4) make public the crawlers used and notify changes). Measure 1.4: "
        "mitigate the risk of infringing outputs. Measure 1.5: designate a point of contact and "
        "allow the lodging of complaints.",
    ),
    (
        "Template",
        "European Commission, Explanatory Notice and Template for the Public Summary of "
        "Training Content for general-purpose AI models, C(2025) 5235 final (24 July 2025). "
        "Section 1.3: modalities, size and latest date of data collection. Sections 2.1, "
        "2.2.1, 2.2.2, 2.5 and 2.6: publicly available, licensed, third-party, synthetic and "
        "other data. Section 2.3: data crawled and scraped from online sources, (i) crawler "
        "names, (ii) purposes, (iii) crawler behaviour, (iv) period of collection, (vii) most "
        "relevant domain names, (viii) comments. Section 3.1: respect of reservation of rights "
        "from the text and data mining exception.",
    ),
    ("RFC 9309", "IETF RFC 9309, Robots Exclusion Protocol (September 2022)."),
    (
        "AI Act",
        "Regulation (EU) 2024/1689 (Artificial Intelligence Act), Article 53(1)(c) (copyright "
        "policy) and (d) (public summary of training content); Article 101 (fines).",
    ),
)


def sources_section() -> Section:
    """The closing section that names, with titles and dates, every document a report cites."""
    return Section(
        "sources",
        "Sources cited",
        paragraphs=[f"{short}: {full}" for short, full in SOURCES],
    )


def page_coverage_text(cov: dict[str, Any], why: str = "no run in scope used --deep") -> str:
    """What the URL figures rest on: page-level signals read or not, stated with numbers."""
    n = cov.get("urls_checked") or 0
    paged = cov.get("urls_page_checked") or 0
    allowed = cov.get("urls_allowed") or 0
    site_only = cov.get("urls_allowed_site_level_only") or 0
    if n == 0:
        return "No URL was checked."
    if paged == 0:
        return (
            "Page-level signals were not read: no page was fetched for any of the "
            f"{plural(n, 'URL')} checked ({why}), so reservations "
            "declared only in a page (meta robots noai, X-Robots-Tag, TDMRep headers or meta, "
            f"rel=license) were not seen. All {plural(allowed, 'allowed URL')} rest on "
            "site-level signals only (robots.txt, tdmrep.json, ai.txt)."
        )
    return (
        f"Page-level signals were read for {paged:,} of the {plural(n, 'URL')} checked. "
        f"{site_only:,} of the {plural(allowed, 'allowed URL')} rest on site-level signals only "
        "(their page was not fetched, so a reservation declared only in the page was not seen)."
    )


def plural(n: int, noun: str) -> str:
    """``1 agent``, ``2 agents``, with thousands separators."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def start(ledger: Ledger, variables: dict[str, Any], *, scope: bool = True) -> QueryRunner:
    runner = QueryRunner(ledger.connect(), ledger.root)
    runner.variables(variables)
    if scope:
        runner.setup("scope")
    return runner


def new_report(kind: str, title: str, ledger: Ledger, parameters: dict[str, Any]) -> Report:
    return Report(
        kind=kind,
        title=title,
        generated_at=_dt.datetime.now(_dt.UTC).replace(microsecond=0),
        ledger=ledger.root,
        tool_version=__version__,
        parameters=parameters,
    )


def finish(report: Report, runner: QueryRunner) -> Report:
    report.queries = list(runner.queries)
    report.number_tables()
    runner.con.close()
    return report


def unknown_runs(ledger: Ledger, run_ids: tuple[str, ...]) -> list[str]:
    """The ids in ``run_ids`` the ledger has no run record for."""
    if not run_ids:
        return []
    con = ledger.connect()
    try:
        known = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
    finally:
        con.close()
    return [r for r in run_ids if r not in known]


def month(ts: _dt.datetime | None) -> str:
    """MM/YYYY, the Template's format for the period of data collection."""
    return ts.astimezone(_dt.UTC).strftime("%m/%Y") if ts else "[unknown]"
