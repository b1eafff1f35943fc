"""Arrow schemas of the ledger tables, versioned.

Bump a table's version whenever a column is added, removed or retyped, and register the
step in :data:`MIGRATIONS`. Old segments stay readable: the views read with
``union_by_name`` and each version's zero-row schema anchor file keeps every column known to
DuckDB even before a row has been written. Code that reads a segment into Arrow (compaction)
passes it through :func:`upgrade`, which applies every step from the segment's version to
the current one in order, so a ledger several versions old takes the same path as one a
single version behind.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

#: Current schema version of each table. Written into every segment's file metadata
#: (``tdmscan.schema_version``) and into the ``runs.schema_versions`` column.
SCHEMA_VERSIONS: dict[str, int] = {
    "runs": 2,  # v2: shard_k, shard_n
    "decisions": 3,  # v2: page_checked, v3: captured_at
    "fetches": 2,  # v2: archived_at
    "snapshots": 1,
    "licences": 1,
    "complaints": 1,
    "rollups": 1,
    "seals": 1,
}

TABLES: tuple[str, ...] = (
    "runs",
    "decisions",
    "fetches",
    "snapshots",
    "licences",
    "complaints",
    "rollups",
    "seals",
)
#: The tables whose versions ``runs.schema_versions`` records: fixed, so adding a table does
#: not change the type of that column (older runs segments keep reading with the new ones).
RUN_VERSIONED_TABLES: tuple[str, ...] = ("runs", "decisions", "fetches", "snapshots", "licences")

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
SCHEMA_VERSION_STRUCT = pa.struct([(t, pa.int32()) for t in RUN_VERSIONED_TABLES])

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
        # When the content was collected (the manifest's capture time: CC index timestamp,
        # WARC-Date), as opposed to checked_at, when the decision was made. An as-of audit
        # decides against the site files archived around this time. Added in decisions v3.
        ("captured_at", TS),
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
        # Set when the response is an archived copy (a WARC record) rather than a live fetch:
        # the archive's capture time (WARC-Date). Added in fetches v2; NULL means live.
        ("archived_at", TS),
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

# Licence inventory (public-summary template section 2.2, licensed datasets); anything
# without a column goes into extra_json.
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

# Complaints register (Code of Practice measure 1.5): an event log, one row per event of a
# complaint (received, rechecked, resolved), append-only like every table; the view
# complaints_state folds the events into the current state of each complaint.
COMPLAINTS = pa.schema(
    [
        ("complaint_id", S),
        ("event", S),  # received | rechecked | resolved
        ("run_id", S),
        ("recorded_at", TS),
        ("received_at", TS),
        ("complainant", S),
        ("contact", S),
        ("domains", LS),
        ("urls", LS),
        ("claim", S),
        ("status", S),  # open | resolved
        ("resolution", S),
        ("resolved_at", TS),
        ("exclude_until_resolved", B),
        ("recheck_run_id", S),
        ("decision_ids", LS),
        ("note", S),
    ]
)

# Rollups: compact counts written when a run (or one shard of it) closes, one row per
# registrable domain x agent x purpose x verdict x first reason x decisive protocol, so the
# reports' domain and verdict figures do not grow with the number of decisions.
ROLLUPS = pa.schema(
    [
        ("run_id", S),
        ("shard_k", I32),
        ("registrable_domain", S),
        ("agent", S),
        ("purpose", S),
        ("verdict", S),
        ("reason", S),
        ("protocol", S),
        ("decisions", I64),
        ("content_bytes", I64),
        ("sized", I64),
        ("first_checked", TS),
        ("last_checked", TS),
        ("written_at", TS),
    ]
)

# RFC 3161 time-stamp tokens over the chain head (``tdmscan ledger seal``): each row proves
# the ledger up to ``chain_head`` existed no later than ``gen_time``.
SEALS = pa.schema(
    [
        ("seal_id", S),
        ("run_id", S),
        ("recorded_at", TS),
        ("chain_head", S),
        ("chain_entries", I64),
        ("message_sha256", S),
        ("tsa_url", S),
        ("gen_time", TS),
        ("serial_number", S),
        ("policy", S),
        ("nonce", S),
        ("token", pa.binary()),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "runs": RUNS,
    "decisions": DECISIONS,
    "fetches": FETCHES,
    "snapshots": SNAPSHOTS,
    "licences": LICENCES,
    "complaints": COMPLAINTS,
    "rollups": ROLLUPS,
    "seals": SEALS,
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


#: One step per version bump: ``MIGRATIONS[table][v]`` turns a table of version ``v`` into
#: version ``v + 1``. A step sees only its own version's columns and must not assume others.
Migration = Callable[[pa.Table], pa.Table]


def _add_null_column(name: str, typ: pa.DataType) -> Migration:
    def step(t: pa.Table) -> pa.Table:
        if name in t.column_names:
            return t
        return t.append_column(pa.field(name, typ), pa.nulls(t.num_rows, typ))

    return step


MIGRATIONS: dict[str, dict[int, Migration]] = {
    "runs": {1: lambda t: _add_null_column("shard_n", I32)(_add_null_column("shard_k", I32)(t))},
    "decisions": {1: _add_null_column("page_checked", B), 2: _add_null_column("captured_at", TS)},
    "fetches": {1: _add_null_column("archived_at", TS)},
}


def segment_version(schema: pa.Schema) -> int:
    """The schema version a segment was written with (1 when the metadata predates it)."""
    meta = schema.metadata or {}
    try:
        return int(meta.get(b"tdmscan.schema_version", b"1"))
    except ValueError:
        return 1


def upgrade(table: str, t: pa.Table, version: int | None = None) -> pa.Table:
    """``t`` (a segment of ``table`` at ``version``, default: from its metadata) brought to the
    current version by applying each migration step in turn, columns in the current order."""
    v = segment_version(t.schema) if version is None else version
    steps = MIGRATIONS.get(table, {})
    while v < SCHEMA_VERSIONS[table]:
        step = steps.get(v)
        if step is None:
            raise ValueError(f"no migration for {table} v{v} -> v{v + 1}")
        t = step(t)
        v += 1
    current = SCHEMAS[table]
    if set(t.column_names) <= set(current.names):
        t = pa.Table.from_arrays(
            [
                t.column(f.name).cast(f.type)
                if f.name in t.column_names
                else pa.nulls(t.num_rows, f.type)
                for f in current
            ],
            schema=current,
        )
    return t
