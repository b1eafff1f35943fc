"""LedgerWriter.add_templated (the audit's columnar path) writes what add_many would."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tdmscan.ledger import DecisionContext, Ledger, RunInfo
from tdmscan.types import Decision, Evidence, RobotsOutcome

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def full_decision(url: str) -> Decision:
    """A decision with every column set, evidence and a robots outcome included."""
    robots = RobotsOutcome(
        branch="parsed",
        status=200,
        url="https://www.example.co.uk/robots.txt",
        sha256="ab" * 32,
        fetched_at=T0,
        verdict="disallow",
        matched_line=3,
        matched_rule="Disallow: /",
        group="GPTBot",
        truncated=False,
        error=None,
    )
    ev = Evidence(
        protocol="robots",
        locator="robots.txt line 3",
        raw="Disallow: /",
        interpretation="reserved",
        reason="robots:disallow",
        spec_version="RFC 9309",
        source_url=robots.url,
        sha256=robots.sha256,
        strength="explicit",
        decisive=True,
    )
    return Decision(
        url=url,
        agent="GPTBot",
        verdict="reserved",
        reasons=("robots:disallow", "tdmrep:reserved"),
        evidence=(ev, ev),
        purpose="train-ai",
        mode="conservative",
        tdm_policy="https://p.example/pol",
        licences=("CC-BY-4.0",),
        robots=robots,
        tdm_reservation=1,
        tdm_source="file",
        tdmrep_sha256="cd" * 32,
        final_url=url + "?final",
        errors=("ai-txt:timeout",),
    )


# decision_id and checked_at are per write by design; everything else must match.
IGNORED = {"decision_id", "checked_at", "run_id"}


def _rows(led: Ledger, run_id: str) -> list[dict]:
    con = led.connect()
    try:
        cur = con.execute(
            "SELECT * FROM decisions WHERE run_id = ? ORDER BY input_row, agent", [run_id]
        )
        names = [c[0] for c in cur.description]
        return [
            {k: v for k, v in zip(names, r, strict=True) if k not in IGNORED}
            for r in cur.fetchall()
        ]
    finally:
        con.close()


def _templates() -> list[Decision]:
    full = full_decision("https://www.example.co.uk/first")
    plain = Decision(
        url="https://www.example.co.uk/other",
        agent="tdmscan",
        verdict="allowed",
        purpose="train-ai",
        mode="conservative",
    )
    return [full, plain, replace(full, agent="CCBot", verdict="unknown", errors=("x:y",))]


@pytest.mark.parametrize("flush_rows", [7, 10_000])
def test_templated_rows_equal_add_many(tmp_path: Path, flush_rows: int) -> None:
    led = Ledger(tmp_path / "L")
    origin = "https://www.example.co.uk"
    tmpl = _templates()
    n = 40
    index = [(i * 7) % 3 for i in range(n)]
    urls = [f"{origin}/p/{i}?q={i}" for i in range(n)]
    rows = list(range(100, 100 + n))
    sizes = [None if i % 4 == 0 else 1000 + i for i in range(n)]
    datasets = [None if i % 5 == 0 else f"ds-{i % 2}" for i in range(n)]

    def run(kind: str) -> str:
        info = RunInfo(kind="audit", agents=["tdmscan"], dataset_id="run-default")
        with led.writer(info, flush_rows=flush_rows, flush_seconds=None) as w:
            if kind == "templated":
                # Split over calls: chunks of one shard are concatenated at flush.
                for a, b in ((0, 13), (13, 14), (14, n)):
                    w.add_templated(
                        origin,
                        tmpl,
                        index[a:b],
                        urls[a:b],
                        input_row=rows[a:b],
                        content_size=sizes[a:b],
                        dataset_id=datasets[a:b],
                    )
            else:
                ds = [replace(tmpl[index[i]], url=urls[i]) for i in range(n)]
                ctxs = [
                    DecisionContext(
                        source_kind="manifest_audit",
                        input_row=rows[i],
                        content_size=sizes[i],
                        dataset_id=datasets[i],
                    )
                    for i in range(n)
                ]
                w.add_many(ds, ctxs)
        return info.run_id

    want = _rows(led, run("many"))
    got = _rows(led, run("templated"))
    assert len(got) == n
    assert got == want
    # The row's own URL, not the template's, and the run's dataset where a row has none.
    assert {r["url"] for r in got} == set(urls)
    assert got[0]["dataset_id"] == "run-default"
    assert got[0]["final_url"] == tmpl[index[0]].final_url


def test_templated_and_plain_rows_share_a_shard(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    origin = "https://www.example.co.uk"
    tmpl = _templates()
    info = RunInfo(kind="audit", agents=["tdmscan"])
    with led.writer(info, flush_rows=10_000, flush_seconds=None) as w:
        w.add(replace(tmpl[1], url=origin + "/plain"), DecisionContext(input_row=0))
        w.add_templated(origin, tmpl, [0, 1], [origin + "/a", origin + "/b"], input_row=[1, 2])
    con = led.connect()
    got = con.execute(
        "SELECT input_row, url, verdict, source_kind, content_size FROM decisions ORDER BY 1"
    ).fetchall()
    con.close()
    assert got == [
        (0, origin + "/plain", "allowed", "own_crawl", None),
        (1, origin + "/a", "reserved", "manifest_audit", None),
        (2, origin + "/b", "allowed", "manifest_audit", None),
    ]
    assert w.decisions_written == 3
    assert w.counts["reserved"] == 1 and w.counts["allowed"] == 2


def test_templated_rejects_bad_input(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    tmpl = _templates()
    o = "https://www.example.co.uk"
    with led.writer(RunInfo(kind="audit", agents=["x"]), flush_seconds=None) as w:
        with pytest.raises(ValueError, match="index"):
            w.add_templated(o, tmpl, [0], [o + "/a", o + "/b"])
        with pytest.raises(ValueError, match="input_row"):
            w.add_templated(o, tmpl, [0], [o + "/a"], input_row=[1, 2])
        with pytest.raises(ValueError, match="source_kind"):
            w.add_templated(o, tmpl, [0], [o + "/a"], source_kind="guess")
        w.add_templated(o, tmpl, [], [])  # nothing to do is fine
    with pytest.raises(RuntimeError, match="closed"):
        w.add_templated(o, tmpl, [0], [o + "/a"])
