"""Reports for legal teams, built from the ledger with SQL shipped in ``reports/sql``.

Each report is a :class:`Report` of sections and tables; every table names the SQL file that
produced it, and the report keeps the exact statements it ran, so plain DuckDB can rerun it.
Render with :func:`render` (html, md, json, csv where tabular, sql).
"""

from __future__ import annotations

from .common import Scope, unknown_runs
from .crawlers import atom_feed, build_crawlers
from .diff import CHANGE_KINDS, build_diff
from .domains import SME_CAP, build_domains, top_domain_count
from .evidence import build_evidence
from .licences import LicenceImportError, build_licences, import_licences, parse_licence_file
from .model import Chart, Query, Report, Section, Table
from .render import FORMATS, render

__all__ = [
    "CHANGE_KINDS",
    "FORMATS",
    "SME_CAP",
    "Chart",
    "LicenceImportError",
    "Query",
    "Report",
    "Scope",
    "Section",
    "Table",
    "atom_feed",
    "build_crawlers",
    "build_diff",
    "build_domains",
    "build_evidence",
    "build_licences",
    "import_licences",
    "parse_licence_file",
    "render",
    "top_domain_count",
    "unknown_runs",
]
