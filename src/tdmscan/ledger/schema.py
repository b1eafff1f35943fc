"""Arrow schemas of the ledger tables, versioned.

Bump a table's version whenever a column is added, removed or retyped. Old segments stay
readable: the views read with ``union_by_name`` and each version's zero-row schema anchor
file keeps every column known to DuckDB even before a row has been written.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

#: Current schema version of each table. Written into every segment's file metadata
#: (``tdmscan.schema_version``) and into the ``runs.schema_versions`` column.
SCHEMA_VERSIONS: dict[str, int] = {
    "runs": 2,  # v2: shard_k, shard_n
    "decisions": 2,  # v2: page_checked
    "fetches": 1,
    "snapshots": 1,
    "licences": 1,
}

TABLES: tuple[str, ...] = ("runs", "decisions", "fetches", "snapshots", "licences")

HEADER = pa.struct([("name", pa.string()), ("value", pa.string())])

EVIDENCE = pa.struct(
    [
        ("protocol", pa.string()),
        ("spec_version", pa.string()),
        ("locator", pa.string()),
        ("raw", pa.string()),
        ("interpretation", pa.string()),
        ("reason", pa.string()),
        ("strength", pa.string()),
        ("decisive", pa.bool_()),
        ("source_url", pa.string()),
        ("sha256", pa.string()),
    ]
)
EVIDENCE_FIELDS: tuple[str, ...] = tuple(f.name for f in EVIDENCE)

VERDICT_COUNTS = pa.struct(
    [
        ("allowed", pa.int64()),
        ("reserved", pa.int64()),
        ("unknown", pa.int64()),
        ("invalid", pa.int64()),
    ]
)
SCHEMA_VERSION_STRUCT = pa.struct([(t, pa.int32()) for t in TABLES])

S, I64, I32, I16, I8, B = pa.string(), pa.int64(), pa.int32(), pa.int16(), pa.int8(), pa.bool_()
LS = pa.list_(pa.string())

DECISIONS = pa.schema(
    [
        ("decision_id", S),
        ("run_id", S),
        ("url", S),
        ("final_url", S),
        ("origin", S),
        ("host", S),
        ("registrable_domain", S),
        ("agent", S),
        ("purpose", S),
        ("mode", S),
        ("verdict", S),
        ("reasons", LS),
        ("checked_at", TS),
        ("robots_url", S),
        ("robots_sha256", S),
        ("robots_fetched_at", TS),
        ("robots_status", I16),
        ("robots_branch", S),
        ("robots_verdict", S),
        ("robots_matched_rule", S),
        ("robots_matched_line", I32),
        ("robots_group", S),
        ("robots_truncated", B),
        ("robots_error", S),
        ("tdm_reservation", I8),
        ("tdm_source", S),
        ("tdm_policy", S),
        ("tdmrep_sha256", S),
        ("evidence", pa.list_(EVIDENCE)),
        ("licences", LS),
        ("content_size", I64),
        ("source_kind", S),
        ("dataset_id", S),
        ("snapshot_id", S),
        ("tool_version", S),
        ("config_sha256", S),
        ("errors", LS),
        ("warc_file", S),
        ("warc_record_id", S),
        ("warc_offset", I64),
        ("input_row", I64),
        # Whether the page's own response was read (headers, <head>, embedded metadata). False:
        # the verdict rests on site-level files only. Added in decisions v2: older rows read
        # as NULL, which means "not recorded" and must be treated as not checked.
        ("page_checked", B),
    ]
)

FETCHES = pa.schema(
    [
        ("fetch_id", S),
        ("run_id", S),
        ("origin", S),
        ("kind", S),
        ("url", S),
        ("final_url", S),
        ("redirects", LS),
        ("status", I16),
        ("content_type", S),
        ("content_length", S),
        ("content_encoding", S),
        ("last_modified", S),
        ("etag", S),
        ("cache_control", S),
        ("date", S),
        # Every response header of this fetch, in wire order: a page's X-Robots-Tag or
        # tdm-reservation is evidence, and a content-addressed snapshot keeps only the headers
        # of the first fetch that produced its bytes.
        ("headers", pa.list_(HEADER)),
        ("error", S),
        ("elapsed_s", pa.float64()),
        ("fetched_at", TS),
        ("sha256", S),
        ("size", I64),
        ("truncated", B),
        ("stale", B),
    ]
)

SNAPSHOTS = pa.schema(
    [
        ("sha256", S),
        ("size", I64),
        ("body", pa.binary()),
        ("url", S),
        ("kind", S),
        ("status", I16),
        ("headers", pa.list_(HEADER)),
        ("fetched_at", TS),
        ("run_id", S),
    ]
)

RUNS = pa.schema(
    [
        ("run_id", S),
        ("kind", S),
        ("status", S),
        ("started_at", TS),
        ("finished_at", TS),
        ("updated_at", TS),
        ("tool_version", S),
        ("agents", LS),
        ("user_agent", S),
        ("mode", S),
        ("purpose", S),
        ("config_json", S),
        ("config_sha256", S),
        ("input_description", S),
        ("input_sha256", S),
        ("dataset_id", S),
        ("decisions", I64),
        ("verdict_counts", VERDICT_COUNTS),
        ("fetches", I64),
        ("snapshots_new", I64),
        ("shards", I32),
        ("psl_version", S),
        ("schema_versions", SCHEMA_VERSION_STRUCT),
        ("hostname", S),
        ("pid", I64),
        ("error", S),
        # The audit shard (k of n) this row's writer audited; NULL for a run-level row (an
        # unsharded run, or the Ray driver's). Added in runs v2: older rows read as NULL.
        ("shard_k", I32),
        ("shard_n", I32),
    ]
)

# Licence inventory (COMPLIANCE.md section 5); anything without a column goes into extra_json.
LICENCES = pa.schema(
    [
        ("licence_record_id", S),
        ("run_id", S),
        ("recorded_at", TS),
        ("dataset_id", S),
        ("name", S),
        ("version_or_snapshot", S),
        ("source_url", S),
        ("template_category", S),
        ("modalities", LS),
        ("licensor", S),
        ("licensor_type", S),
        ("licence_id", S),
        ("licence_url_or_doc_hash", S),
        ("agreement_date", pa.date32()),
        ("term_start", pa.date32()),
        ("term_end", pa.date32()),
        ("territory", S),
        ("permitted_commercial", S),
        ("permitted_derivatives", S),
        ("permitted_ai_training", S),
        ("tdm_clause_text_hash", S),
        ("attribution_required", S),
        ("redistribution_allowed", S),
        ("size_bytes", I64),
        ("size_tokens", I64),
        ("used_in_models", LS),
        ("owner", S),
        ("review_status", S),
        ("reviewed_at", TS),
        ("reviewer", S),
        ("evidence_refs", LS),
        ("extra_json", S),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "runs": RUNS,
    "decisions": DECISIONS,
    "fetches": FETCHES,
    "snapshots": SNAPSHOTS,
    "licences": LICENCES,
}


def with_metadata(table: str, schema: pa.Schema, tool_version: str) -> pa.Schema:
    """The schema carrying the table name and version in the Parquet key-value metadata."""
    return schema.with_metadata(
        {
            b"tdmscan.table": table.encode(),
            b"tdmscan.schema_version": str(SCHEMA_VERSIONS[table]).encode(),
            b"tdmscan.tool_version": tool_version.encode(),
        }
    )
