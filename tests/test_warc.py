"""WARC evaluation: archived pages, archived robots.txt, broken records, ledger rows, CLI."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tdmscan import policy
from tdmscan.fakeweb import Resp, Site
from tdmscan.integrations.warc import (
    NOT_ARCHIVED,
    ArchivedSiteFiles,
    WarcResult,
    evaluate_warc,
    iter_warc,
    read_warc,
)
from tdmscan.ledger import Ledger
from tdmscan.signals.catalogue import load_catalogue
from tdmscan.types import Fetched

AGENT = "MyBot"


# ------------------------------------------------------------------------------ helpers


def rec(
    url: str,
    status: int = 200,
    body: bytes | str = b"<html><head><title>t</title></head><body>hi</body></html>",
    headers: Sequence[tuple[str, str]] = (("Content-Type", "text/html; charset=utf-8"),),
    date: str | None = None,
    kind: str = "response",
) -> dict[str, Any]:
    return {
        "url": url,
        "status": status,
        "body": body,
        "headers": list(headers),
        "date": date,
        "kind": kind,
    }


def robots(
    url_origin: str,
    body: str = "",
    status: int = 200,
    date: str | None = None,
    headers: Sequence[tuple[str, str]] = (("Content-Type", "text/plain"),),
) -> dict[str, Any]:
    return rec(url_origin + "/robots.txt", status, body, headers, date)


def write_warc(
    path: Path, records: Iterable[dict[str, Any]], *, gz: bool = True
) -> list[dict[str, Any]]:
    """Write records with warcio; returns each record's offset, length and WARC-Record-ID."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz)
    w.write_record(w.create_warcinfo_record(path.name, {"software": "tdmscan tests"}))
    out = []
    for r in records:
        body = r["body"].encode() if isinstance(r["body"], str) else r["body"]
        extra = {"WARC-Date": r["date"]} if r["date"] else None
        if r["kind"] == "response":
            http = StatusAndHeaders(f"{r['status']} X", r["headers"], protocol="HTTP/1.1")
            record = w.create_warc_record(
                r["url"],
                "response",
                payload=io.BytesIO(body),
                http_headers=http,
                warc_headers_dict=extra,
            )
        else:
            http = StatusAndHeaders(
                f"GET {r['url']} HTTP/1.1", [("Host", "x")], is_http_request=True
            )
            record = w.create_warc_record(
                r["url"],
                r["kind"],
                payload=io.BytesIO(b""),
                http_headers=http,
                warc_headers_dict=extra,
            )
        start = buf.tell()
        w.write_record(record)
        out.append(
            {
                "url": r["url"],
                "offset": start,
                "length": buf.tell() - start,
                "id": record.rec_headers.get_header("WARC-Record-ID"),
            }
        )
    path.write_bytes(buf.getvalue())
    return out


def verdicts(
    results: Iterable[WarcResult], agent: str = AGENT
) -> dict[str, tuple[str, tuple[str, ...]]]:
    out = {}
    for res in results:
        for d in res.decisions:
            if d.agent == agent:
                out[d.url] = (d.verdict, d.reasons)
    return out


def page_signals_supported() -> bool:
    d = policy.evaluate(
        "http://x.test/",
        "MyBot",
        robots_txt=b"",
        response=Fetched(200, [("X-Robots-Tag", "noai")], b""),
    )
    return d.verdict == "reserved"


# ------------------------------------------------------------------------------ reading


def test_read_warc_maps_response_records(tmp_path: Path) -> None:
    p = tmp_path / "a.warc.gz"
    written = write_warc(
        p,
        [
            rec("http://a.test/req", kind="request"),
            rec(
                "http://a.test/page",
                203,
                "<html>x</html>",
                [
                    ("Content-Type", "text/html"),
                    ("X-Robots-Tag", "noai"),
                    ("X-Robots-Tag", "noimageai"),
                ],
                date="2024-03-01T12:00:00Z",
            ),
        ],
    )
    records = list(read_warc(p))
    assert [r.record_type for r in records] == ["warcinfo", "request", "response"]
    page = records[2]
    assert page.offset == written[1]["offset"] and page.length == written[1]["length"]
    assert page.record_id == written[1]["id"]
    assert page.error is None and page.response is not None
    assert page.response.status == 203
    assert page.response.header_values("x-robots-tag") == ["noai", "noimageai"]
    assert page.response.body == b"<html>x</html>"
    assert page.response.fetched_at is not None and page.response.fetched_at.year == 2024
    # Offsets point at gzip members that decompress on their own (what CC's index relies on).
    raw = p.read_bytes()[page.offset : page.offset + page.length]
    assert gzip.decompress(raw).startswith(b"WARC/1.")


