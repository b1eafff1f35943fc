"""``tdmscan sql`` and ``tdmscan ledger`` through click's CliRunner."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from test_ledger import ROBOTS_BODY, T0, TDMREP_BODY, full_decision, site
from warcio.archiveiterator import ArchiveIterator

from tdmscan.cli import main
from tdmscan.ledger import Ledger, RunInfo
from tdmscan.types import Decision


@pytest.fixture()
def ledger_dir(tmp_path: Path) -> str:
    root = tmp_path / "L"
    led = Ledger(root)
    d, s = full_decision()
    with led.writer(RunInfo(agents=["GPTBot"])) as w:
        w.add_site(s)
        w.add(d)
        w.add(Decision(url="https://b.example/x", agent="GPTBot", verdict="allowed"))
    return str(root)


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_sql_table_csv_json(ledger_dir: str) -> None:
    q = "SELECT url, verdict, reasons FROM decisions ORDER BY url"
    r = run("sql", "--ledger", ledger_dir, q)
    assert r.exit_code == 0 and "reserved" in r.output and "2 row(s)" in r.output
    r = run("sql", "--ledger", ledger_dir, q, "--format", "csv")
    rows = list(csv.reader(io.StringIO(r.output)))
    assert rows[0] == ["url", "verdict", "reasons"]
    assert rows[1] == ["https://b.example/x", "allowed", "[]"]
    assert json.loads(rows[2][2])[0] == "robots:disallow"
    r = run("sql", "--ledger", ledger_dir, q, "--format", "json")
    data = json.loads(r.output)
    assert data[1]["verdict"] == "reserved" and len(data) == 2
    # Bytes that are not UTF-8 are base64 in JSON, and decode back to the exact bytes.
    r = run(
        "sql",
        "--ledger",
        ledger_dir,
        "SELECT robots_txt FROM evidence WHERE robots_txt IS NOT NULL",
        "--format",
        "json",
    )
    val = json.loads(r.output)[0]["robots_txt"]
    assert base64.b64decode(val.removeprefix("base64:")) == ROBOTS_BODY


def test_sql_parquet_needs_output(ledger_dir: str, tmp_path: Path) -> None:
    r = run("sql", "--ledger", ledger_dir, "SELECT 1", "--format", "parquet")
    assert r.exit_code == 2 and "--output" in r.output
    out = tmp_path / "r.parquet"
    r = run(
        "sql",
        "--ledger",
        ledger_dir,
        "SELECT url, tdmrep_json FROM evidence",
        "--format",
        "parquet",
        "--output",
        str(out),
    )
    assert r.exit_code == 0
    t = pq.read_table(out)
    assert t.num_rows == 2 and TDMREP_BODY in t.column("tdmrep_json").to_pylist()


def test_sql_errors_are_clean(ledger_dir: str, tmp_path: Path) -> None:
    r = run("sql", "--ledger", ledger_dir, "SELECT * FROM no_such_view")
    assert r.exit_code == 1 and "Error:" in r.output and "Traceback" not in r.output
    r = run("sql", "--ledger", str(tmp_path / "missing"), "SELECT 1")
    assert r.exit_code == 2 and "not a tdmscan ledger" in r.output
    r = run("sql", "--ledger", ledger_dir, "SELECT 1", "--format", "xml")
    assert r.exit_code == 2


def test_sql_views_prints_plain_duckdb(ledger_dir: str) -> None:
    import duckdb

    r = run("sql", "--ledger", ledger_dir, "--views")
    assert r.exit_code == 0
    for v in (
        "runs",
        "decisions",
        "fetches",
        "snapshots",
        "licences",
        "latest_decisions",
        "evidence",
    ):
        assert f"CREATE OR REPLACE VIEW {v} AS" in r.output
    assert "{ledger}" not in r.output and str(Path(ledger_dir).resolve()) in r.output
    con = duckdb.connect()
    con.execute(r.output)
    assert con.sql("SELECT count(*) FROM evidence").fetchall() == [(2,)]


def test_sql_interactive(ledger_dir: str) -> None:
    r = run(
        "sql",
        "--ledger",
        ledger_dir,
        input=(
            "SELECT count(*) AS n\nFROM decisions;\n.format csv\n"
            "SELECT 41 + 1 AS x;\nSELECT bad;\n.quit\n"
        ),
    )
    assert r.exit_code == 0
    assert "│ 2 │" in r.output or "2 " in r.output
    assert "x\n42" in r.output


def test_ledger_verify_exit_codes(ledger_dir: str) -> None:
    r = run("ledger", "verify", "--ledger", ledger_dir)
    assert r.exit_code == 0, r.output
    head = Ledger(ledger_dir).head()
    assert f"chain head: {head}" in r.output and "OK" in r.output
    r = run("ledger", "verify", "--ledger", ledger_dir, "--json")
    assert json.loads(r.output[: r.output.rindex("}") + 1])["ok"] is True
    seg = sorted(Path(ledger_dir).glob("decisions/run=2*/shard=*/part-*.parquet"))[0]
    seg.unlink()
    r = run("ledger", "verify", "--ledger", ledger_dir)
    assert r.exit_code == 1 and "FAIL missing" in r.output and "chain head:" in r.output
    r = run("ledger", "verify", "--ledger", ledger_dir + "-nope")
    assert r.exit_code == 2


def test_ledger_compact_cli(ledger_dir: str) -> None:
    r = run("ledger", "compact", "--ledger", ledger_dir)
    assert r.exit_code == 0 and "merged" in r.output
    assert run("ledger", "verify", "--ledger", ledger_dir).exit_code == 0


def test_export_warc_round_trip(ledger_dir: str, tmp_path: Path) -> None:
    out = tmp_path / "snap.warc.gz"
    r = run("ledger", "export-warc", "--ledger", ledger_dir, "--output", str(out))
    assert r.exit_code == 0 and "wrote 2 response records" in r.output
    s = site()
    by_uri = {}
    with open(out, "rb") as fh:
        for rec in ArchiveIterator(fh):
            if rec.rec_type == "response":
                body = rec.content_stream().read()
                by_uri[rec.rec_headers.get_header("WARC-Target-URI")] = (rec, body)
            else:
                assert rec.rec_type == "warcinfo"
    assert set(by_uri) == {s.robots.url, s.tdmrep.url}
    rec, body = by_uri[s.robots.url]
    assert body == ROBOTS_BODY
    assert rec.http_headers.get_statuscode() == "200"
    assert rec.http_headers.get_header("ETag") == '"r1"'
    digest = rec.rec_headers.get_header("WARC-Payload-Digest")
    assert digest == "sha256:" + base64.b32encode(hashlib.sha256(ROBOTS_BODY).digest()).decode()
    assert rec.rec_headers.get_header("WARC-Date") == "2026-01-02T03:04:05.123456Z"
    assert T0.year == 2026
    # A gzip-encoded fetch is stored decoded: the export says so instead of lying.
    rec, body = by_uri[s.tdmrep.url]
    assert body == TDMREP_BODY
    assert rec.http_headers.get_header("Content-Encoding") is None
    assert rec.http_headers.get_header("X-Tdmscan-Original-Content-Encoding") == "gzip"
    assert rec.http_headers.get_header("Content-Length") == str(len(TDMREP_BODY))
