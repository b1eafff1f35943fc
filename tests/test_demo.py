"""``tdmscan demo`` runs the whole pipeline offline on the bundled fake web."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tdmscan.ledger import Ledger


def test_demo_offline(tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="160")
    # A proxy pointing nowhere proves the demo routes itself through its own fake web.
    env["HTTP_PROXY"] = env["HTTPS_PROXY"] = "http://127.0.0.1:9"
    env["NO_PROXY"] = "*"
    led = tmp_path / "led"
    t = time.monotonic()
    p = subprocess.run(
        [sys.executable, "-m", "tdmscan", "demo", "--ledger", str(led)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - t
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert "Verdicts by reason" in p.stdout
    assert "A sample query" in p.stdout and "SELECT" in p.stdout
    assert "robots:disallow" in p.stdout
    assert str(led.resolve()) in p.stdout.replace("\n", "")
    con = Ledger(led).connect()
    text = (Path(__file__).parents[1] / "src/tdmscan/fakeweb/demo_manifest.txt").read_text()
    n_lines = sum(1 for line in text.splitlines() if line.strip() and not line.startswith("#"))
    rows = con.execute("SELECT count(DISTINCT input_row) FROM decisions").fetchone()
    assert rows == (n_lines,)
    # The hanging host costs about the 2 s timeout, not the default 15 s.
    assert elapsed < 30
    own = "WHERE agent = 'tdmscan'"
    reasons = {
        r
        for (r,) in con.execute(f"SELECT DISTINCT unnest(reasons) FROM decisions {own}").fetchall()
    }
    # The sample web exercises every protocol, page-level ones included (the demo is --deep).
    assert {
        "robots:disallow",
        "robots:training-agent-disallow",
        "robots:unreachable",
        "content-signal:ai-train=no",
        "aipref:train-ai=n",
        "tdmrep:reserved",
        "rsl:prohibited",
        "ai-txt:disallow",
        "meta:noai",
        "header:noai",
        "header:noimageai",
        "url:not-http",
    } <= reasons
    sources = {
        s for (s,) in con.execute(f"SELECT DISTINCT tdm_source FROM decisions {own}").fetchall()
    }
    assert {"file", "header", "meta"} <= sources
    licences = {
        x
        for (x,) in con.execute(
            f"SELECT DISTINCT unnest(licences) FROM decisions {own} AND url LIKE '%cc.example%'"
        ).fetchall()
    }
    assert "CC-BY-SA-4.0" in licences
    branches = {
        b for (b,) in con.execute(f"SELECT DISTINCT robots_branch FROM decisions {own}").fetchall()
    }
    assert {"parsed", "4xx-allow", "unreachable", "redirect-limit"} <= branches


def test_deep_audit_keeps_page_heads_as_evidence(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tdmscan.cli import main

    led = tmp_path / "led"
    res = CliRunner().invoke(main, ["demo", "--ledger", str(led), "--quiet"])
    assert res.exit_code == 0, res.output
    con = Ledger(led).connect()
    # A page that reserved itself by header: its fetch row and the bytes are in the ledger.
    row = con.execute(
        """
        SELECT f.url, f.status, f.headers
        FROM decisions d
        JOIN fetches f ON f.kind = 'page' AND f.url = d.url
        JOIN snapshots s ON s.sha256 = f.sha256  -- the bytes are kept too
        WHERE d.agent = 'tdmscan' AND list_contains(d.reasons, 'header:noai')
        LIMIT 1
        """
    ).fetchone()
    assert row is not None and row[1] == 200
    assert any(h["name"].lower() == "x-robots-tag" and "noai" in h["value"] for h in row[2])
    pages = con.execute("SELECT count(*), count(DISTINCT url) FROM fetches WHERE kind = 'page'")
    n, distinct = pages.fetchone()
    assert n == distinct > 0  # each page head recorded once
