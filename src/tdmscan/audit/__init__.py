"""Batch audits of URL manifests: read, plan by origin in DuckDB, decide, record in the ledger."""

from __future__ import annotations

from .manifest import FORMATS, Manifest, ManifestError, ManifestOptions, open_manifest
from .plan import OriginGroup, Plan, PlanStats
from .runner import AuditConfig, AuditResult, AuditRunner, find_resumable_run

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
