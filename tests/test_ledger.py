"""The provenance ledger: round trip, crash safety, concurrency, tamper evidence, compaction."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tdmscan.ledger import (
    PSL_VERSION,
    SCHEMA_VERSIONS,
    DecisionContext,
    Ledger,
    RunInfo,
    registrable_domain,
    shard_of,
)
from tdmscan.ledger.chain import entry_hash
from tdmscan.types import Decision, Evidence, Fetched, RobotsOutcome, SiteFiles

# robots.txt with a BOM, CRLF line ends and bytes that are not UTF-8: must come back identical.
ROBOTS_BODY = b"\xef\xbb\xbfUser-agent: GPTBot\r\nDisallow: /private/\r\n# caf\xe9 \xff\xfe\r\n"
TDMREP_BODY = b'[{"location": "/*", "tdm-reservation": 1, "tdm-policy": "https://p.example/pol"}]'
T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def site(origin: str = "https://www.example.co.uk") -> SiteFiles:
    robots = Fetched(
        status=200,
        headers=[("Content-Type", "text/plain"), ("ETag", '"r1"'), ("Cache-Control", "max-age=60")],
        body=ROBOTS_BODY,
        url=origin + "/robots.txt",
        final_url=origin + "/robots.txt",
        fetched_at=T0,
        elapsed=0.012,
    )
    tdmrep = Fetched(
        status=200,
        headers=[
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("Content-Length", "41"),
            ("Last-Modified", "Mon, 01 Dec 2025 00:00:00 GMT"),
        ],
        body=TDMREP_BODY,
        url=origin + "/.well-known/tdmrep.json",
        final_url=origin + "/.well-known/tdmrep.json",
        redirects=(origin + "/tdmrep-old.json",),
        fetched_at=T0 + timedelta(seconds=1),
        elapsed=0.02,
    )
    ai_txt = Fetched(status=None, error="timeout", url=origin + "/ai.txt", fetched_at=T0)
    return SiteFiles(origin=origin, robots=robots, tdmrep=tdmrep, ai_txt=ai_txt, fetched_at=T0)


def full_decision(url: str = "https://www.example.co.uk/private/a.html", agent: str = "GPTBot"):
    s = site()
    assert s.robots is not None and s.tdmrep is not None
    robots = RobotsOutcome(
        branch="parsed",
        status=200,
        url=s.robots.url,
        sha256=s.robots.sha256,
        fetched_at=T0,
        verdict="disallow",
        matched_line=3,
        matched_rule="Disallow: /private/",
        group="GPTBot",
        truncated=False,
        error=None,
    )
    ev = (
        Evidence(
            protocol="robots",
            locator="robots.txt line 3",
            raw="Disallow: /private/",
            interpretation="reserved",
            reason="robots:disallow",
            spec_version="RFC 9309",
            source_url=s.robots.url,
            sha256=s.robots.sha256,
            strength="explicit",
            decisive=True,
        ),
        Evidence(
            protocol="aipref",
            locator="header Content-Usage",
            raw="train-ai=n",
            interpretation="reserved",
            reason="aipref:train-ai=n",
            spec_version="draft-ietf-aipref-attach-04",
            source_url=url,
            sha256=None,
            strength="explicit",
            decisive=False,
        ),
    )
    return Decision(
        url=url,
        agent=agent,
        verdict="reserved",
        reasons=("robots:disallow", "tdmrep:reserved", "aipref:train-ai=n"),
        evidence=ev,
        purpose="train-ai",
        mode="conservative",
        tdm_policy="https://p.example/pol",
        licences=("CC-BY-4.0", "LicenseRef-x"),
        robots=robots,
        tdm_reservation=1,
        tdm_source="file",
        tdmrep_sha256=s.tdmrep.sha256,
        final_url=url + "?final",
        errors=("ai-txt:timeout",),
    ), s


FULL_CTX = DecisionContext(
    source_kind="manifest_audit",
    content_size=12345,
    dataset_id="CC-MAIN-2025-51",
    snapshot_id="snap-7",
    input_row=42,
    final_url=None,
    warc_file="crawl-00001.warc.gz",
    warc_record_id="<urn:uuid:8e6f1c2a-0000-4000-8000-000000000001>",
    warc_offset=987654321,
    checked_at=T0 + timedelta(minutes=5),
    captured_at=T0 - timedelta(days=400),
)


def simple(i: int, verdict: str = "allowed", host: str | None = None) -> Decision:
    host = host or f"h{i % 97}.example{i % 13}.com"
    return Decision(url=f"https://{host}/p/{i}", agent="GPTBot", verdict=verdict)


# -- round trip ---------------------------------------------------------------------------


def test_round_trip_every_column(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    d, s = full_decision()
    run = RunInfo(
        kind="audit",
        agents=["MyBot", "GPTBot"],
        user_agent="MyBot/1.0 (+https://me.example/bot)",
        config={"mode": "conservative", "ttl": 86400},
        input_description="manifest.parquet",
        input_sha256="ab" * 32,
        dataset_id="CC-MAIN-2025-51",
    )
    with led.writer(run, shards=8) as w:
        w.add_site(s)
        w.add(d, FULL_CTX)
    con = led.connect()
    rel = con.sql("SELECT * FROM decisions")
    rows = rel.fetchall()
    assert len(rows) == 1
    got = dict(zip(rel.columns, rows[0], strict=True))
    expected = {
        "run_id": run.run_id,
        "url": d.url,
        "final_url": d.final_url,
        "origin": "https://www.example.co.uk",
        "host": "www.example.co.uk",
        "registrable_domain": "example.co.uk",
        "agent": "GPTBot",
        "purpose": "train-ai",
        "mode": "conservative",
        "verdict": "reserved",
        "reasons": list(d.reasons),
        "checked_at": FULL_CTX.checked_at,
        "robots_url": "https://www.example.co.uk/robots.txt",
        "robots_sha256": hashlib.sha256(ROBOTS_BODY).hexdigest(),
        "robots_fetched_at": T0,
        "robots_status": 200,
        "robots_branch": "parsed",
        "robots_verdict": "disallow",
        "robots_matched_rule": "Disallow: /private/",
        "robots_matched_line": 3,
        "robots_group": "GPTBot",
        "robots_truncated": False,
        "robots_error": None,
        "tdm_reservation": 1,
        "tdm_source": "file",
        "tdm_policy": "https://p.example/pol",
        "tdmrep_sha256": hashlib.sha256(TDMREP_BODY).hexdigest(),
        "evidence": [e.to_dict() for e in d.evidence],
        "licences": ["CC-BY-4.0", "LicenseRef-x"],
        "content_size": 12345,
        "source_kind": "manifest_audit",
        "dataset_id": "CC-MAIN-2025-51",
        "snapshot_id": "snap-7",
        "tool_version": run.tool_version,
        "config_sha256": run.config_sha256,
        "errors": ["ai-txt:timeout"],
        "warc_file": "crawl-00001.warc.gz",
        "warc_record_id": FULL_CTX.warc_record_id,
        "warc_offset": 987654321,
        "input_row": 42,
        "page_checked": False,
        "captured_at": FULL_CTX.captured_at,
        "shard": shard_of("example.co.uk", 8),
    }
    for k, v in expected.items():
        assert got[k] == v, k
    assert len(got["decision_id"]) == 36 and got["decision_id"][14] == "8"
    assert set(got) == set(expected) | {"decision_id"}
    # The latest_decisions view returns the same row unchanged.
    rel2 = con.sql("SELECT * FROM latest_decisions")
    assert dict(zip(rel2.columns, rel2.fetchall()[0], strict=True)) == got
    # Also through pyarrow directly (no DuckDB), timestamps are UTC microseconds.
    seg = next((tmp_path / "L" / "decisions" / f"run={run.run_id}").rglob("part-*.parquet"))
    pf = pq.ParquetFile(seg)
    assert pf.schema_arrow.field("checked_at").type == pa.timestamp("us", tz="UTC")
    meta = pf.schema_arrow.metadata
    assert meta[b"tdmscan.table"] == b"decisions" and (
        meta[b"tdmscan.schema_version"] == str(SCHEMA_VERSIONS["decisions"]).encode()
    )

    runs = con.sql("SELECT * FROM runs")
    r = dict(zip(runs.columns, runs.fetchall()[0], strict=True))
    assert r["status"] == "finished" and r["decisions"] == 1
    assert r["verdict_counts"] == {"allowed": 0, "reserved": 1, "unknown": 0, "invalid": 0}
    assert r["agents"] == ["MyBot", "GPTBot"] and r["user_agent"] == run.user_agent
    assert json.loads(r["config_json"]) == run.config
    assert r["config_sha256"] == hashlib.sha256(b'{"mode":"conservative","ttl":86400}').hexdigest()
    assert r["psl_version"] == PSL_VERSION and "PSL 20" in PSL_VERSION
    assert r["schema_versions"]["decisions"] == SCHEMA_VERSIONS["decisions"] and r["fetches"] == 3
    assert r["input_sha256"] == "ab" * 32 and r["shards"] == 8

    f = con.sql("SELECT * FROM fetches ORDER BY kind")
    fetches = [dict(zip(f.columns, row, strict=True)) for row in f.fetchall()]
    by_kind = {x["kind"]: x for x in fetches}
    assert set(by_kind) == {"robots", "tdmrep", "ai-txt"}
    t = by_kind["tdmrep"]
    assert t["redirects"] == ["https://www.example.co.uk/tdmrep-old.json"]
    assert t["content_encoding"] == "gzip" and t["content_length"] == "41"
    assert t["last_modified"] == "Mon, 01 Dec 2025 00:00:00 GMT"
    assert t["size"] == len(TDMREP_BODY) and t["fetched_at"] == T0 + timedelta(seconds=1)
    assert by_kind["robots"]["etag"] == '"r1"' and by_kind["robots"]["elapsed_s"] == 0.012
    a = by_kind["ai-txt"]
    assert a["status"] is None and a["error"] == "timeout" and a["sha256"] is None
    assert all(x["archived_at"] is None for x in fetches)  # live fetches, not archived copies
    # Only responses that arrived become snapshots.
    assert con.sql("SELECT count(*) FROM snapshots").fetchall() == [(2,)]


def test_evidence_view_is_byte_identical(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    d, s = full_decision()
    with led.writer(RunInfo()) as w:
        w.add_site(s)
        w.add(d)
        w.add(Decision(url="https://other.example/x", agent="GPTBot", verdict="allowed"))
    rows = (
        led.connect()
        .sql("SELECT url, robots_txt, tdmrep_json FROM evidence ORDER BY url")
        .fetchall()
    )
    assert rows[0] == ("https://other.example/x", None, None)
    assert rows[1][1] == ROBOTS_BODY and rows[1][2] == TDMREP_BODY
    assert isinstance(rows[1][1], bytes)


def test_snapshots_stored_once_across_runs(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    for _ in range(2):
        with led.writer(RunInfo()) as w:
            for _ in range(3):
                w.add_site(site())
    con = led.connect()
    assert con.sql("SELECT count(*) FROM fetches").fetchall() == [(18,)]
    files = [e for e in led.live_segments("snapshots") if e["rows"]]
    assert sum(e["rows"] for e in files) == 2  # robots + tdmrep, once for both runs


def test_empty_ledger_views_work(tmp_path: Path) -> None:
    con = Ledger(tmp_path / "L").connect()
    for view in (
        "runs",
        "run_history",
        "decisions",
        "fetches",
        "snapshots",
        "licences",
        "latest_decisions",
        "evidence",
    ):
        assert con.sql(f"SELECT count(*) FROM {view}").fetchall() == [(0,)], view
    # Typed even when empty: a report can rely on the columns.
    cols = {r[0]: r[1] for r in con.sql("DESCRIBE decisions").fetchall()}
    assert cols["checked_at"] == "TIMESTAMP WITH TIME ZONE" and cols["shard"] == "INTEGER"
    assert cols["evidence"].startswith("STRUCT(protocol VARCHAR")
    assert Ledger(tmp_path / "L").verify().ok


def test_views_usable_from_plain_duckdb(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    with led.writer(RunInfo()) as w:
        w.add_many([simple(i) for i in range(10)])
    con = duckdb.connect()
    con.execute(led.view_sql())
    assert con.sql("SELECT count(*) FROM latest_decisions").fetchall() == [(10,)]


def test_licences_table(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    with led.writer(RunInfo(kind="licence-import")) as w:
        n = w.add_licences(
            [
                {
                    "dataset_id": "ds1",
                    "name": "News archive",
                    "licence_id": "LicenseRef-contract-17",
                    "permitted_ai_training": "express",
                    "modalities": ["text"],
                    "custom_field": 5,
                }
            ]
        )
    assert n == 1
    rows = led.connect().sql("SELECT dataset_id, modalities, extra_json FROM licences").fetchall()
    assert rows == [("ds1", ["text"], '{"custom_field": 5}')]


# -- domains and shards -------------------------------------------------------------------


def test_registrable_domain() -> None:
    assert registrable_domain("www.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("myblog.blogspot.com") == "blogspot.com"
    assert registrable_domain("myblog.blogspot.com", private=True) == "myblog.blogspot.com"
    assert registrable_domain("127.0.0.1") == "127.0.0.1"
    assert registrable_domain("[::1]") == "[::1]"
    assert registrable_domain("localhost") == "localhost"
    assert registrable_domain("WWW.Example.COM.") == "example.com"
    assert registrable_domain(None) is None


def test_shard_matches_duckdb_md5_number() -> None:
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-.äöüßé日本"
    strings = ["", "example.com", "bbc.co.uk", "xn--bcher-kva.example"]
    strings += [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(3000)
    ]
    con = duckdb.connect()
    con.execute("CREATE TABLE t(s VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?)", [[s] for s in strings])
    for n in (1, 2, 7, 16, 64, 1000, 2**31 - 1):
        got = con.execute(f"SELECT s, CAST(md5_number(s) % {n} AS BIGINT) FROM t").fetchall()
        assert len(got) == len(strings)
        for s, k in got:
            assert shard_of(s, n) == k, (s, n)


def test_partitions_follow_shard_function(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    with led.writer(RunInfo(), shards=5) as w:
        w.add_many([simple(i) for i in range(500)])
    bad = (
        led.connect()
        .sql("SELECT count(*) FROM decisions WHERE shard <> md5_number(registrable_domain) % 5")
        .fetchall()
    )
    assert bad == [(0,)]


# -- buffering, flushing, resume ------------------------------------------------------------


def test_flush_by_rows_and_by_time(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    run = RunInfo()
    w = led.writer(run, shards=1, flush_rows=100, flush_seconds=0.2)
    try:
        w.add_many([simple(i) for i in range(250)])
        assert len(led.decided_keys(run.run_id)) == 200  # two full segments
        deadline = time.monotonic() + 5
        while len(led.decided_keys(run.run_id)) < 250 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(led.decided_keys(run.run_id)) == 250  # the timer flushed the rest
    finally:
        w.close()


def test_exception_marks_run_interrupted_and_keeps_rows(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    run = RunInfo()
    with pytest.raises(KeyError), led.writer(run, flush_seconds=None) as w:
        w.add_many([simple(i) for i in range(30)])
        raise KeyError("boom")
    row = led.connect().sql("SELECT status, decisions, error FROM runs").fetchall()[0]
    assert row == ("interrupted", 30, "KeyError: 'boom'")


def test_decided_keys_and_resume(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    run = RunInfo(kind="audit")
    ctxs = [DecisionContext(source_kind="manifest_audit", input_row=i) for i in range(50)]
    with led.writer(run) as w:
        w.add_many([simple(i) for i in range(50)], ctxs)
        w.add(simple(99))  # no input row: keyed by URL
    keys = led.decided_keys(run.run_id)
    assert (7, "GPTBot") in keys and ("https://h2.example8.com/p/99", "GPTBot") in keys
    assert len(keys) == 51
    # Resume the same run: counts accumulate over both writers.
    with led.writer(RunInfo(kind="audit", run_id=run.run_id)) as w:
        w.add(simple(100))
    row = led.connect().sql("SELECT status, decisions FROM runs").fetchall()
    assert row == [("finished", 52)]


def test_invalid_url_rows_are_kept(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    with led.writer(RunInfo()) as w:
        w.add(
            Decision(url="ftp://x/y", agent="A", verdict="invalid", reasons=("invalid:not-http",))
        )
        w.add(Decision(url="", agent="A", verdict="invalid"))
    rows = (
        led.connect()
        .sql("SELECT url, origin, registrable_domain, shard FROM decisions ORDER BY url")
        .fetchall()
    )
    assert rows == [
        ("", None, None, shard_of(None, 16)),
        ("ftp://x/y", None, None, shard_of(None, 16)),
    ]


def test_bad_inputs_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        DecisionContext(source_kind="nope")
    with pytest.raises(ValueError):
        RunInfo(run_id="a/b")
    led = Ledger(tmp_path / "L")
    with led.writer(RunInfo()) as w, pytest.raises(ValueError):
        w.add_fetch(Fetched(status=200), "favicon", "https://a.example")


# -- crash safety and concurrency ------------------------------------------------------------

WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    from tdmscan.ledger import Ledger, RunInfo, DecisionContext
    from tdmscan.types import Decision, Fetched, SiteFiles
    root, run_id, start, count, flush = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    led = Ledger(root)
    with led.writer(RunInfo(run_id=run_id), shards=4, flush_rows=flush, flush_seconds=None) as w:
        for i in range(start, start + count):
            if i % 50 == 0:
                body = b"User-agent: *\\nDisallow: /%d\\n" % (i % 7)
                w.add_site(SiteFiles(origin=f"https://s{i % 7}.example.org",
                                     robots=Fetched(status=200, body=body)))
            w.add(Decision(url=f"https://h{i % 31}.example{i % 5}.com/p/{i}", agent="GPTBot",
                           verdict=("allowed", "reserved", "unknown")[i % 3]),
                  DecisionContext(source_kind="manifest_audit", input_row=i))
    """
)


