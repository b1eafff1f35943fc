"""The provenance ledger: append-only Parquet tables, a hash chain, and DuckDB views.

Layout and every column are documented in ``docs/ledger.md``. Typical use::

    ledger = Ledger("ledger/")
    with ledger.writer(RunInfo(kind="audit", agents=["MyBot"])) as w:
        w.add_site(site_files)
        w.add(decision, DecisionContext(source_kind="manifest_audit", input_row=17))
    con = ledger.connect()          # DuckDB with the views
    report = ledger.verify()        # tamper evidence
"""

from __future__ import annotations

from .chain import GENESIS
from .core import CompactReport, Issue, Ledger, VerifyReport
from .domains import PSL_VERSION, registrable_domain, shard_of
from .health import DamagedSegmentWarning, LedgerDamaged
from .schema import SCHEMA_VERSIONS, SCHEMAS
from .writer import (
    FETCH_KINDS,
    SOURCE_KINDS,
    DecisionContext,
    LedgerWriter,
    RunInfo,
    config_hash,
    derived_run_id,
    new_run_id,
)

__all__ = [
    "FETCH_KINDS",
    "GENESIS",
    "PSL_VERSION",
    "SCHEMAS",
    "SCHEMA_VERSIONS",
    "SOURCE_KINDS",
    "CompactReport",
    "DamagedSegmentWarning",
    "DecisionContext",
    "Issue",
    "Ledger",
    "LedgerDamaged",
    "LedgerWriter",
    "RunInfo",
    "VerifyReport",
    "config_hash",
    "derived_run_id",
    "new_run_id",
    "registrable_domain",
    "shard_of",
]
