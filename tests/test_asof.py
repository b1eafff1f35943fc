"""As-of audits (issue 18): capture times kept, archived site files as the source, then vs now."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tdmscan.audit.manifest import ManifestOptions, open_manifest, parse_capture_time
from tdmscan.cli import main
from tdmscan.fakeweb import Resp, Site
from tdmscan.ledger import Ledger


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def rows(ledger: Path, sql: str) -> list[dict[str, Any]]:
    con = Ledger(ledger).connect()
    try:
        return con.sql(sql).to_arrow_table().to_pylist()
    finally:
        con.close()


# -- capture time in, capture time kept ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("20240301123456", datetime(2024, 3, 1, 12, 34, 56, tzinfo=UTC)),
        ("20240301", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01T12:00:00Z", datetime(2024, 3, 1, 12, tzinfo=UTC)),
        ("2024-03-01T14:00:00+02:00", datetime(2024, 3, 1, 12, tzinfo=UTC)),
        (datetime(2024, 3, 1, 12), datetime(2024, 3, 1, 12, tzinfo=UTC)),
        ("2024130112", None),  # month 13
        ("yesterday", None),
        ("", None),
        (None, None),
        ("123", None),
    ],
)
def test_parse_capture_time(raw: Any, want: datetime | None) -> None:
    assert parse_capture_time(raw) == want


SITES = [Site("a.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /private/\n")})]


@pytest.fixture
def web(fakeweb: Any, fakeweb_env: Any) -> Any:
    fw = fakeweb(SITES)
    fakeweb_env(fw)
    return fw


def test_capture_times_from_every_manifest_format_reach_the_ledger(
    tmp_path: Path, web: Any
) -> None:
    t1 = datetime(2023, 6, 1, 8, 30, tzinfo=UTC)
    t2 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    csv = tmp_path / "cdx.csv"  # the CDX index's 14-digit timestamp, recognised by name
    csv.write_text(
        "url,timestamp\n"
        "http://a.test/x,20230601083000\n"
        "http://a.test/private/y,20240102030405\n"
        "http://a.test/z,not-a-time\n"
    )
    jl = tmp_path / "warc.jsonl"  # ISO 8601 WARC-Date
    jl.write_text(
        json.dumps({"url": "http://a.test/x", "WARC-Date": "2023-06-01T08:30:00Z"})
        + "\n"
        + json.dumps({"url": "http://a.test/q", "WARC-Date": None})
        + "\n"
    )
    pqf = tmp_path / "cc-index.parquet"  # the columnar index's fetch_time (a timestamp column)
    pq.write_table(
        pa.table(
            {
                "url": ["http://a.test/x", "http://a.test/private/y"],
                "fetch_time": pa.array([t1, t2], pa.timestamp("ms", tz="UTC")),
                "url_surtkey": ["test,a)/x", "test,a)/private/y"],
                "warc_filename": ["w", "w"],
            }
        ),
        pqf,
    )
    own = tmp_path / "own.tsv"  # any column, named explicitly
    own.write_text("link\tcrawled\nhttp://a.test/x\t2024-01-02T03:04:05Z\n")
    expect = {
        csv: [t1, t2, None],
        jl: [t1, None],
        pqf: [t1, t2],
        own: [t2],
    }
    for path, want in expect.items():
        led = tmp_path / f"led-{path.suffix[1:]}"
        extra = ["--captured-at-column", "crawled"] if path == own else []
        r = run_cli("audit", str(path), "--ledger", str(led), "--timeout", "2", "--json", *extra)
        assert r.exit_code == 0, r.output
        got = rows(led, "SELECT input_row, captured_at, checked_at FROM decisions ORDER BY 1")
        assert [g["captured_at"] for g in got] == want, path
        # captured_at is when the data was collected, checked_at when it was decided.
        assert all(g["checked_at"] > t2 for g in got)
    # Without a capture column nothing is invented.
    txt = tmp_path / "m.txt"
    txt.write_text("http://a.test/x\n")
    r = run_cli("audit", str(txt), "--ledger", str(tmp_path / "t"), "--timeout", "2", "--json")
    assert r.exit_code == 0
    assert rows(tmp_path / "t", "SELECT captured_at FROM decisions") == [{"captured_at": None}]


def test_unknown_capture_column_is_one_line(tmp_path: Path) -> None:
    csv = tmp_path / "m.csv"
    csv.write_text("url,ts\nhttp://a.test/x,1\n")
    r = CliRunner().invoke(
        main, ["audit", str(csv), "--ledger", str(tmp_path / "L"), "--captured-at-column", "when"]
    )
    assert r.exit_code == 2
    assert "unknown column 'when' for --captured-at-column" in r.output
    assert "Traceback" not in r.output
    m = open_manifest(csv, ManifestOptions())
    assert m.captured_at_column is None
