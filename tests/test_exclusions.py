"""Infringing-site lists (Code of Practice measure 1.2): shipped list, user CSV lists, policy,
scanner (listed origins are never contacted), CLI."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from click.testing import CliRunner

import tdmscan
from tdmscan.cli import main
from tdmscan.fakeweb import Resp, Site
from tdmscan.fetch import FetchLimits
from tdmscan.ledger import Ledger
from tdmscan.scanner import Scanner
from tdmscan.signals.exclusions import (
    ExclusionError,
    load_exclusion_list,
    parse_exclusion_csv,
    seed_list,
)

FAST = FetchLimits(total_timeout=2.0, connect_timeout=2.0)
CSV = "domain,source,date\npirate.test,Tribunal judiciaire de X order 24/00001,2025-03-01\n"


def test_shipped_list_is_versioned_dated_and_sourced():
    raw = resources.files("tdmscan.signals").joinpath("data/infringing_sites.json").read_text()
    doc = json.loads(raw)
    assert doc["name"] and doc["version"] and doc["date"]
    lst = seed_list()
    assert lst.kind == "shipped" and len(lst) == len(doc["entries"]) >= 1
    for e in lst.entries.values():
        assert e.source and e.date and e.url and e.url.startswith("https://")


def test_user_csv_matches_domain_and_subdomains_only():
    lst = parse_exclusion_csv(CSV, "court-orders")
    assert lst.version.startswith("sha256:") and lst.date == "2025-03-01"
    assert lst.match("pirate.test").source.startswith("Tribunal")
    assert lst.match("www.cdn.pirate.test") is not None
    assert lst.match("notpirate.test") is None and lst.match("pirate.test.evil") is None
    # Same content, same version: the evidence pins the exact copy of the file.
    assert parse_exclusion_csv(CSV, "x").version == lst.version
    assert parse_exclusion_csv(CSV + "more.test,y,2025\n", "x").version != lst.version


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("domain,date\na.test,2025\n", "must name the columns"),
        ("domain,source,date\nnot a domain,x,2025\n", "line 2"),
        ("domain,source,date\na.test,,2025\n", "has no source"),
        ("domain,source,date\na.test,x,March 2025\n", "is not YYYY"),
        ("domain,source,date\n", "no entries"),
    ],
)
def test_bad_user_lists_fail_with_one_line(text, message):
    with pytest.raises(ExclusionError, match=message):
        parse_exclusion_csv(text, "bad")


def test_policy_listed_domain_is_never_ingestible_in_any_mode_or_purpose():
    lst = parse_exclusion_csv(CSV, "court-orders")
    for mode in ("conservative", "strict"):
        for purpose in ("train-ai", "search"):
            d = tdmscan.evaluate(
                "https://a.pirate.test/x",
                "MyBot",
                robots_txt=b"User-agent: *\nAllow: /\n",
                exclude_lists=[lst],
                mode=mode,
                purpose=purpose,
            )
            assert d.verdict == "reserved" and d.reasons == ("access:listed-infringing",)
            (ev,) = d.decisive_evidence
            assert ev.locator == f"list court-orders {lst.version}"
            assert ev.raw.startswith("pirate.test: Tribunal")
    shipped = next(iter(seed_list().entries))
    d = tdmscan.evaluate(f"https://{shipped}/", "MyBot", robots_txt=b"")
    assert d.reasons == ("access:listed-infringing",)
    assert seed_list().name in d.evidence[0].locator
    assert tdmscan.evaluate("https://fine.test/", "MyBot", robots_txt=b"").verdict == "allowed"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def web(fakeweb, fakeweb_env):
    fw = fakeweb(
        [
            Site("pirate.test", {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n")}),
            Site("fine.test", {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n")}),
        ]
    )
    fakeweb_env(fw)
    return fw


@pytest.mark.anyio
async def test_scanner_never_contacts_a_listed_origin(web):
    lst = parse_exclusion_csv(CSV, "court-orders")
    async with Scanner(
        ["MyBot"], include_training_agents=False, limits=FAST, exclude_lists=[lst], terms=True
    ) as s:
        d = await s.check("http://pirate.test/film", deep=True)
        assert d.verdict == "reserved" and d.reasons == ("access:listed-infringing",)
        assert (await s.check("http://fine.test/a")).verdict == "allowed"
    assert web.hits("pirate.test", "/robots.txt") == 0
    assert web.hits("pirate.test", "/film") == 0 and web.hits("pirate.test", "/") == 0
    assert web.hits("fine.test", "/robots.txt") == 1


@pytest.mark.parametrize("fetch_process", ["off", "on"])
def test_cli_audit_and_check_exclude_list(web, tmp_path, fetch_process):
    lists = tmp_path / "court-orders.csv"
    lists.write_text(CSV)
    manifest = tmp_path / "urls.txt"
    manifest.write_text("http://pirate.test/a\nhttp://www.pirate.test/b\nhttp://fine.test/c\n")
    led = tmp_path / "led"
    r = CliRunner().invoke(
        main,
        ["audit", str(manifest), "--ledger", str(led), "--agent", "MyBot", "--quiet",
         "--exclude-list", str(lists), "--fetch-process", fetch_process],
        catch_exceptions=False,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    con = Ledger(led).connect()
    rows = con.execute("SELECT url, verdict, reasons FROM decisions ORDER BY url").fetchall()
    assert rows == [
        ("http://fine.test/c", "allowed", []),
        ("http://pirate.test/a", "reserved", ["access:listed-infringing"]),
        ("http://www.pirate.test/b", "reserved", ["access:listed-infringing"]),
    ]
    assert web.hits("pirate.test", "/robots.txt") == 0
    version = load_exclusion_list(lists).version
    (locator,) = con.execute(
        "SELECT DISTINCT e.locator FROM decisions, unnest(evidence) AS t(e) "
        "WHERE e.reason = 'access:listed-infringing'"
    ).fetchone()
    assert locator == f"list court-orders {version}"


def test_cli_bad_exclude_list_is_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("domain,source\nnot a domain,x\n")
    r = CliRunner().invoke(main, ["check", "http://a.test/", "--exclude-list", str(bad)])
    assert r.exit_code == 2
    assert "bad line 2" in r.output and "Traceback" not in r.output
    missing = str(tmp_path / "no")
    r = CliRunner().invoke(main, ["check", "http://a.test/", "--exclude-list", missing])
    assert r.exit_code == 2 and "cannot read" in r.output


def test_evidence_report_lists_exclusions_per_list(web, tmp_path):
    from tdmscan.reports import build_evidence

    lists = tmp_path / "court-orders.csv"
    lists.write_text(CSV)
    manifest = tmp_path / "urls.txt"
    manifest.write_text("http://pirate.test/a\nhttp://www.pirate.test/b\nhttp://fine.test/c\n")
    led = tmp_path / "led"
    r = CliRunner().invoke(
        main,
        ["audit", str(manifest), "--ledger", str(led), "--agent", "MyBot", "--quiet",
         "--exclude-list", str(lists)],
        catch_exceptions=False,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    rep = build_evidence(Ledger(led))
    sec = next(s for s in rep.sections if s.id == "infringing-sites")
    (table,) = sec.tables
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert len(table.rows) == 1
    assert row["list"] == "court-orders" and row["list_version"].startswith("sha256:")
    assert row["listed_domain"] == "pirate.test" and row["urls"] == 2
    assert row["source"].startswith("Tribunal judiciaire")
    assert "2 URLs in scope were excluded" in " ".join(sec.paragraphs)