def _spawn(root: Path, run_id: str, start: int, count: int, flush: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, str(root), run_id, str(start), str(count), str(flush)]
    )


def _chain_len(root: Path) -> int:
    try:
        return (root / "chain.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.mark.parametrize("kill_after", [8, 23, 41])
def test_sigkill_leaves_readable_verified_ledger(tmp_path: Path, kill_after: int) -> None:
    root = tmp_path / "L"
    Ledger(root)
    base = _chain_len(root)
    proc = _spawn(root, "20260101T000000Z-crash", 0, 10_000_000, 97)
    try:
        deadline = time.monotonic() + 60
        while _chain_len(root) < base + kill_after and time.monotonic() < deadline:
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    led = Ledger(root)
    rep = led.verify()
    assert rep.ok, rep.issues
    # Every segment is complete and readable, and the views see them all.
    for f in root.rglob("*.parquet"):
        pq.read_table(f)
    con = led.connect()
    n = con.sql("SELECT count(*) FROM decisions").fetchall()[0][0]
    assert (n > 0 and n % 97 == 0) or rep.pending  # whole segments only
    # Resume: exactly the flushed rows are known; redo the rest in the same run.
    done = led.decided_keys("20260101T000000Z-crash")
    assert len(done) == n or rep.pending
    with led.writer(RunInfo(run_id="20260101T000000Z-crash"), flush_seconds=None) as w:
        for i in range(max(k for k, _ in done) + 1, max(k for k, _ in done) + 11):
            w.add(simple(i), DecisionContext(source_kind="manifest_audit", input_row=i))
    assert led.verify().ok
    status = con.sql("SELECT status FROM runs").fetchall()
    assert status == [("finished",)]


def test_two_concurrent_writers(tmp_path: Path) -> None:
    root = tmp_path / "L"
    Ledger(root)
    procs = [_spawn(root, "20260101T000000Z-conc", k * 20_000, 20_000, 1000) for k in range(2)]
    for p in procs:
        assert p.wait(timeout=240) == 0
    led = Ledger(root)
    rep = led.verify()
    assert rep.ok, rep.issues
    con = led.connect()
    assert con.sql(
        "SELECT count(*), count(DISTINCT input_row), min(input_row), max(input_row), "
        "count(DISTINCT decision_id) FROM decisions"
    ).fetchall() == [(40_000, 40_000, 0, 39_999, 40_000)]
    # Each process may store a body once; the view still has one row per hash.
    assert con.sql("SELECT count(*) FROM snapshots").fetchall() == [(7,)]
    entries = [json.loads(x) for x in (root / "chain.jsonl").read_text().splitlines()]
    assert [e["seq"] for e in entries] == list(range(len(entries)))


# -- tamper evidence --------------------------------------------------------------------------


def _small_ledger(root: Path) -> Ledger:
    led = Ledger(root)
    with led.writer(RunInfo(), shards=2, flush_rows=20, flush_seconds=None) as w:
        w.add_site(site())
        w.add_many([simple(i) for i in range(100)])
    assert led.verify().ok
    return led


def _one(root: Path, pattern: str) -> Path:
    return sorted(root.glob(pattern))[0]


def test_verify_detects_edited_byte(tmp_path: Path) -> None:
    led = _small_ledger(tmp_path / "L")
    seg = _one(tmp_path / "L", "decisions/run=2*/shard=*/part-*.parquet")
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x01
    seg.write_bytes(bytes(data))
    rep = led.verify()
    assert not rep.ok and [i.kind for i in rep.issues] == ["modified"]


def test_verify_detects_deleted_segment(tmp_path: Path) -> None:
    led = _small_ledger(tmp_path / "L")
    _one(tmp_path / "L", "decisions/run=2*/shard=*/part-*.parquet").unlink()
    rep = led.verify()
    assert [i.kind for i in rep.issues] == ["missing"]


def test_verify_detects_added_segment(tmp_path: Path) -> None:
    led = _small_ledger(tmp_path / "L")
    seg = _one(tmp_path / "L", "decisions/run=2*/shard=*/part-*.parquet")
    (seg.parent / "part-forged.parquet").write_bytes(seg.read_bytes())
    rep = led.verify()
    assert [i.kind for i in rep.issues] == ["extra"]


def test_verify_detects_broken_chain_link(tmp_path: Path) -> None:
    led = _small_ledger(tmp_path / "L")
    chain = tmp_path / "L" / "chain.jsonl"
    lines = chain.read_text().splitlines()
    e = json.loads(lines[6])
    e["rows"] += 1
    lines[6] = json.dumps(e, sort_keys=True, separators=(",", ":"))
    chain.write_text("\n".join(lines) + "\n")
    assert "chain" in {i.kind for i in led.verify().issues}


def test_verify_detects_tampered_snapshot_even_with_rewritten_chain(tmp_path: Path) -> None:
    root = tmp_path / "L"
    led = _small_ledger(root)
    old_head = led.head()
    seg = next(root.glob("snapshots/part-*.parquet"))
    t = pq.read_table(seg)
    bodies = t.column("body").to_pylist()
    bodies[0] = bodies[0].replace(b"Disallow", b"Allow:  ")
    t = t.set_column(t.schema.get_field_index("body"), "body", pa.array(bodies, pa.binary()))
    pq.write_table(t, seg)
    # First the naive tamper: the segment hash no longer matches.
    kinds = {i.kind for i in led.verify().issues}
    assert {"modified", "snapshot"} <= kinds
    # Now a forger who recomputes the whole chain: only content addressing (and a published
    # head) catch it.
    chain = root / "chain.jsonl"
    entries = [json.loads(x) for x in chain.read_text().splitlines()]
    prev = "0" * 64
    rel = seg.relative_to(root).as_posix()
    for e in entries:
        if e["path"] == rel:
            e["sha256"] = hashlib.sha256(seg.read_bytes()).hexdigest()
            e["bytes"] = seg.stat().st_size
        e["prev"] = prev
        e["entry_hash"] = entry_hash(e)
        prev = e["entry_hash"]
    chain.write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
    rep = led.verify()
    assert [i.kind for i in rep.issues] == ["snapshot"]
    assert "head" in {i.kind for i in led.verify(expected_head=old_head).issues}


def test_verify_accepts_pending_commit_and_recover_finishes_it(tmp_path: Path) -> None:
    led = _small_ledger(tmp_path / "L")
    seg = _one(tmp_path / "L", "decisions/run=2*/shard=*/part-*.parquet")
    # The state a crash between chain append and rename leaves behind.
    seg.rename(seg.parent / f".{seg.name}.tmp")
    rep = led.verify()
    assert rep.ok and rep.pending == [seg.relative_to(tmp_path / "L").as_posix()]
    assert led.recover() == 1 and seg.exists()
    assert led.verify().ok and not led.verify().pending


# -- compaction ------------------------------------------------------------------------------


def _multiset(con: duckdb.DuckDBPyConnection, view: str) -> list[tuple]:
    return sorted(
        (tuple(json.dumps(v, default=str, sort_keys=True) for v in row))
        for row in con.sql(f"SELECT * FROM {view}").fetchall()
    )


def test_compaction_preserves_rows(tmp_path: Path) -> None:
    root = tmp_path / "L"
    led = Ledger(root)
    for _ in range(2):
        with led.writer(RunInfo(), shards=3, flush_rows=37, flush_seconds=None) as w:
            for i in range(400):
                if i % 40 == 0:
                    w.add_site(site(f"https://s{i}.example.net"))
                    w.flush()
                w.add(simple(i, verdict=("allowed", "reserved")[i % 2]))
    con = led.connect()
    before = {v: _multiset(con, v) for v in ("decisions", "fetches", "snapshots", "run_history")}
    n_before = len(list(root.rglob("part-*.parquet")))
    rep = led.compact()
    assert rep.merged > rep.written > 0
    n_after = len(list(root.rglob("part-*.parquet")))
    assert n_after < n_before
    con = led.connect()
    after = {v: _multiset(con, v) for v in before}
    assert after == before
    v = led.verify()
    assert v.ok, v.issues
    assert any(
        e.get("replaces") for e in map(json.loads, (root / "chain.jsonl").read_text().splitlines())
    )
    # Idempotent: nothing left to merge.
    assert led.compact().merged == 0
    assert led.verify().ok


def test_ledger_written_before_page_checked_still_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decisions-v1 ledger (no page_checked column) opens read-only with the column as NULL,
    and a writer adds the v2 anchor so old and new rows read together."""
    import tdmscan.ledger.schema as schema_mod

    # v1 had neither page_checked (v2) nor captured_at (v3).
    later = ("page_checked", "captured_at")
    v1 = pa.schema([f for f in schema_mod.DECISIONS if f.name not in later])
    root = tmp_path / "old"
    d, _ = full_decision()
    with monkeypatch.context() as mp:
        mp.setitem(schema_mod.SCHEMA_VERSIONS, "decisions", 1)
        mp.setitem(schema_mod.SCHEMAS, "decisions", v1)
        import tdmscan.ledger.writer as writer_mod

        orig = writer_mod.LedgerWriter._decisions_table

        def v1_table(self: Any, rows: Any, chunks: Any = ()) -> pa.Table:
            t = orig(self, rows, chunks)
            return t.drop_columns(list(later)).replace_schema_metadata(
                {**t.schema.metadata, b"tdmscan.schema_version": b"1"}
            )

        mp.setattr(writer_mod.LedgerWriter, "_decisions_table", v1_table)
        with Ledger(root).writer(RunInfo(kind="audit")) as w:
            w.add(d)
    files = [p.name for p in root.rglob("*.parquet") if "decisions" in str(p)]
    assert "_schema-v1.parquet" in files and "_schema-v2.parquet" not in files
    old = Ledger(root, create=False).connect()
    assert old.execute("SELECT verdict, page_checked FROM decisions").fetchall() == [
        ("reserved", None)
    ]
    assert old.execute(
        "SELECT count(*) FROM latest_decisions WHERE page_checked IS NULL"
    ).fetchone() == (1,)
    old.close()
    led = Ledger(root)  # a writer's open adds the v2 anchor
    with led.writer(RunInfo(kind="audit")) as w:
        w.add(replace(d, page_checked=True, url=d.url + "?2"))
    con = led.connect()
    got = sorted(
        con.execute("SELECT url, page_checked FROM decisions").fetchall(), key=lambda r: r[0]
    )
    assert got == [(d.url, None), (d.url + "?2", True)]
    assert led.verify().ok
