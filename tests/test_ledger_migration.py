"""Ledger schema versions: a ledger written before a column existed reads, grows and compacts.

The old ledger is rebuilt here the way an older writer laid it out: the version-1 schema
anchors and segments whose Parquet metadata says version 1 and that lack the later columns,
each entered in the hash chain, so ``verify`` must still pass.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tdmscan.ledger import DecisionContext, Ledger, RunInfo
from tdmscan.ledger import schema as S
from tdmscan.ledger.chain import Chain
from tdmscan.ledger.segments import write_segment
from tdmscan.types import Decision, Fetched, SiteFiles

#: Columns each table gained after version 1 (the oldest layout a ledger can have).
LATER = {
    "decisions": ("page_checked", "captured_at"),
    "fetches": ("archived_at",),
    "runs": ("shard_k", "shard_n"),
}
T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)


def _v1(table: str, t: pa.Table) -> pa.Table:
    drop = [c for c in t.column_names if c in LATER.get(table, ())]
    t = t.drop_columns(drop)
    meta = dict(t.schema.metadata or {})
    meta[b"tdmscan.schema_version"] = b"1"
    return t.replace_schema_metadata(meta)


def _old_ledger(src: Path, dst: Path) -> None:
    """Copy ``src`` (written by this version) into ``dst`` as a version-1 writer would have."""
    chain = Chain(str(dst))
    # The tables a version-1 ledger had (the complaints table came later).
    for table in S.RUN_VERSIONED_TABLES:
        anchor = (
            S.SCHEMAS[table]
            .empty_table()
            .replace_schema_metadata(
                {b"tdmscan.table": table.encode(), b"tdmscan.schema_version": b"1"}
            )
        )
        rel = {
            "runs": "runs/run=_schema",
            "decisions": "decisions/run=_schema/shard=0",
            "fetches": "fetches/run=_schema",
            "snapshots": "snapshots",
            "licences": "licences/run=_schema",
        }[table]
        write_segment(
            str(dst), chain, table, rel, _v1(table, anchor), name="_schema-v1.parquet", op="schema"
        )
    for f in sorted(src.rglob("part-*.parquet")):
        rel_dir = str(f.parent.relative_to(src))
        table = rel_dir.split("/")[0]
        t = _v1(table, pq.read_table(f))
        write_segment(str(dst), chain, table, rel_dir, t, name=f.name, run_id=None)


def _write_run(
    led: Ledger, n: int, captured: datetime | None, archived: bool, flush_rows: int = 10_000
) -> str:
    site = SiteFiles(
        "https://a.example",
        robots=Fetched(
            status=200,
            body=b"User-agent: *\nDisallow: /x\n",
            url="https://a.example/robots.txt",
            fetched_at=T0,
        ),
    )
    run = RunInfo(kind="audit")
    with led.writer(run, shards=2, flush_rows=flush_rows, flush_seconds=None) as w:
        w.add_site(site, archived=archived)
        for i in range(n):
            w.add(
                Decision(url=f"https://a.example/p{i}", agent="bot", verdict="allowed"),
                DecisionContext(source_kind="manifest_audit", input_row=i, captured_at=captured),
            )
    return run.run_id


def test_v1_ledger_reads_grows_and_compacts(tmp_path: Path) -> None:
    src, old = tmp_path / "src", tmp_path / "old"
    # Several small segments per partition, so compaction has v1 parts to merge.
    old_run = _write_run(Ledger(src), 30, None, archived=False, flush_rows=4)
    _old_ledger(src, old)
    assert not list(old.rglob("_schema-v2.parquet"))
    seg = next((old / "decisions").rglob("part-*.parquet"))
    assert "captured_at" not in pq.ParquetFile(seg).schema_arrow.names

    led = Ledger(old)  # opening with this version adds the current anchors
    assert (
        old / "decisions/run=_schema/shard=0" / f"_schema-v{S.SCHEMA_VERSIONS['decisions']}.parquet"
    ).exists()
    con = led.connect()
    assert con.sql(
        "SELECT count(*), count(captured_at) FROM decisions WHERE run_id = ?", params=[old_run]
    ).fetchall() == [(30, 0)]
    assert con.sql("SELECT count(archived_at) FROM fetches").fetchall() == [(0,)]

    new_run = _write_run(led, 20, T0 - timedelta(hours=3), archived=True)
    con = led.connect()
    rows = con.sql(
        "SELECT run_id, count(*), count(captured_at), min(captured_at) FROM decisions"
        " GROUP BY run_id ORDER BY count(*)"
    ).fetchall()
    assert rows == [(new_run, 20, 20, T0 - timedelta(hours=3)), (old_run, 30, 0, None)]
    assert con.sql(
        "SELECT archived_at FROM fetches WHERE run_id = ?", params=[new_run]
    ).fetchall() == [(T0,)]

    before = sorted(map(str, con.sql("SELECT * EXCLUDE (shard) FROM decisions").fetchall()))
    rep = led.compact(small_rows=1_000)
    assert rep.written > 0
    con = led.connect()
    after = sorted(map(str, con.sql("SELECT * EXCLUDE (shard) FROM decisions").fetchall()))
    assert after == before
    # Merged segments holding v1 rows are written at the current version with every column.
    merged = [
        pq.ParquetFile(p).schema_arrow
        for p in old.rglob("*.parquet")
        if "compact" in p.name and "/decisions/" in str(p)
    ]
    assert merged
    for schema in merged:
        assert (
            schema.metadata[b"tdmscan.schema_version"]
            == str(S.SCHEMA_VERSIONS["decisions"]).encode()
        )
        assert schema.names == S.DECISIONS.names
    assert led.verify().ok


def test_upgrade_passes_through_every_step() -> None:
    for table, current in S.SCHEMA_VERSIONS.items():
        for v in range(1, current):
            assert v in S.MIGRATIONS.get(table, {}), f"{table}: no step from v{v}"
    t = S.DECISIONS.empty_table().drop_columns(["captured_at"])
    up = S.upgrade("decisions", t, version=1)
    assert up.schema.names == S.DECISIONS.names
    with pytest.raises(ValueError, match="no migration"):
        S.upgrade("snapshots", S.SNAPSHOTS.empty_table(), version=0)
