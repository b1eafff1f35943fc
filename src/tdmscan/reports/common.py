"""Scope of a report and the connection every report starts from."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from .._version import __version__
from ..ledger import Ledger
from ..policy import SPEC
from .model import Report
from .queries import QueryRunner, sql_literal

_OTHER = "other machine-readable protocol (Code 1.3(2))"

#: Protocols the policy evaluates: (key, name, legal tier, where it is read). The spec version
#: comes from the policy itself so the report never disagrees with what was applied.
PROTOCOLS: tuple[tuple[str, str, str, str], ...] = (
    (
        "robots",
        "robots.txt (Robots Exclusion Protocol)",
        "mandatory (Code 1.3(1))",
        "site: /robots.txt",
    ),
    ("tdmrep", "TDMRep", _OTHER, "site: /.well-known/tdmrep.json; page: header, meta (deep)"),
    (
        "aipref",
        "IETF AI preferences (Content-Usage)",
        _OTHER,
        "site: robots.txt; page: header (deep)",
    ),
    ("content-signal", "Content Signals", _OTHER, "site: robots.txt"),
    ("rsl", "Really Simple Licensing (RSL)", _OTHER, "site: robots.txt License; page: link (deep)"),
    ("ai-txt", "ai.txt (Spawning)", _OTHER, "site: /ai.txt"),
    ("robots-meta", "noai / noimageai in meta robots", _OTHER, "page: <meta name=robots> (deep)"),
    (
        "robots-header",
        "noai / noimageai in X-Robots-Tag",
        _OTHER,
        "page: X-Robots-Tag header (deep)",
    ),
    (
        "licence",
        "Licence metadata (SPDX)",
        "information only (licence inventory)",
        "page: rel=license, Link, JSON-LD (deep)",
    ),
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
        "-- version it implements (generated from tdmscan.policy.SPEC).\n"
        "CREATE OR REPLACE TEMP TABLE protocol_catalogue AS\n"
        "SELECT * FROM (VALUES\n        "
        + rows
        + "\n) AS t(ord, protocol, name, spec_version, tier, level);"
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """Which decisions a report covers: some runs, a period of ``checked_at``, or everything.

    ``until`` is exclusive; the command line turns a date into the start of the next day so
    that ``--until 2026-01-31`` includes the whole of 31 January (UTC).
    """

    run_ids: tuple[str, ...] = ()
    since: _dt.datetime | None = None
    until: _dt.datetime | None = None

    def variables(self) -> dict[str, Any]:
        return {
            "run_ids": list(self.run_ids) or None,
            "since": self.since,
            "until": self.until,
        }

    def describe(self) -> str:
        parts = []
        if self.run_ids:
            parts.append("runs " + ", ".join(self.run_ids))
        if self.since:
            parts.append(f"checked at or after {self.since.isoformat()}")
        if self.until:
            parts.append(f"checked before {self.until.isoformat()}")
        return "; ".join(parts) or "every run in the ledger"

    def parameters(self) -> dict[str, Any]:
        return {
            "runs": list(self.run_ids),
            "since": self.since.isoformat() if self.since else None,
            "until_exclusive": self.until.isoformat() if self.until else None,
        }


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
