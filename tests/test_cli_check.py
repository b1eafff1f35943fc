"""``tdmscan check``: per-agent decisions with evidence, exit codes, JSON, ledger recording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tdmscan.cli import main
from tdmscan.fakeweb import Resp, Site
from tdmscan.ledger import Ledger

ROBOTS = "# site rules\nUser-agent: *\nDisallow: /private/\n"
# A disallow aimed at a training token reserves training for everyone in conservative mode.
GPT_ROBOTS = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"


@pytest.fixture
def web(fakeweb: Any, fakeweb_env: Any) -> Any:
    fw = fakeweb(
        [
            Site("a.test", {"/robots.txt": Resp(body=ROBOTS)}),
            Site("g.test", {"/robots.txt": Resp(body=GPT_ROBOTS)}),
        ]
    )
    fakeweb_env(fw)
    return fw


def invoke(*args: str) -> Any:
    runner = CliRunner(env={"COLUMNS": "200"})
    return runner.invoke(main, ["check", *args], catch_exceptions=False)


def invoke_table(*args: str) -> Any:
    return invoke(*args, "--format", "table")


def test_allowed_exit_0_and_table(web: Any) -> None:
    r = invoke_table("http://a.test/page")
    assert r.exit_code == 0, r.output
    assert "tdmscan" in r.output and "(own)" in r.output
    assert "allowed" in r.output


def test_table_shows_evidence_line(web: Any) -> None:
    r = invoke_table("http://a.test/private/x", "--no-training-agents")
    assert r.exit_code == 1, r.output
    assert "reserved" in r.output and "robots:disallow" in r.output
    assert "line 3" in r.output and "Disallow: /private/" in r.output


def test_training_agent_disallow_strict_mode(web: Any) -> None:
    r = invoke("http://g.test/page", "--json", "--mode", "strict")
    assert r.exit_code == 0, r.output
    agents = {d["agent"]: d["verdict"] for d in json.loads(r.output)["decisions"]}
    assert agents["tdmscan"] == "allowed" and agents["GPTBot"] == "reserved"
    r = invoke("http://g.test/page", "--json")
    assert r.exit_code == 1


def test_reserved_exit_1_json(web: Any) -> None:
    r = invoke("http://a.test/private/x", "http://a.test/ok", "--json", "--agent", "MyBot")
    assert r.exit_code == 1, r.output
    lines = [json.loads(x) for x in r.output.splitlines()]
    assert [x["input"] for x in lines] == ["http://a.test/private/x", "http://a.test/ok"]
    assert [x["ingest"] for x in lines] == [False, True]
    first = lines[0]["decisions"][0]
    assert first["agent"] == "MyBot" and first["verdict"] == "reserved"
    assert {d["verdict"] for d in lines[1]["decisions"]} == {"allowed"}
    # robots.txt fetched once for both URLs and every agent.
    assert web.hits("a.test", "/robots.txt") == 1


def test_no_training_agents(web: Any) -> None:
    r = invoke("http://a.test/ok", "--json", "--no-training-agents")
    assert r.exit_code == 0
    assert [d["agent"] for d in json.loads(r.output)["decisions"]] == ["tdmscan"]


def test_invalid_url_is_not_allowed(web: Any) -> None:
    r = invoke("ftp://a.test/x", "--json", "--no-training-agents")
    assert r.exit_code == 1
    d = json.loads(r.output)["decisions"][0]
    assert d["verdict"] == "invalid" and d["reasons"] == ["url:not-http"]


def test_usage_errors_exit_2() -> None:
    assert CliRunner().invoke(main, ["check"]).exit_code == 2
    r = CliRunner().invoke(main, ["check", "http://a.test/", "--mode", "lenient"])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["check", "http://a.test/", "--agent", "bad token"])
    assert r.exit_code == 2 and "product token" in r.output


def test_records_in_ledger(tmp_path: Path, web: Any) -> None:
    led = tmp_path / "led"
    r = CliRunner().invoke(
        main, ["check", "http://a.test/ok", "--no-training-agents", "--ledger", str(led), "-q"]
    )
    assert r.exit_code == 0, r.output
    con = Ledger(led).connect()
    assert con.execute("SELECT count(*) FROM decisions").fetchone() == (1,)
    # The site's three files, the page itself (check reads the page by default) and the
    # terms page looked for (check reads terms by default; a.test has none: one 404 kept).
    assert con.execute("SELECT count(*) FROM fetches").fetchone()[0] == 5
    assert con.execute("SELECT status FROM fetches WHERE kind = 'terms'").fetchall() == [(404,)]
    assert con.execute("SELECT page_checked FROM decisions").fetchone() == (True,)
    assert con.execute("SELECT kind FROM runs").fetchone() == ("check",)


NOAI_PAGE = '<html><head><meta name="robots" content="noai, noimageai"></head><body>x</body></html>'


@pytest.fixture
def art(fakeweb: Any, fakeweb_env: Any) -> Any:
    fw = fakeweb(
        [
            Site(
                "art.test",
                {
                    "/robots.txt": Resp(body="User-agent: *\nAllow: /\n"),
                    "/gallery/sunset.html": Resp(body=NOAI_PAGE, content_type="text/html"),
                },
            ),
            Site("g.test", {"/robots.txt": Resp(body=GPT_ROBOTS)}),
        ]
    )
    fakeweb_env(fw)
    return fw


def test_check_reads_the_page_by_default(art: Any) -> None:
    """A single-URL check is not a site-level guess: the page's noai meta tag is read."""
    url = "http://art.test/gallery/sunset.html"
    r = invoke(url, "--json", "--no-training-agents")
    assert r.exit_code == 1, r.output
    d = json.loads(r.output)["decisions"][0]
    assert d["verdict"] == "reserved" and "meta:noai" in d["reasons"]
    assert d["page_checked"] is True
    assert art.hits("art.test", "/gallery/sunset.html") == 1
    # --deep stays accepted (it is the default now).
    r = invoke(url, "--json", "--no-training-agents", "--deep")
    assert json.loads(r.output)["decisions"][0]["verdict"] == "reserved"