def test_read_uncompressed_warc(tmp_path: Path) -> None:
    p = tmp_path / "a.warc"
    write_warc(p, [rec("http://a.test/1"), rec("http://a.test/2")], gz=False)
    recs = [r for r in read_warc(p) if r.record_type == "response"]
    assert [r.target_uri for r in recs] == ["http://a.test/1", "http://a.test/2"]
    assert all(r.error is None and r.response and r.response.status == 200 for r in recs)


def test_archived_site_files_follow_redirect_and_pick_capture_by_date(tmp_path: Path) -> None:
    p = tmp_path / "robots.warc.gz"
    write_warc(
        p,
        [
            rec(
                "http://a.test/robots.txt",
                301,
                b"",
                [("Location", "https://a.test/robots.txt")],
                date="2024-01-01T00:00:00Z",
            ),
            robots(
                "https://a.test", "User-agent: *\nDisallow: /old\n", date="2024-01-01T00:00:01Z"
            ),
            robots(
                "https://a.test", "User-agent: *\nDisallow: /new\n", date="2024-06-01T00:00:00Z"
            ),
        ],
    )
    idx = ArchivedSiteFiles()
    for r in read_warc(p):
        idx.add(r)
    from datetime import UTC, datetime

    sf = idx.site_files("http://a.test", datetime(2024, 2, 1, tzinfo=UTC))
    assert sf is not None and sf.robots is not None
    assert sf.robots.status == 200 and b"/old" in sf.robots.body
    assert sf.robots.redirects == ("http://a.test/robots.txt",)
    later = idx.site_files("https://a.test", datetime(2024, 7, 1, tzinfo=UTC))
    assert later is not None and later.robots is not None and b"/new" in later.robots.body
    assert idx.site_files("http://b.test") is None


# ------------------------------------------------------------------------------ decisions


def test_sibling_robots_warc_and_rfc9309_statuses(tmp_path: Path) -> None:
    robots_warc = tmp_path / "robotstxt.warc.gz"
    write_warc(
        robots_warc,
        [
            robots("http://a.test", "User-agent: *\nDisallow: /private\n"),
            robots("http://b.test", "oops", status=503),
            robots("http://c.test", "not found", status=404),
        ],
    )
    main = tmp_path / "main.warc.gz"
    write_warc(
        main,
        [
            rec("http://a.test/private/1"),
            rec("http://a.test/public"),
            rec("http://b.test/x"),
            rec("http://c.test/x"),
            rec("http://d.test/x"),
        ],
    )
    results = list(iter_warc([main], [AGENT], robots_warcs=[robots_warc], fetch_missing=False))
    v = verdicts(results)
    assert v["http://a.test/private/1"][0] == "reserved"
    assert "robots:disallow" in v["http://a.test/private/1"][1]
    assert v["http://a.test/public"][0] == "allowed"
    assert v["http://b.test/x"][0] == "unknown"
    assert "robots:unreachable" in v["http://b.test/x"][1]
    assert v["http://c.test/x"][0] == "allowed"
    # Not archived and not fetched: never "allowed".
    assert v["http://d.test/x"][0] == "unknown" and NOT_ARCHIVED in v["http://d.test/x"][1]
    sources = {r.record.target_uri: r.origin_source for r in results}
    assert sources["http://a.test/public"] == "archive" and sources["http://d.test/x"] == "none"


