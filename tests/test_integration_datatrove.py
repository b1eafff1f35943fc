"""A datatrove pipeline (JSONL reader -> TdmscanFilter -> JSONL writer, with an exclusion
writer) over documents whose URLs live on the fake web, some carrying stored headers/HTML."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("datatrove")

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from tdmscan import policy
from tdmscan.fakeweb import Resp, Site
from tdmscan.integrations.datatrove import TdmscanFilter
from tdmscan.integrations.datatrove import _headers as stored_headers
from tdmscan.types import Fetched, SiteFiles
from tdmscan.urls import parse_url

NOAI_HTML = '<html><head><meta name="robots" content="noai"></head><body>x</body></html>'


ROBOTS = {
    "a.test": Fetched(
        200, [("Content-Type", "text/plain")], b"User-agent: *\nDisallow: /private\n"
    ),
    "b.test": Fetched(503, [("Content-Type", "text/plain")], b"busy"),
    "c.test": Fetched(404, [("Content-Type", "text/plain")], b"not found"),
}


def fake_sites() -> list[Site]:
    return [
        Site(host, {"/robots.txt": Resp(f.status or 200, f.body, content_type="text/plain")})
        for host, f in ROBOTS.items()
    ]


def expected(doc: dict[str, Any], fetch: bool = True) -> tuple[str, tuple[str, ...]]:
    """The own token's verdict per the policy, from the same inputs the filter sees."""
    url = doc.get("url", "")
    page = None
    if "headers" in doc or "html" in doc:
        page = Fetched(
            doc.get("status", 200),
            stored_headers(doc.get("headers")),
            doc.get("html", "") or "",
        )
    site = None
    if fetch and url:
        p = parse_url(url)
        nf = Fetched(404, [("Content-Type", "text/plain")], b"not found\n")
        site = policy.parse_site(SiteFiles(p.origin, ROBOTS[p.host], nf, nf))
    d = policy.decide(url, ["MyBot"], site, page)[0]
    if not fetch and d.verdict == "allowed":
        return "unknown", (*d.reasons, "robots:not-checked")
    return d.verdict, d.reasons


def docs() -> list[dict[str, Any]]:
    return [
        {"id": "ok1", "text": "fine", "url": "http://a.test/ok/1"},
        {"id": "priv", "text": "secret", "url": "http://a.test/private/x"},
        {"id": "ok2", "text": "fine", "url": "http://a.test/ok/2"},
        {"id": "busy", "text": "b", "url": "http://b.test/page"},
        {
            "id": "hdr",
            "text": "h",
            "url": "http://a.test/ok/hdr",
            "headers": {"Content-Type": "text/html", "X-Robots-Tag": "noai"},
            "status": 200,
        },
        {"id": "meta", "text": "m", "url": "http://c.test/meta", "html": NOAI_HTML},
        {"id": "nourl", "text": "no url at all"},
        {
            "id": "ok3",
            "text": "fine",
            "url": "http://c.test/fine",
            "headers": [["Content-Type", "text/html"]],
            "html": "<html><head></head></html>",
        },
    ]