@pytest.mark.parametrize("flag", ["--shallow", "--no-deep"])
def test_shallow_check_says_the_page_was_not_read(art: Any, flag: str) -> None:
    url = "http://art.test/gallery/sunset.html"
    before = art.hits("art.test", "/gallery/sunset.html")
    r = invoke(url, "--no-training-agents", flag)
    assert r.exit_code == 0, r.output
    assert "allowed" in r.output and "page-not-read" in r.output
    assert "rest on site-level signals only" in r.output
    assert art.hits("art.test", "/gallery/sunset.html") == before
    r = invoke(url, "--no-training-agents", flag, "--json")
    assert json.loads(r.output)["decisions"][0]["page_checked"] is False


def test_piped_output_is_one_whole_line_per_decision(art: Any) -> None:
    """Not a terminal: tab-separated lines at any width, every reason code whole."""
    runner = CliRunner(env={"COLUMNS": "80"})
    r = runner.invoke(main, ["check", "http://g.test/x", "--agent", "MyBot"])
    assert r.exit_code == 1, r.output
    lines = [ln.split("\t") for ln in r.output.splitlines() if "\t" in ln]
    assert len(lines) > 30  # own token + every training agent, one line each
    assert all(len(f) == 6 for f in lines)
    own = lines[0]
    assert own[:3] == ["http://g.test/x", "MyBot", "reserved"]
    assert own[3] == "robots:training-agent-disallow"
    assert "…" not in r.output


def test_table_at_80_columns_keeps_reason_codes_whole(art: Any) -> None:
    runner = CliRunner(env={"COLUMNS": "80"})
    r = runner.invoke(main, ["check", "http://g.test/x", "--agent", "MyBot", "--format", "table"])
    assert r.exit_code == 1, r.output
    assert "robots:training-agent-disallow" in r.output
    assert "…" not in r.output