def test_robots_record_in_same_warc_applies_even_after_the_pages(tmp_path: Path) -> None:
    main = tmp_path / "crawl.warc.gz"
    write_warc(
        main,
        [
            rec("http://a.test/private/1"),
            robots("http://a.test", "User-agent: MyBot\nDisallow: /private\n"),
        ],
    )
    summary_results = list(iter_warc([main], [AGENT], fetch_missing=False))
    v = verdicts(summary_results)
    assert list(v) == ["http://a.test/private/1"]
    assert v["http://a.test/private/1"][0] == "reserved"
    assert "robots:disallow" in v["http://a.test/private/1"][1]


def test_page_level_reservation_wins_without_robots(tmp_path: Path) -> None:
    if not page_signals_supported():
        pytest.skip("policy does not evaluate page headers yet")
    main = tmp_path / "crawl.warc.gz"
    write_warc(
        main,
        [
            rec(
                "http://a.test/noai",
                headers=[("Content-Type", "text/html"), ("X-Robots-Tag", "noai")],
            ),
            rec(
                "http://a.test/meta",
                body='<html><head><meta name="robots" content="noai"></head></html>',
            ),
        ],
    )
    v = verdicts(iter_warc([main], [AGENT], fetch_missing=False))
    assert v["http://a.test/noai"][0] == "reserved"
    assert v["http://a.test/meta"][0] == "reserved"


def _broken_warc(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    """good, corrupt member, member without a usable WARC header, good, truncated last."""
    src = tmp_path / "src.warc.gz"
    written = write_warc(
        src, [rec(f"http://a.test/{i}", body=b"<html>" + b"x" * 4000) for i in range(5)]
    )
    data = src.read_bytes()
    o = [w["offset"] for w in written] + [len(data)]
    corrupt = data[o[1] : o[2] - 40]  # the member loses its end: does not inflate
    bad_header = gzip.compress(b"WARC/1.0\r\nWARC-Type: response\r\n\r\n")
    broken = (
        data[: o[2]][: o[1]] + corrupt + bad_header + data[o[2] : o[4]] + data[o[4] : o[5] - 30]
    )
    p = tmp_path / "broken.warc.gz"
    p.write_bytes(broken)
    return p, written


def test_truncated_and_malformed_records_are_errors_others_still_processed(tmp_path: Path) -> None:
    p, _ = _broken_warc(tmp_path)
    records = list(read_warc(p))
    errors = [(r.error, r.target_uri) for r in records if r.error]
    assert [e for e, _ in errors] == ["corrupt-gzip", "malformed", "truncated"]
    ok = [r.target_uri for r in records if r.record_type == "response" and not r.error]
    assert ok == ["http://a.test/0", "http://a.test/2", "http://a.test/3"]

    seen: list[WarcResult] = []
    summary = evaluate_warc(
        [p], [AGENT], fetch_missing=False, include_training_agents=False, on_result=seen.append
    )
    assert summary.error_count == 3
    assert summary.pages == 3 + 3  # good pages plus one row each for the unreadable records
    assert {e[2] for e in summary.errors} == {"corrupt-gzip", "malformed", "truncated"}
    assert all(e[0] == str(p) for e in summary.errors)
    good = [r for r in seen if r.error is None]
    assert len(good) == 3 and all(r.decisions[0].verdict == "unknown" for r in good)
    bad = [r for r in seen if r.error]
    assert {r.decisions[0].verdict for r in bad} <= {"invalid", "unknown"}
    assert all(any(c.startswith("warc:") for c in r.decisions[0].reasons) for r in bad)


def test_truncated_uncompressed_record(tmp_path: Path) -> None:
    src = tmp_path / "src.warc"
    written = write_warc(
        src, [rec(f"http://a.test/{i}", body=b"x" * 3000) for i in range(3)], gz=False
    )
    data = src.read_bytes()
    cut = written[1]["offset"] + written[1]["length"] - 500  # record 1 loses its tail
    p = tmp_path / "broken.warc"
    p.write_bytes(data[:cut] + data[written[2]["offset"] :])
    recs = [r for r in read_warc(p) if r.record_type == "response"]
    assert [(r.target_uri, r.error) for r in recs] == [
        ("http://a.test/0", None),
        ("http://a.test/1", "truncated"),
        ("http://a.test/2", None),
    ]


# ------------------------------------------------------------------------------ live origins


def test_missing_origins_fetched_live_once(tmp_path: Path, fakeweb: Any, fakeweb_env: Any) -> None:
    fw = fakeweb([Site("live.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /no\n")})])
    fakeweb_env(fw)
    main = tmp_path / "main.warc.gz"
    write_warc(
        main,
        [rec("http://live.test/no/1"), rec("http://live.test/yes"), rec("http://live.test/no/2")],
    )
    seen: list[WarcResult] = []
    summary = evaluate_warc(
        [main], [AGENT], include_training_agents=False, on_result=seen.append, batch_size=2
    )
    v = verdicts(seen)
    assert v["http://live.test/no/1"][0] == "reserved"
    assert v["http://live.test/yes"][0] == "allowed"
    assert v["http://live.test/no/2"][0] == "reserved"
    assert fw.hits("live.test", "/robots.txt") == 1
    assert summary.origin_sources == {"live": 3}