def write_input(folder: Path, rows: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "docs.jsonl", "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


def read_output(folder: Path) -> list[dict[str, Any]]:
    out = []
    for p in sorted(folder.glob("*.jsonl*")):
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt") as fh:
            out += [json.loads(line) for line in fh if line.strip()]
    return out


def test_datatrove_pipeline_over_fake_web(tmp_path: Path, fakeweb: Any, fakeweb_env: Any) -> None:
    fw = fakeweb(fake_sites())
    fakeweb_env(fw)
    write_input(tmp_path / "in", docs())
    ledger = tmp_path / "ledger"
    flt = TdmscanFilter(
        agents=["MyBot"],
        include_training_agents=False,
        ledger=str(ledger),
        exclusion_writer=JsonlWriter(str(tmp_path / "excluded")),
        batch_size=3,
    )
    LocalPipelineExecutor(
        pipeline=[JsonlReader(str(tmp_path / "in")), flt, JsonlWriter(str(tmp_path / "out"))],
        tasks=1,
        workers=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()

    want = {d["id"]: expected(d) for d in docs()}
    kept = {d["id"] for d in read_output(tmp_path / "out")}
    excluded = {d["id"]: d for d in read_output(tmp_path / "excluded")}
    assert kept == {i for i, (v, _) in want.items() if v == "allowed"}
    assert set(excluded) == set(want) - kept
    for i, doc in excluded.items():
        v, reasons = want[i]
        assert doc["metadata"]["filter_reason"] == ":".join((v, *reasons)), i
        assert doc["metadata"]["tdmscan"]["verdict"] == v
    # Policy-independent: robots.txt rules for everyone, a 503 robots.txt, no URL at all.
    assert {"ok1", "ok2", "ok3"} <= kept
    assert {"priv", "busy", "nourl"} <= set(excluded)
    assert excluded["priv"]["metadata"]["filter_reason"].startswith("reserved:")
    assert "robots:disallow" in excluded["priv"]["metadata"]["filter_reason"]
    assert excluded["busy"]["metadata"]["filter_reason"].startswith("unknown:")
    assert excluded["nourl"]["metadata"]["filter_reason"].startswith("invalid:")
    # One fetch per origin across batches.
    for host in ("a.test", "b.test", "c.test"):
        assert fw.hits(host, "/robots.txt") == 1, host

    stats = json.loads((tmp_path / "logs" / "stats.json").read_text())
    flt_stats = next(s for s in stats if "tdmscan" in s["name"])["stats"]
    assert flt_stats["dropped"] == len(excluded)
    assert flt_stats["forwarded"] == len(kept)
    assert flt_stats["verdict_unknown"] == sum(v == "unknown" for v, _ in want.values())

    from tdmscan.ledger import Ledger

    con = Ledger(ledger).connect()
    rows = dict(con.execute("SELECT url, verdict FROM decisions").fetchall())
    assert len(rows) == len(docs()) == con.execute("SELECT count(*) FROM decisions").fetchone()[0]
    for d in docs():
        assert rows[d.get("url", "")] == want[d["id"]][0], d["id"]
    fetches = con.execute(
        "SELECT origin, status FROM fetches WHERE kind = 'robots' ORDER BY origin"
    ).fetchall()
    assert fetches == [("http://a.test", 200), ("http://b.test", 503), ("http://c.test", 404)]
    runs = con.execute("SELECT run_id, kind, status FROM runs WHERE status = 'finished'").fetchall()
    assert len(runs) == 1 and runs[0][1] == "datatrove" and runs[0][0].endswith("-r00000")


def test_datatrove_offline_uses_stored_page_only(tmp_path: Path) -> None:
    """fetch=False: no origin files, so nothing is 'allowed'; page reservations still count."""
    write_input(tmp_path / "in", docs())
    flt = TdmscanFilter(
        agents=["MyBot"],
        include_training_agents=False,
        fetch=False,
        exclusion_writer=JsonlWriter(str(tmp_path / "excluded")),
    )
    LocalPipelineExecutor(
        pipeline=[JsonlReader(str(tmp_path / "in")), flt, JsonlWriter(str(tmp_path / "out"))],
        tasks=1,
        workers=1,
        logging_dir=str(tmp_path / "logs"),
    ).run()
    assert read_output(tmp_path / "out") == []
    excluded = {d["id"]: d["metadata"]["filter_reason"] for d in read_output(tmp_path / "excluded")}
    assert excluded["ok1"] == "unknown:robots:not-checked"
    for d in docs():
        v, reasons = expected(d, fetch=False)
        assert excluded[d["id"]] == ":".join((v, *reasons)), d["id"]


def test_stored_header_forms() -> None:
    raw = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Robots-Tag: noai\r\n\r\n"
    assert stored_headers(raw) == [("Content-Type", "text/html"), ("X-Robots-Tag", "noai")]
    assert stored_headers({"X-Robots-Tag": ["noai", "noimageai"]}) == [
        ("X-Robots-Tag", "noai"),
        ("X-Robots-Tag", "noimageai"),
    ]
    assert stored_headers([["A", "1"], ("B", "2")]) == [("A", "1"), ("B", "2")]
    assert stored_headers(None) == []
