"""``tdmscan audit`` end to end against the fake web: formats, bad rows, exact accounting."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from click.testing import CliRunner

from tdmscan.cli import main
from tdmscan.fakeweb import Resp, Site
from tdmscan.ledger import Ledger

ROBOTS = "User-agent: *\nDisallow: /private/\n"
GPT_ROBOTS = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
SITES = [
    Site("a.test", {"/robots.txt": Resp(body=ROBOTS)}),
    Site("g.test", {"/robots.txt": Resp(body=GPT_ROBOTS)}),
    Site("b.test", {"/robots.txt": Resp(404)}),
    Site("xn--bcher-kva.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /\n")}),
    Site("down.test", {"/robots.txt": Resp(503)}),
]

GOOD = [
    "http://a.test/ok",
    "http://a.test/private/x",
    "http://b.test/anything",
    "http://bücher.test/z",
    "http://down.test/p",
    "http://a.test/ok",  # duplicate: a row of its own
]
BAD = [
    "ftp://a.test/file",
    "mailto:someone@a.test",
    "not a url",
    "http://a.test/" + "x" * 10_000,
]


@pytest.fixture
def web(fakeweb: Any, fakeweb_env: Any) -> Any:
    fw = fakeweb(SITES)
    fakeweb_env(fw)
    return fw


def run_cli(*args: str, input: bytes | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def decisions(ledger: Path) -> list[dict[str, Any]]:
    con = Ledger(ledger).connect()
    try:
        rel = con.sql(
            "SELECT input_row, url, agent, verdict, reasons, content_size, dataset_id"
            " FROM decisions"
        )
        return rel.to_arrow_table().to_pylist()
    finally:
        con.close()


def test_text_manifest_every_row_decided(tmp_path: Path, web: Any) -> None:
    m = tmp_path / "m.txt"
    body = "\n".join([*GOOD, "", "# comment", *BAD]) + "\n"
    m.write_bytes(body.encode() + b"http://a.test/\xff\xfe\n")
    led = tmp_path / "led"
    r = run_cli("audit", str(m), "--ledger", str(led), "--timeout", "2", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["status"] == "finished"
    rows = decisions(led)
    n_rows = len(GOOD) + len(BAD) + 1
    assert len(rows) == n_rows == out["rows_decided"]
    assert len({r["input_row"] for r in rows}) == n_rows
    by_url: dict[str, list[str]] = {}
    for row in rows:
        by_url.setdefault(row["url"], []).append(row["verdict"])
    assert by_url["http://a.test/ok"] == ["allowed", "allowed"]
    assert by_url["http://a.test/private/x"] == ["reserved"]
    assert by_url["http://b.test/anything"] == ["allowed"]
    assert by_url["http://xn--bcher-kva.test/z"] == ["reserved"]
    assert by_url["http://down.test/p"] == ["unknown"]
    reasons = {tuple(r["reasons"]) for r in rows if r["verdict"] == "invalid"}
    assert reasons == {("url:not-http",), ("url:too-long",), ("url:bad-encoding",)}
    # Each origin's files fetched once, however many URLs it has.
    assert web.hits("a.test", "/robots.txt") == 1
    assert web.hits("a.test", "/.well-known/tdmrep.json") == 1


def test_summary_output(tmp_path: Path, web: Any) -> None:
    m = tmp_path / "m.txt"
    m.write_text("\n".join(GOOD) + "\n")
    led = tmp_path / "led"
    r = run_cli(
        "audit", str(m), "--ledger", str(led), "--timeout", "2", "--progress-interval", "0.1"
    )
    assert r.exit_code == 0, r.output
    assert "Verdicts by reason" in r.output
    assert "robots:disallow" in r.output
    assert "Top reserving domains" in r.output
    assert "a.test" in r.output
    assert "HTTP 503" in r.output
    assert str(led.resolve()) in r.output.replace("\n", "")


def test_training_agents_multiply_rows(tmp_path: Path, web: Any) -> None:
    m = tmp_path / "m.txt"
    m.write_text("http://g.test/ok\n")
    led = tmp_path / "led"
    r = run_cli(
        "audit",
        str(m),
        "--ledger",
        str(led),
        "--agent",
        "MyBot",
        "--training-agents",
        "--mode",
        "strict",
        "--json",
    )
    assert r.exit_code == 0, r.output
    rows = decisions(led)
    agents = {row["agent"]: row["verdict"] for row in rows}
    assert len(rows) == len(agents) > 2
    assert agents["MyBot"] == "allowed"
    assert agents["GPTBot"] == "reserved"


def _write(path: Path, data: bytes) -> Path:
    if path.suffix == ".gz":
        data = gzip.compress(data)
    elif path.suffix == ".zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "name",
    ["m.csv", "m.tsv.gz", "m.jsonl.zst", "m.parquet", "m.jsonl"],
)
def test_formats_with_size_and_dataset(tmp_path: Path, web: Any, name: str) -> None:
    urls = [*GOOD[:3], "ftp://x.test/"]
    sizes = [10, 20, None, 40]
    p = tmp_path / name
    if "csv" in name or "tsv" in name:
        sep = "\t" if "tsv" in name else ","
        lines = [f"link{sep}bytes"] + [
            f"{u}{sep}{'' if s is None else s}" for u, s in zip(urls, sizes, strict=True)
        ]
        _write(p, ("\n".join(lines) + "\n").encode())
    elif "jsonl" in name:
        lines = [json.dumps({"link": u, "bytes": s}) for u, s in zip(urls, sizes, strict=True)]
        _write(p, ("\n".join(lines) + "\n").encode())
    else:
        pq.write_table(pa.table({"link": urls, "bytes": pa.array(sizes, pa.int64())}), p)
    led = tmp_path / "led"
    r = run_cli(
        "audit",
        str(p),
        "--ledger",
        str(led),
        "--url-column",
        "link",
        "--size-column",
        "bytes",
        "--dataset-id",
        "snap-1",
        "--json",
    )
    assert r.exit_code == 0, r.output
    rows = sorted(decisions(led), key=lambda x: x["input_row"])
    assert [x["content_size"] for x in rows] == sizes
    assert {x["dataset_id"] for x in rows} == {"snap-1"}
    assert [x["verdict"] for x in rows][-1] == "invalid"


def test_cc_index_directory(tmp_path: Path, web: Any) -> None:
    d = tmp_path / "cc" / "crawl=CC-MAIN-2026-05" / "subset=warc"
    d.mkdir(parents=True)
    pq.write_table(
        pa.table(
            {
                "url_surtkey": ["test,a)/ok", "test,b)/x"],
                "url": ["http://a.test/ok", "http://b.test/x"],
                "url_host_registered_domain": ["a.test", "b.test"],
                "warc_record_length": pa.array([111, 222], pa.int32()),
            }
        ),
        d / "part-00000.parquet",
    )
    led = tmp_path / "led"
    r = run_cli("audit", str(tmp_path / "cc"), "--ledger", str(led), "--json")
    assert r.exit_code == 0, r.output
    rows = sorted(decisions(led), key=lambda x: x["input_row"])
    assert [x["content_size"] for x in rows] == [111, 222]
    assert {x["dataset_id"] for x in rows} == {"CC-MAIN-2026-05"}


def test_stdin(tmp_path: Path, web: Any) -> None:
    led = tmp_path / "led"
    r = run_cli("audit", "-", "--ledger", str(led), "--json", input=b"http://a.test/ok\nbad\n")
    assert r.exit_code == 0, r.output
    assert len(decisions(led)) == 2


@pytest.mark.parametrize(
    ("content", "name", "extra", "message"),
    [
        (None, "missing.txt", [], "no such file"),
        (b"", "empty.txt", [], "empty manifest"),
        (b"\n\n# only comments\n", "blank.txt", [], "empty manifest"),
        (b"id,address\n1,http://a.test/\n", "m.csv", [], "available: id, address"),
        (b"url\nhttp://a.test/\n", "m.csv", ["--url-column", "nope"], "unknown column 'nope'"),
        (b"PAR1garbagePAR1", "bad.parquet", [], "not a readable Parquet file"),
        (b"\x1f\x8b\x08\x00broken", "m.txt.gz", [], "cannot read"),
        (b"http://a.test/\n", "m.txt", ["--url-column", "url"], "needs a csv"),
        (b"http://a.test/\n", "m.txt", ["--shard", "5/4"], "out of range"),
        (b"http://a.test/\n", "m.txt", ["--shard", "x"], "expected K/N"),
        (b"http://a.test/\n", "m.txt", ["--resume", "nope-run"], "no such run"),
    ],
)
def test_bad_input_is_one_line_error(
    tmp_path: Path, content: bytes | None, name: str, extra: list[str], message: str
) -> None:
    p = tmp_path / name
    if content is not None:
        p.write_bytes(content)
    r = CliRunner().invoke(main, ["audit", str(p), "--ledger", str(tmp_path / "led"), *extra])
    assert r.exit_code == 2, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert message in r.output
    assert "Traceback" not in r.output


def test_shards_partition_the_manifest(tmp_path: Path, fakeweb: Any, fakeweb_env: Any) -> None:
    hosts = [f"h{i}.d{i}.test" for i in range(12)]
    fw = fakeweb([Site(h, {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n")}) for h in hosts])
    fakeweb_env(fw)
    m = tmp_path / "m.txt"
    m.write_text("\n".join(f"http://{h}/p{j}" for h in hosts for j in range(3)) + "\nnot-a-url\n")
    led = tmp_path / "led"
    for k in range(3):
        r = run_cli(
            "audit",
            str(m),
            "--ledger",
            str(led),
            "--shard",
            f"{k}/3",
            "--run-id",
            "sharded",
            "--json",
        )
        assert r.exit_code == 0, r.output
    con = duckdb.connect()
    rows = con.sql(
        f"SELECT input_row, count(*) AS n FROM read_parquet('{led}/decisions/*/*/*.parquet')"
        " GROUP BY 1"
    ).fetchall()
    assert sorted(r[0] for r in rows) == list(range(37))
    assert {r[1] for r in rows} == {1}
    # Every origin was fetched by exactly one shard.
    assert all(fw.hits(h, "/robots.txt") == 1 for h in hosts)


def test_shard_from_job_array_env(
    tmp_path: Path, web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = tmp_path / "m.txt"
    m.write_text("http://a.test/ok\n")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
    r = run_cli("audit", str(m), "--ledger", str(tmp_path / "led"), "--shard", "/2", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["plan"]["manifest_rows"] == 1
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    monkeypatch.delenv("SLURM_ARRAY_TASK_MIN")
    r = CliRunner().invoke(
        main, ["audit", str(m), "--ledger", str(tmp_path / "l2"), "--num-shards", "2"]
    )
    assert r.exit_code == 2 and "shard index missing" in r.output


def test_rerun_of_finished_audit_is_a_new_run(tmp_path: Path, web: Any) -> None:
    m = tmp_path / "m.txt"
    m.write_text("\n".join(GOOD) + "\n")
    led = tmp_path / "led"
    a = json.loads(run_cli("audit", str(m), "--ledger", str(led), "--json").output)
    b = json.loads(run_cli("audit", str(m), "--ledger", str(led), "--json").output)
    assert a["run_id"] != b["run_id"] and not b["resumed"]
    # Explicitly resuming a finished run decides nothing twice.
    c = json.loads(
        run_cli("audit", str(m), "--ledger", str(led), "--resume", a["run_id"], "--json").output
    )
    assert c["run_id"] == a["run_id"] and c["rows_decided"] == 0
    assert os.path.isdir(led)


def test_summary_and_ledger_say_when_pages_were_not_read(
    tmp_path: Path, fakeweb: Any, fakeweb_env: Any
) -> None:
    """Without --deep the summary names the allowed URLs that rest on site-level files only,
    and every decision row says whether its page was read."""
    page = '<html><head><meta name="robots" content="noai"></head></html>'
    fw = fakeweb(
        [
            Site(
                "art.test",
                {
                    "/robots.txt": Resp(body="User-agent: *\nDisallow: /private/\n"),
                    "/noai.html": Resp(body=page, content_type="text/html"),
                    "/plain.html": Resp(
                        body="<html><head></head></html>", content_type="text/html"
                    ),
                },
            )
        ]
    )
    fakeweb_env(fw)
    m = tmp_path / "m.txt"
    m.write_text(
        "http://art.test/noai.html\nhttp://art.test/plain.html\nhttp://art.test/private/x\n"
    )
    led = tmp_path / "led"
    r = run_cli("audit", str(m), "--ledger", str(led), "--no-training-agents", "--timeout", "2")
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    assert "Page-level signals" in text and "were not read for 3 of 3 URLs" in text
    assert "2 allowed URLs rest on site-level signals only" in text
    con = Ledger(led).connect()
    assert con.execute("SELECT DISTINCT page_checked FROM decisions").fetchall() == [(False,)]
    con.close()

    led2 = tmp_path / "led2"
    r = run_cli(
        "audit", str(m), "--ledger", str(led2), "--no-training-agents", "--timeout", "2", "--deep"
    )
    assert r.exit_code == 0, r.output
    text = " ".join(r.output.split())
    # The disallowed URL's page is never fetched (the check must not crawl what robots.txt
    # forbids), so it is the one URL whose page was not read; it is not allowed.
    assert "were not read for 1 of 3 URLs: 0 allowed URLs" in text
    con = Ledger(led2).connect()
    got = dict(con.execute("SELECT url, page_checked FROM decisions").fetchall())
    con.close()
    assert got == {
        "http://art.test/noai.html": True,
        "http://art.test/plain.html": True,
        "http://art.test/private/x": False,
    }


def test_non_empty_folder_that_is_not_a_ledger_is_refused(tmp_path: Path, web: Any) -> None:
    m = tmp_path / "m.txt"
    m.write_text("http://a.test/ok\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    r = CliRunner().invoke(main, ["audit", str(m), "--ledger", str(home), "-q"])
    assert r.exit_code == 2
    assert "not empty and is not a tdmscan ledger" in r.output
    assert sorted(p.name for p in home.iterdir()) == ["notes.txt"]  # left untouched
    # An empty folder and an existing ledger are fine.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("audit", str(m), "--ledger", str(empty), "-q").exit_code == 0
    assert run_cli("audit", str(m), "--ledger", str(empty), "-q", "--new-run").exit_code == 0