# ------------------------------------------------------------------------------ ledger, CLI


def _ledger_rows(ledger_dir: Path) -> list[dict[str, Any]]:
    ledger_mod = pytest.importorskip("tdmscan.ledger")
    if not hasattr(ledger_mod, "Ledger"):
        pytest.skip("tdmscan.ledger.Ledger not available yet")
    con = ledger_mod.Ledger(ledger_dir).connect()
    cur = con.execute(
        "SELECT url, agent, verdict, reasons, source_kind, warc_file, warc_record_id, warc_offset,"
        " robots_sha256 FROM decisions ORDER BY warc_offset, agent"
    )
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def test_ledger_rows_carry_warc_coordinates(tmp_path: Path) -> None:
    robots_warc = tmp_path / "robotstxt.warc.gz"
    write_warc(robots_warc, [robots("http://a.test", "User-agent: *\nDisallow: /private\n")])
    main, _ = _broken_warc(tmp_path)
    extra = tmp_path / "extra.warc.gz"
    written = write_warc(extra, [rec("http://a.test/private/x"), rec("http://a.test/ok")])
    ledger_dir = tmp_path / "ledger"
    summary = evaluate_warc(
        [main, extra],
        [AGENT],
        ledger=ledger_dir,
        robots_warcs=[robots_warc],
        fetch_missing=False,
        include_training_agents=False,
    )
    assert summary.run_id
    rows = _ledger_rows(ledger_dir)
    assert len(rows) == summary.decisions == 6 + 2
    assert {r["source_kind"] for r in rows} == {"warc"}
    by_url = {(r["warc_file"], r["url"]): r for r in rows}
    priv = by_url[(str(extra), "http://a.test/private/x")]
    assert priv["verdict"] == "reserved" and "robots:disallow" in list(priv["reasons"])
    assert priv["warc_offset"] == written[0]["offset"]
    assert priv["warc_record_id"] == written[0]["id"]
    assert priv["robots_sha256"]
    assert by_url[(str(extra), "http://a.test/ok")]["verdict"] == "allowed"
    from tdmscan.ledger import Ledger

    fetches = (
        Ledger(ledger_dir)
        .connect()
        .execute("SELECT url, kind, status FROM fetches WHERE origin = 'http://a.test'")
        .fetchall()
    )
    assert ("http://a.test/robots.txt", "robots", 200) in fetches
    errs = [
        r
        for r in rows
        if r["warc_file"] == str(main) and any(c.startswith("warc:") for c in r["reasons"])
    ]
    assert len(errs) == 3


