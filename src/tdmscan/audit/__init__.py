"""Batch audits of URL manifests: read, plan by origin in DuckDB, decide, record in the ledger.

Names load on first use: the audit's fetch child (``python -m tdmscan.audit.fetch_process``)
imports this package too, and must not pay for DuckDB and the ledger it never uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .manifest import FORMATS, Manifest, ManifestError, ManifestOptions, open_manifest
    from .plan import OriginGroup, Plan, PlanStats
    from .runner import AuditConfig, AuditResult, AuditRunner, find_resumable_run

_WHERE = {
    "FORMATS": "manifest",
    "Manifest": "manifest",
    "ManifestError": "manifest",
    "ManifestOptions": "manifest",
    "open_manifest": "manifest",
    "OriginGroup": "plan",
    "Plan": "plan",
    "PlanStats": "plan",
    "AuditConfig": "runner",
    "AuditResult": "runner",
    "AuditRunner": "runner",
    "find_resumable_run": "runner",
}

__all__ = [
    "FORMATS",
    "AuditConfig",
    "AuditResult",
    "AuditRunner",
    "Manifest",
    "ManifestError",
    "ManifestOptions",
    "OriginGroup",
    "Plan",
    "PlanStats",
    "find_resumable_run",
    "open_manifest",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
