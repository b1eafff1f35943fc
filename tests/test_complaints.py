"""Complaints register (Code of Practice measure 1.5): add, re-check with linked decisions,
exclusion until resolved, resolve, list, the chain, and the evidence report section."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tdmscan.cli import main
from tdmscan.fakeweb import Resp, Site
from tdmscan.ledger import Ledger

ALLOW = Resp(body="User-agent: *\nAllow: /\n")
SITES = [
    Site("photos.test", {"/robots.txt": ALLOW, "/gallery/1.html": Resp(body="<p>x</p>")}),
    Site("other.test", {"/robots.txt": ALLOW}),
]


@pytest.fixture
def web(fakeweb, fakeweb_env):
    fw = fakeweb(SITES)
    fakeweb_env(fw)
    return fw


def cli(*args: str):
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r


def test_add_rechecks_links_decisions_and_excludes_until_resolved(web, tmp_path):
    led = str(tmp_path / "led")
    r = cli(
        "complaints", "add", "--ledger", led, "--complainant", "Photo Agency GmbH",
        "--claim", "our photos were used for AI training despite our terms",
        "--url", "http://photos.test/gallery/1.html", "--domain", "photos.test",
        "--received", "2026-11-02", "--exclude-until-resolved", "--agent", "MyBot", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    cid, run_id, ids = out["complaint_id"], out["recheck_run_id"], out["decision_ids"]
    assert run_id and len(ids) == 2
    assert web.hits("photos.test", "/gallery/1.html") == 1  # the re-check read the page

    con = Ledger(led).connect()
    linked = con.execute(
        "SELECT url, run_id FROM decisions WHERE list_contains(?, decision_id) ORDER BY url",
        [ids],
    ).fetchall()
    # A named domain is re-checked at its https home page (which the fake web cannot serve).
    assert linked == [
        ("http://photos.test/gallery/1.html", run_id),
        ("https://photos.test/", run_id),
    ]
    assert con.execute("SELECT kind FROM runs WHERE run_id = ?", [run_id]).fetchone() == (
        "recheck",
    )
    state = con.execute(
        "SELECT status, recheck_run_id, received_at::DATE::VARCHAR FROM complaints_state"
    ).fetchall()
    assert state == [("open", run_id, "2026-11-02")]

    # While open, later checks recorded in this ledger exclude the domain (and subdomains).
    r = cli("check", "http://www.photos.test/a", "http://other.test/b", "--ledger", led,
            "--agent", "MyBot", "--no-training-agents", "--format", "lines")  # fmt: skip
    lines = [ln.split("\t") for ln in r.output.strip().splitlines() if "\t" in ln]
    assert [(ln[0], ln[2], ln[3]) for ln in lines] == [
        ("http://www.photos.test/a", "reserved", "complaint:open"),
        ("http://other.test/b", "allowed", "-"),
    ]
    assert web.hits("photos.test", "/a") == 0

    r = cli("complaints", "resolve", "--ledger", led, cid, "--resolution", "excluded",
            "--resolved", "2026-11-05")  # fmt: skip
    assert r.exit_code == 0, r.output
    r = cli("complaints", "resolve", "--ledger", led, cid, "--resolution", "again")
    assert r.exit_code == 2 and "already resolved" in r.output
    r = cli("check", "http://photos.test/a", "--ledger", led, "--agent", "MyBot",
            "--no-training-agents", "--format", "lines")  # fmt: skip
    (line,) = [ln for ln in r.output.splitlines() if "\t" in ln]
    assert line.split("\t")[2] == "allowed"

    r = cli("complaints", "list", "--ledger", led, "--json")
    (row,) = [json.loads(x) for x in r.output.strip().splitlines()]
    assert row["status"] == "resolved" and row["resolution"] == "excluded"
    assert Ledger(led).verify().ok


def test_no_recheck_queues_and_recheck_command_processes(web, tmp_path):
    led = str(tmp_path / "led")
    r = cli("complaints", "add", "--ledger", led, "--complainant", "A", "--claim", "b",
            "--url", "http://other.test/x", "--no-recheck")  # fmt: skip
    assert r.exit_code == 0 and "queued" in r.output
    assert web.hits("other.test", "/x") == 0
    r = cli("complaints", "recheck", "--ledger", led, "--agent", "MyBot")
    assert r.exit_code == 0 and "1 decisions" in r.output
    r = cli("complaints", "recheck", "--ledger", led)
    assert "nothing to re-check" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--complainant", "A", "--claim", "b"], "at least one URL or domain"),
        (["--complainant", "A", "--claim", "b", "--url", "ftp://x"], "not an http(s) URL"),
        (["--complainant", "A", "--claim", "b", "--url", "http://a.test/",
          "--exclude-until-resolved"], "needs at least one --domain"),
        (["--complainant", "A", "--claim", "b", "--domain", "x.test", "--received", "soon"],
         "expected an ISO date"),
    ],
)  # fmt: skip
def test_bad_complaints_are_one_line(tmp_path, args, message):
    r = cli("complaints", "add", "--ledger", str(tmp_path / "led"), "--no-recheck", *args)
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


def test_unknown_complaint_id(tmp_path):
    led = str(tmp_path / "led")
    Ledger(led)
    r = cli("complaints", "resolve", "--ledger", led, "c-nope", "--resolution", "x")
    assert r.exit_code == 2 and "no complaint" in r.output


def test_evidence_report_complaints_section(web, tmp_path):
    from tdmscan.reports import build_evidence

    led = str(tmp_path / "led")
    for i, received in enumerate(("2026-11-01", "2026-11-03")):
        r = cli("complaints", "add", "--ledger", led, "--complainant", f"R{i}", "--claim", "c",
                "--domain", f"d{i}.test", "--received", received, "--no-recheck",
                "--json")  # fmt: skip
        assert r.exit_code == 0, r.output
    second = json.loads(r.output.strip().splitlines()[-1])["complaint_id"]
    cli("complaints", "resolve", "--ledger", led, second, "--resolution", "excluded",
        "--resolved", "2026-11-07")  # fmt: skip
    rep = build_evidence(Ledger(led))
    sec = next(s for s in rep.sections if s.id == "complaints")
    k = sec.tables[0].one()
    assert (k["complaints_received"], k["open"], k["resolved"]) == (2, 1, 1)
    assert k["median_days_to_resolution"] == 4.0
    outcomes = {(row[0], row[1]): row[2] for row in sec.tables[1].rows}
    assert outcomes == {("resolved", "excluded"): 1, ("open", "(open)"): 1}