def test_cli_warc(tmp_path: Path) -> None:
    robots_warc = tmp_path / "robotstxt.warc.gz"
    write_warc(robots_warc, [robots("http://a.test", "User-agent: *\nDisallow: /private\n")])
    main = tmp_path / "main.warc.gz"
    write_warc(main, [rec("http://a.test/private/x"), rec("http://a.test/ok")])
    from tdmscan.cli import main as cli

    r = CliRunner().invoke(
        cli,
        [
            "warc",
            str(main),
            "--robots-warc",
            str(robots_warc),
            "--agent",
            AGENT,
            "--no-fetch",
            "--no-training-agents",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["verdicts"] == {"reserved": 1, "allowed": 1}
    assert out["page_verdicts"] == {"reserved": 1, "allowed": 1}
    assert out["errors"] == []

    broken, _ = _broken_warc(tmp_path)
    r = CliRunner().invoke(cli, ["warc", str(broken), "--no-fetch", "--quiet"])
    assert r.exit_code == 1


def test_scanner_thread_propagates_construction_errors() -> None:
    import threading

    from tdmscan.integrations import ScannerThread

    before = threading.active_count()
    with pytest.raises(ValueError):
        ScannerThread(agents=[])
    assert threading.active_count() == before
    with ScannerThread(agents=["MyBot"], include_training_agents=False) as runner:

        async def agents(scanner: Any) -> tuple[str, ...]:
            return scanner.agents

        assert runner.run(agents) == ("MyBot",)
    assert threading.active_count() == before


def test_warc_truncated_header_is_not_an_error(tmp_path: Path) -> None:
    """Common Crawl cuts payloads at 1 MiB and says so; that record is still evaluated."""
    p = tmp_path / "cc.warc.gz"
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True)
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    w.write_record(
        w.create_warc_record(
            "http://a.test/big",
            "response",
            payload=io.BytesIO(b"<html><head></head>" + b"x" * 1000),
            http_headers=http,
            warc_headers_dict={"WARC-Truncated": "length"},
        )
    )
    p.write_bytes(buf.getvalue())
    (r,) = list(read_warc(p))
    assert r.error is None and r.warc_truncated == "length"
    assert r.response is not None and r.response.truncated


def test_archived_tdmrep_json_applies(tmp_path: Path) -> None:
    main = tmp_path / "crawl.warc.gz"
    tdmrep = b'[{"location": "/news/*", "tdm-reservation": 1}]'
    write_warc(
        main,
        [
            robots("http://a.test", "User-agent: *\nAllow: /\n"),
            rec(
                "http://a.test/.well-known/tdmrep.json",
                body=tdmrep,
                headers=[("Content-Type", "application/json")],
            ),
            rec("http://a.test/news/1"),
            rec("http://a.test/about"),
        ],
    )
    files = ArchivedSiteFiles()
    for r in read_warc(main):
        files.add(r)
    site = files.site_files("http://a.test")
    assert site is not None and site.tdmrep is not None and site.tdmrep.body == tdmrep
    expected = {
        url: policy.decide(url, [AGENT], policy.parse_site(site), None)[0].verdict
        for url in ("http://a.test/news/1", "http://a.test/about")
    }
    v = verdicts(iter_warc([main], [AGENT], fetch_missing=False))
    assert {u: x[0] for u, x in v.items()} == expected
    assert expected["http://a.test/news/1"] == "reserved"


def test_cli_warc_and_audit_evaluate_the_same_agents_by_default(tmp_path: Path) -> None:
    """Both batch commands decide for the own token only unless --training-agents is given."""
    from tdmscan.cli import main as cli

    robots_warc = tmp_path / "robotstxt.warc.gz"
    write_warc(robots_warc, [robots("http://a.test", "User-agent: *\nDisallow: /private\n")])
    main = tmp_path / "main.warc.gz"
    write_warc(main, [rec("http://a.test/ok")])
    agents = {}
    for flags in ((), ("--training-agents",)):
        led = tmp_path / f"led{len(flags)}"
        r = CliRunner().invoke(
            cli,
            [
                "warc",
                str(main),
                "--robots-warc",
                str(robots_warc),
                "--no-fetch",
                "-q",
                "--ledger",
                str(led),
                *flags,
            ],
        )
        assert r.exit_code == 0, r.output
        con = Ledger(led).connect()
        agents[flags] = [a for (a,) in con.execute("SELECT agent FROM decisions").fetchall()]
        con.close()
    assert agents[()] == ["tdmscan"]
    assert len(agents[("--training-agents",)]) == 1 + len(load_catalogue().training_tokens())
