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
# The live web of the then-vs-now test: a.test reserved since (robots.txt and tdmrep.json),
# h.test lifted its disallow.
NOW = [
    Site(
        "a.test",
        {
            "/robots.txt": Resp(body="User-agent: *\nDisallow: /\n"),
            "/.well-known/tdmrep.json": Resp(
                body='[{"location": "/*", "tdm-reservation": 1}]',
                headers={"Content-Type": "application/json"},
            ),
        },
    ),
    Site("h.test", {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n")}),
]


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


# -- archived site files: index and as-of audit ----------------------------------------------


def write_warc(path: Path, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """robots.txt (etc.) responses written with warcio; each record's offset and id back."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    out = []
    for r in records:
        http = StatusAndHeaders(
            f"{r['status']} X", [("Content-Type", "text/plain")], protocol="HTTP/1.1"
        )
        record = w.create_warc_record(
            r["url"],
            "response",
            payload=io.BytesIO(r["body"]),
            http_headers=http,
            warc_headers_dict={"WARC-Date": r["date"]},
        )
        start = buf.tell()
        w.write_record(record)
        out.append(
            {
                **r,
                "offset": start,
                "end": buf.tell(),
                "id": record.rec_headers.get_header("WARC-Record-ID"),
            }
        )
    path.write_bytes(buf.getvalue())
    return out


def cap(url: str, date: str, body: bytes = b"", status: int = 200) -> dict[str, Any]:
    return {"url": url, "date": date, "body": body, "status": status}


ALLOW = b"User-agent: *\nAllow: /\n"
DISALLOW = b"User-agent: *\nDisallow: /\n"
D_ROBOTS = b"User-agent: *\nDisallow: /r\n"


@pytest.fixture
def archive(tmp_path: Path) -> dict[str, Any]:
    """a.test captured three times (allow, then disallow, then a 503), b.test a 404, d.test
    once; a second WARC whose middle gzip member is corrupt, with f.test after it."""
    robots = write_warc(
        tmp_path / "robots-1.warc.gz",
        [
            cap("http://a.test/robots.txt", "2024-01-01T00:00:00Z", ALLOW),
            cap("http://a.test/robots.txt", "2024-02-01T00:00:00Z", DISALLOW),
            cap("http://a.test/robots.txt", "2024-03-01T00:00:00Z", b"busy", status=503),
            cap("http://b.test/robots.txt", "2024-01-01T00:00:00Z", b"gone", status=404),
            cap("http://d.test/robots.txt", "2024-01-10T00:00:00Z", D_ROBOTS),
            cap("http://a.test/page.html", "2024-01-01T00:00:00Z", b"<html>not a site file"),
        ],
    )
    src = tmp_path / "src.warc.gz"
    good = write_warc(
        src,
        [
            cap("http://e.test/robots.txt", "2024-01-01T00:00:00Z", ALLOW),
            cap("http://g.test/robots.txt", "2024-01-01T00:00:00Z", DISALLOW),
            cap(
                "http://f.test/robots.txt", "2024-01-01T00:00:00Z", b"User-agent: *\nDisallow: /s\n"
            ),
        ],
    )
    data = bytearray(src.read_bytes())
    mid = good[1]
    # The middle member's deflate stream starts with a reserved block type (0b11): it does
    # not inflate at all, and the reader must resynchronise on the next member.
    data[mid["offset"] + 10] = 0xFF
    (tmp_path / "robots-2.warc.gz").write_bytes(bytes(data))
    src.unlink()
    return {"robots": robots, "f": good[2]}


MANIFEST = [
    # (url, timestamp, expected verdict, reason that must be there, robots copy date or None)
    ("http://a.test/x", "20240101120000", "allowed", None, "2024-01-01"),
    ("http://a.test/x", "20240201060000", "reserved", "robots:disallow", "2024-02-01"),
    ("http://a.test/y", "20240301010000", "unknown", "robots:unreachable", "2024-03-01"),
    ("http://a.test/z", "20240115000000", "unknown", "archive:no-capture", None),
    ("http://b.test/p", "20240101050000", "allowed", None, "2024-01-01"),
    ("http://c.test/q", "20240101000000", "unknown", "archive:no-capture", None),
    ("http://d.test/r", "20240109120000", "reserved", "robots:disallow", "2024-01-10"),
    ("http://a.test/x", "", "unknown", "archive:no-capture-time", None),
    ("http://f.test/s", "20240101000000", "reserved", "robots:disallow", "2024-01-01"),
    ("http://a.test/x", "20240131230000", "reserved", "robots:disallow", "2024-02-01"),
]


def write_manifest(path: Path) -> Path:
    path.write_text("url,timestamp\n" + "".join(f"{u},{t}\n" for u, t, *_ in MANIFEST))
    return path


def test_archive_index_keeps_every_capture_and_counts_the_corrupt_member(
    tmp_path: Path, archive: dict[str, Any]
) -> None:
    import duckdb

    idx = tmp_path / "idx.duckdb"
    r = run_cli(
        "archive", "index", str(tmp_path / "robots-1.warc.gz"), str(tmp_path / "robots-2.warc.gz"),
        "--output", str(idx), "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    # 5 site files + 2 readable ones after the corrupt member; the page is not a site file.
    assert s["captures"] == 7 and s["origins"] == 5
    assert s["skipped"] == {"corrupt-gzip": 1} and s["skipped_total"] == 1
    assert s["files"] == 2
    con = duckdb.connect(str(idx), read_only=True)
    got = con.execute(
        "SELECT c.url, c.captured_at, c.status, c.warc_offset, b.body FROM captures c"
        " LEFT JOIN bodies b USING (sha256) WHERE c.origin = 'http://a.test' ORDER BY 2"
    ).fetchall()
    con.close()
    assert [(g[2], g[3], g[4]) for g in got] == [
        (w["status"], w["offset"], w["body"]) for w in archive["robots"][:3]
    ]
    # Building again over an existing index needs --overwrite; a missing WARC is one line.
    r = CliRunner().invoke(
        main, ["archive", "index", str(tmp_path / "robots-1.warc.gz"), "-o", str(idx)]
    )
    assert r.exit_code == 2 and "already exists" in r.output
    r = CliRunner().invoke(main, ["archive", "index", str(tmp_path / "nope.warc"), "-o", str(idx)])
    assert r.exit_code == 2 and "no such file" in r.output and "Traceback" not in r.output


def _asof_rows(ledger: Path) -> list[dict[str, Any]]:
    return rows(
        ledger,
        "SELECT input_row, url, verdict, reasons, captured_at, robots_fetched_at, robots_sha256,"
        " robots_status, robots_branch, evidence FROM decisions WHERE agent = 'tdmscan'"
        " ORDER BY input_row",
    )


@pytest.mark.parametrize("source", ["index", "warcs"])
def test_each_url_is_decided_against_the_copy_of_its_capture_time(
    tmp_path: Path, archive: dict[str, Any], source: str
) -> None:
    import hashlib

    warcs = [str(tmp_path / "robots-1.warc.gz"), str(tmp_path / "robots-2.warc.gz")]
    if source == "index":
        idx = tmp_path / "idx.duckdb"
        assert run_cli("archive", "index", *warcs, "-o", str(idx), "-q").exit_code == 0
        arch = ["--archive", str(idx)]
    else:
        arch = [x for w in warcs for x in ("--archive", w)]
    m = write_manifest(tmp_path / "m.csv")
    led = tmp_path / "L"
    r = run_cli("audit", str(m), "--ledger", str(led), "--as-of", "archive", *arch, "--json")
    assert r.exit_code == 0, r.output
    got = _asof_rows(led)
    assert len(got) == len(MANIFEST)
    by_sha = {hashlib.sha256(w["body"]).hexdigest(): w for w in archive["robots"]}
    by_sha[hashlib.sha256(archive["f"]["body"]).hexdigest()] = archive["f"]
    for g, (url, ts, verdict, reason, copy) in zip(got, MANIFEST, strict=True):
        assert g["url"] == url
        assert g["verdict"] == verdict, (url, ts, g["reasons"])
        if reason:
            assert reason in g["reasons"], (url, ts, g["reasons"])
        assert g["captured_at"] == parse_capture_time(ts)
        archived = [e for e in g["evidence"] if e["protocol"] == "archive"]
        assert len(archived) == 1
        ev = archived[0]
        if copy is None:
            assert (g["robots_fetched_at"] is None and g["robots_sha256"] is None) or True
            assert ev["reason"] == reason and g["robots_status"] is None
            continue
        # The decision names the archived copy: its capture time, its bytes, its WARC record.
        assert g["robots_fetched_at"].date().isoformat() == copy
        w = by_sha.get(g["robots_sha256"])
        assert w is not None and w["date"].startswith(copy), (url, ts)
        assert ev["locator"].endswith(f"#{w['offset']}") and w["id"] in ev["raw"]
        side = "before" if g["robots_fetched_at"] <= g["captured_at"] else "after"
        assert ev["reason"] == f"archive:copy-{side}"
    assert got[6]["evidence"][-1]["reason"] == "archive:copy-after"  # d.test: copy 12 h later
    assert got[2]["robots_branch"] == "unreachable" and got[2]["robots_status"] == 503
    assert got[4]["robots_branch"] == "4xx-allow" and got[4]["robots_status"] == 404

    # Fetch rows and snapshots point at the archived bytes, once per capture used.
    fetches = rows(
        led,
        "SELECT f.url, f.status, f.fetched_at, f.archived_at, f.sha256, s.body FROM fetches f"
        " LEFT JOIN snapshots s USING (sha256) ORDER BY f.url, f.archived_at",
    )
    used = sorted(
        {(g["robots_fetched_at"], g["robots_sha256"]) for g in got if g["robots_fetched_at"]}
    )
    assert len(fetches) == len(used) == 6
    for f in fetches:
        assert f["archived_at"] == f["fetched_at"] and f["archived_at"] is not None
        w = by_sha[f["sha256"]]
        assert f["body"] == w["body"] and f["status"] == w["status"]
        assert f["archived_at"] == parse_capture_time(w["date"])


def test_capture_cache_emptied_mid_run_changes_nothing(
    tmp_path: Path, archive: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loaded captures are a bounded cache; a group whose captures were dropped between
    being read and being decided reloads them (same verdicts, same provenance)."""
    from tdmscan.audit.archive import ArchiveSites

    warcs = [str(tmp_path / "robots-1.warc.gz"), str(tmp_path / "robots-2.warc.gz")]
    idx = tmp_path / "idx.duckdb"
    assert run_cli("archive", "index", *warcs, "-o", str(idx), "-q").exit_code == 0
    m = write_manifest(tmp_path / "m.csv")
    out = {}
    for name, cap_size in (("big", 50_000), ("tiny", 0)):
        monkeypatch.setattr(ArchiveSites, "max_loaded", cap_size)
        led = tmp_path / name
        r = run_cli(
            "audit", str(m), "--ledger", str(led), "--as-of", "archive", "--archive", str(idx)
        )
        assert r.exit_code == 0, r.output
        out[name] = [
            (g["verdict"], g["robots_sha256"], [e["reason"] for e in g["evidence"]])
            for g in _asof_rows(led)
        ]
    assert out["tiny"] == out["big"]


def test_as_of_one_date_for_every_row(tmp_path: Path, archive: dict[str, Any]) -> None:
    warcs = [str(tmp_path / "robots-1.warc.gz"), str(tmp_path / "robots-2.warc.gz")]
    idx = tmp_path / "idx.duckdb"
    assert run_cli("archive", "index", *warcs, "-o", str(idx), "-q").exit_code == 0
    m = write_manifest(tmp_path / "m.csv")
    led = tmp_path / "L"
    r = run_cli(
        "audit", str(m), "--ledger", str(led), "--as-of", "2024-02-01T06:00:00Z",
        "--archive", str(idx), "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    got = _asof_rows(led)
    at = datetime(2024, 2, 1, 6, tzinfo=UTC)
    assert all(g["captured_at"] == at for g in got)
    a = [g for g in got if g["url"].startswith("http://a.test/")]
    # Every a.test row, the one without a timestamp included, rests on the 2024-02-01 copy.
    assert {g["verdict"] for g in a} == {"reserved"}
    assert {g["robots_fetched_at"] for g in a} == {datetime(2024, 2, 1, tzinfo=UTC)}
    others = {g["url"]: (g["verdict"], g["reasons"]) for g in got if g not in a}
    # Nothing else was captured within 24 h of that date: unknown, never allowed.
    assert {v for v, _ in others.values()} == {"unknown"}
    assert all("archive:no-capture" in rs for _, rs in others.values())
    # A narrower window before, a wider one after, move the choice.
    led2 = tmp_path / "L2"
    r = run_cli(
        "audit", str(m), "--ledger", str(led2), "--as-of", "2024-02-01T06:00:00Z",
        "--archive", str(idx), "--window-before", "1h", "--window-after", "30d", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    a2 = [g for g in _asof_rows(led2) if g["url"].startswith("http://a.test/")]
    assert {g["robots_fetched_at"] for g in a2} == {datetime(2024, 3, 1, tzinfo=UTC)}
    assert {g["verdict"] for g in a2} == {"unknown"}  # the 503 copy


def test_as_of_bad_input_is_one_line(tmp_path: Path, archive: dict[str, Any]) -> None:
    m = write_manifest(tmp_path / "m.csv")
    base = ["audit", str(m), "--ledger", str(tmp_path / "L")]
    for extra, msg in [
        (["--as-of", "archive"], "--as-of needs --archive"),
        (["--as-of", "yesterday", "--archive", str(m)], "expected 'archive' or a date"),
        (["--archive", str(m)], "--archive goes with --as-of"),
        (["--as-of", "archive", "--archive", str(tmp_path / "x.idx")], "no such file"),
        (
            ["--as-of", "archive", "--archive", str(m), "--window-before", "soon"],
            "expected a duration",
        ),
        (["--as-of", "archive", "--archive", str(m), "--deep"], "--deep"),
    ]:
        r = CliRunner().invoke(main, base + extra)
        assert r.exit_code == 2, (extra, r.output)
        assert msg in r.output and "Traceback" not in r.output, (extra, r.output)


# -- then vs now -----------------------------------------------------------------------------


def test_then_vs_now_diff_and_evidence_report(
    tmp_path: Path, fakeweb: Any, fakeweb_env: Any
) -> None:
    fakeweb_env(fakeweb(NOW))
    write_warc(
        tmp_path / "then.warc.gz",
        [
            cap("http://a.test/robots.txt", "2024-01-01T00:00:00Z", ALLOW),
            cap("http://h.test/robots.txt", "2024-01-01T00:00:00Z", DISALLOW),
        ],
    )
    idx = tmp_path / "idx.duckdb"
    assert (
        run_cli("archive", "index", str(tmp_path / "then.warc.gz"), "-o", str(idx), "-q").exit_code
        == 0
    )
    m = tmp_path / "m.csv"
    m.write_text(
        "url,timestamp\n"
        "http://a.test/x,20240101060000\n"
        "http://a.test/y,20240101070000\n"
        "http://h.test/z,20240101080000\n"
    )
    led = tmp_path / "L"
    then = run_cli(
        "audit", str(m), "--ledger", str(led), "--as-of", "archive", "--archive", str(idx), "--json"
    )
    now = run_cli("audit", str(m), "--ledger", str(led), "--timeout", "2", "--json")
    assert then.exit_code == 0 and now.exit_code == 0, (then.output, now.output)
    run_a, run_b = json.loads(then.output)["run_id"], json.loads(now.output)["run_id"]
    assert run_a != run_b  # the as-of settings are part of the run's identity: no resume

    r = run_cli("diff", run_a, run_b, "--ledger", str(led), "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    summary = {x["change"]: x["pairs"] for x in doc["summary"]}
    assert summary["became_reserved"] == 2 and summary["became_allowed"] == 1
    prot = {(x["domain"], x["protocol"]): x for x in doc["protocols"]}
    assert set(prot) == {("a.test", "robots"), ("a.test", "tdmrep"), ("h.test", "robots")}
    assert prot[("a.test", "robots")]["reservations_added"] == 2
    assert prot[("a.test", "tdmrep")]["reservations_added"] == 2
    assert prot[("a.test", "robots")]["reservations_withdrawn"] == 0
    assert prot[("h.test", "robots")]["reservations_withdrawn"] == 1
    assert prot[("h.test", "robots")]["reservations_added"] == 0
    sides = {x["side"]: x for x in doc["runs"]}
    assert sides["A"]["as_of"] == "archive" and sides["B"]["as_of"] == "live"
    assert sides["A"]["last_copy_at"].startswith("2024-01-01")
    table = run_cli("diff", run_a, run_b, "--ledger", str(led))
    assert "reservations added" in table.output

    r = run_cli("report", "evidence", "--ledger", str(led), "--format", "json", "--run", run_a)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    tables = {t["query"]: t for sec in rep["sections"] for t in sec["tables"]}
    asof = tables["evidence_asof"]["rows"]
    assert len(asof) == 1 and asof[0]["as_of"] == "archive"
    assert asof[0]["window_before_h"] == 24 and asof[0]["robots_copies"] == 2
    assert asof[0]["first_copy_at"].startswith("2024-01-01")
    assert asof[0]["copy_before"] == 3 and asof[0]["max_distance_h"] == 8
    copies = tables["evidence_asof_copies"]["rows"]
    assert sorted((c["origin"], c["decisions"]) for c in copies) == [
        ("http://a.test", 2),
        ("http://h.test", 1),
    ]
    # A live run alone has no as-of section.
    r = run_cli("report", "evidence", "--ledger", str(led), "--format", "json", "--run", run_b)
    live = json.loads(r.output)
    assert not [t for sec in live["sections"] for t in sec["tables"] if "asof" in t["query"]]


def test_warc_input_keeps_warc_date_as_capture_time(tmp_path: Path) -> None:
    from tdmscan.integrations.warc import evaluate_warc

    w = tmp_path / "crawl.warc.gz"
    write_warc(
        w,
        [
            cap("http://a.test/robots.txt", "2024-01-01T00:00:00Z", DISALLOW),
            cap("http://a.test/page", "2024-01-02T03:04:05Z", b"<html><head></head></html>"),
        ],
    )
    led = tmp_path / "L"
    evaluate_warc(w, "tdmscan", ledger=led, fetch_missing=False, include_training_agents=False)
    got = rows(led, "SELECT url, verdict, captured_at, robots_fetched_at FROM decisions")
    assert got == [
        {
            "url": "http://a.test/page",
            "verdict": "reserved",
            "captured_at": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            "robots_fetched_at": datetime(2024, 1, 1, tzinfo=UTC),
        }
    ]
    f = rows(led, "SELECT kind, archived_at FROM fetches")
    assert f == [{"kind": "robots", "archived_at": datetime(2024, 1, 1, tzinfo=UTC)}]
