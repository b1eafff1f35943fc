"""The ledger on object storage, against a real S3-compatible server on loopback (moto).

What must hold: an ``s3://`` location is never a local folder; segments and chain entries are
write-once objects; two writers at once neither lose nor fork the chain; a writer killed in
the middle of a commit leaves nothing a reader sees; ``tdmscan sql`` and ``verify`` read the
ledger in place.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("s3fs")
pytest.importorskip("moto")

from s3_server import make_bucket, s3_server

from tdmscan.cli import main
from tdmscan.fakeweb import Resp, Site
from tdmscan.ledger import Ledger, RunInfo
from tdmscan.ledger.objectstore import ObjectLedger
from tdmscan.ledger.storage import LedgerLocationError, parse_location
from tdmscan.types import Decision

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    with s3_server() as env:
        yield env


@pytest.fixture
def bucket(s3: dict[str, str]) -> str:
    name = f"b{uuid.uuid4().hex[:12]}"
    make_bucket(name)
    return name


def decision(url: str, verdict: str = "allowed", agent: str = "TestBot") -> Decision:
    return Decision(url=url, agent=agent, purpose="train-ai", mode="conservative", verdict=verdict)


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


# -- locations -------------------------------------------------------------------------------


def test_parse_location_rules(tmp_path: Path) -> None:
    assert parse_location("s3://bk/a/b/").uri == "s3://bk/a/b"
    assert parse_location("gs://bk/x").scheme == "gs"
    assert parse_location(str(tmp_path)).is_local
    assert parse_location(f"file://{tmp_path}").root == str(tmp_path)
    for bad in ("s3:/bk/x", "s3:bk", "s3://", "s3:///x", "ftp://h/x", "s3://bk/../x", ""):
        with pytest.raises(LedgerLocationError):
            parse_location(bad)


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("s3:/bucket/x", "not a valid s3:// URI"),
        ("ftp://host/x", "unsupported ledger location scheme"),
        ("s3://", "no bucket"),
    ],
)
def test_unusable_uri_is_one_line_and_no_local_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uri: str, needle: str
) -> None:
    monkeypatch.chdir(tmp_path)
    m = tmp_path / "m.txt"
    m.write_text("http://a.test/x\n")
    for args in (
        ["audit", str(m), "--ledger", uri],
        ["sql", "--ledger", uri, "SELECT 1"],
        ["ledger", "verify", "--ledger", uri],
    ):
        r = run_cli(*args)
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output
        assert "Traceback" not in r.output
    assert sorted(os.listdir(tmp_path)) == ["m.txt"]


def test_missing_bucket_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    m = tmp_path / "m.txt"
    m.write_text("http://a.test/x\n")
    r = run_cli("audit", str(m), "--ledger", "s3://no-such-bucket-17/led")
    assert r.exit_code == 2, r.output
    assert "no-such-bucket-17" in r.output and "does not exist" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["m.txt"]


def test_endpoint_comes_from_the_environment(s3: dict[str, str], bucket: str) -> None:
    led = Ledger(f"s3://{bucket}/led")
    assert isinstance(led, ObjectLedger)
    # The client talks to the loopback server named by AWS_ENDPOINT_URL, not to AWS.
    assert led.fs.client_kwargs["endpoint_url"] == s3["AWS_ENDPOINT_URL"]
    assert led.fs.exists(f"{bucket}/led/chain/{0:020d}.json")


# -- write, read in place, verify ------------------------------------------------------------


def test_round_trip_sql_and_verify(bucket: str) -> None:
    led = Ledger(f"s3://{bucket}/led")
    run = RunInfo(kind="audit", agents=["TestBot"], run_id="r1")
    with led.writer(run, shards=4, flush_rows=50, flush_seconds=None) as w:
        for i in range(230):
            w.add(decision(f"http://d{i % 17}.test/p{i}", "reserved" if i % 3 else "allowed"))
    con = led.connect()
    n, reserved, shards = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE verdict = 'reserved'), count(DISTINCT shard)"
        " FROM decisions"
    ).fetchone()
    assert (n, reserved) == (230, sum(1 for i in range(230) if i % 3))
    assert shards > 1
    row = con.execute("SELECT status, decisions FROM runs WHERE run_id = 'r1'").fetchone()
    assert row == ("finished", 230)
    rep = led.verify()
    assert rep.ok, rep.issues
    assert rep.rows["decisions"] == 230
    assert rep.head == led.head()
    # Nothing was written locally and every chain entry is its own object.
    entries, problems = led.chain.read()
    assert not problems
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    # The CLI reads it in place too.
    r = run_cli(
        "sql",
        "--ledger",
        f"s3://{bucket}/led",
        "--format",
        "csv",
        "SELECT count(*) AS n FROM decisions",
    )
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1] == "230"


def test_tampered_object_is_caught(bucket: str) -> None:
    led = Ledger(f"s3://{bucket}/led")
    with led.writer(RunInfo(run_id="r1"), shards=1, flush_seconds=None) as w:
        w.add(decision("http://a.test/x"))
    seg = next(e for e in led.live_segments("decisions") if e["rows"])
    data = led.fs.cat_file(f"{bucket}/led/{seg['path']}")
    led.fs.pipe_file(f"{bucket}/led/{seg['path']}", data + b"x")
    rep = Ledger(f"s3://{bucket}/led", create=False).verify()
    assert [i.kind for i in rep.issues] == ["modified"]


def test_audit_cli_to_s3_and_resume_reads_in_place(
    tmp_path: Path,
    bucket: str,
    fakeweb: Any,
    fakeweb_env: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fw = fakeweb([Site("a.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /p/\n")})])
    fakeweb_env(fw)
    # The web goes through the fake web's proxy; the object store is reached directly.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    m = tmp_path / "m.txt"
    m.write_text("http://a.test/ok\nhttp://a.test/p/x\n")
    uri = f"s3://{bucket}/audit"
    r = run_cli("audit", str(m), "--ledger", uri, "--timeout", "2", "--json", "--run-id", "a1")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["ledger"] == uri  # not folded into "s3:/..."
    r = run_cli(
        "sql",
        "--ledger",
        uri,
        "--format",
        "json",
        "SELECT url, verdict FROM decisions ORDER BY url",
    )
    rows = json.loads(r.output)
    assert [(x["url"], x["verdict"]) for x in rows] == [
        ("http://a.test/ok", "allowed"),
        ("http://a.test/p/x", "reserved"),
    ]
    r = run_cli("ledger", "verify", "--ledger", uri)
    assert r.exit_code == 0, r.output
    assert not os.path.exists("s3:")


# -- concurrency and crashes -----------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from tdmscan.ledger import Ledger, RunInfo
    from tdmscan.types import Decision
    uri, run_id, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    led = Ledger(uri)
    if mode == "stall-before-entry":
        # Stop between the segment object and its chain entry: the parent SIGKILLs us here.
        import time
        from tdmscan.ledger.objectstore import ObjectChain
        orig = ObjectChain.append
        def append(self, entry):
            if entry["table"] == "decisions":
                print("SEGMENT-WRITTEN", flush=True)
                time.sleep(60)
            return orig(self, entry)
        ObjectChain.append = append
    w = led.writer(RunInfo(run_id=run_id), shards=2, flush_rows=5, flush_seconds=None)
    for i in range(n):
        w.add(Decision(url=f"http://{run_id}-{i % 7}.test/{i}", agent="B", purpose="train-ai",
                       mode="conservative", verdict="allowed"))
        if mode == "loop" and i % 5 == 4:
            print("FLUSHED", i + 1, flush=True)
    w.close()
    print("DONE", flush=True)
    """
)


def spawn(uri: str, run_id: str, n: int, mode: str = "plain") -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, uri, run_id, str(n), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_two_concurrent_writers_neither_lose_nor_fork(bucket: str) -> None:
    uri = f"s3://{bucket}/led"
    Ledger(uri)  # layout first, so the writers race on data entries only
    procs = [spawn(uri, "wa", 60), spawn(uri, "wb", 60)]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    led = Ledger(uri, create=False)
    entries, problems = led.chain.read()
    assert not problems
    # One linear chain: contiguous seqs, each prev the hash before it.
    assert [e["seq"] for e in entries] == list(range(len(entries)))
    assert all(b["prev"] == a["entry_hash"] for a, b in itertools.pairwise(entries))
    rep = led.verify()
    assert rep.ok, rep.issues
    counts = dict(led.connect().sql("SELECT run_id, count(*) FROM decisions GROUP BY 1").fetchall())
    assert counts == {"wa": 60, "wb": 60}
    # Every segment object either writer created has exactly one chain entry: none was lost
    # to the other's append, none entered twice.
    named = [e["path"] for e in entries if e["table"] == "decisions" and e["op"] == "add"]
    stored = [f for f in led._list_files() if f.startswith("decisions/run=w")]
    assert sorted(named) == sorted(stored)
    assert len(set(named)) == len(named)


def test_writer_killed_between_segment_and_entry(bucket: str) -> None:
    uri = f"s3://{bucket}/led"
    Ledger(uri)
    p = spawn(uri, "dead", 20, mode="stall-before-entry")
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.strip() == "SEGMENT-WRITTEN", p.stderr.read() if p.stderr else ""
    os.kill(p.pid, signal.SIGKILL)
    p.wait(10)
    led = Ledger(uri, create=False)
    # The orphan object exists, but no reader sees its rows and verify names it a warning.
    orphans = [f for f in led._list_files() if "run=dead/shard=" in f]
    assert orphans
    assert led.connect().execute("SELECT count(*) FROM decisions").fetchone() == (0,)
    rep = led.verify()
    assert rep.ok, rep.issues
    assert any("uncommitted segment" in w for w in rep.warnings)
    # The chain goes on: another writer commits after it.
    q = spawn(uri, "alive", 10)
    _, err = q.communicate(timeout=120)
    assert q.returncode == 0, err
    assert led.connect().execute("SELECT count(*) FROM decisions").fetchone() == (10,)
    assert Ledger(uri, create=False).verify().ok


def test_writer_killed_at_a_random_moment(bucket: str) -> None:
    uri = f"s3://{bucket}/led"
    Ledger(uri)
    p = spawn(uri, "rnd", 10_000, mode="loop")
    assert p.stdout is not None
    # Kill somewhere after a few flushes, wherever the writer happens to be.
    for _ in range(4):
        p.stdout.readline()
    time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(10)
    led = Ledger(uri, create=False)
    rep = led.verify()
    assert rep.ok, rep.issues
    committed = sum(e["rows"] for e in led.live_segments("decisions"))
    assert committed >= 10
    seen = led.connect().execute("SELECT count(*), count(DISTINCT url) FROM decisions").fetchone()
    assert seen == (committed, committed)


def test_started_at_is_utc(bucket: str) -> None:
    led = Ledger(f"s3://{bucket}/led")
    t0 = datetime.now(UTC)
    with led.writer(RunInfo(run_id="t"), shards=1, flush_seconds=None) as w:
        w.add(decision("http://a.test/"))
    (started,) = led.connect().execute("SELECT min(started_at) FROM run_history").fetchone()
    assert abs((started - t0).total_seconds()) < 60
