"""Rollups: figures from the compact per-run counts equal the figures from raw decisions."""

from __future__ import annotations

from pathlib import Path

from tdmscan.ledger import DecisionContext, Ledger, RunInfo, shard_of
from tdmscan.types import Decision, Evidence

VERDICTS = ("allowed", "reserved", "unknown")
REASONS = {"allowed": ("robots-allow",), "reserved": ("robots-disallow",), "unknown": ()}

RAW = """
SELECT registrable_domain, agent, verdict, reasons[1] AS reason,
       count(*) AS n, sum(content_size) AS bytes, min(checked_at) AS first, max(checked_at) AS last
FROM decisions GROUP BY ALL ORDER BY ALL
"""
ROLLED = """
SELECT registrable_domain, agent, verdict, reason,
       sum(decisions) AS n, sum(content_bytes) AS bytes, min(first_checked) AS first,
       max(last_checked) AS last
FROM rollups GROUP BY ALL ORDER BY ALL
"""


def dec(i: int, agent: str = "B") -> tuple[Decision, DecisionContext]:
    verdict = VERDICTS[i % 3]
    ev = (
        (
            Evidence(
                protocol="robots",
                spec_version="RFC 9309",
                locator="l",
                raw="r",
                interpretation="i",
                reason=REASONS[verdict][0],
                strength="binding",
                decisive=True,
            ),
        )
        if REASONS[verdict]
        else ()
    )
    d = Decision(
        url=f"https://www.d{i % 13}.test/{i}",
        agent=agent,
        verdict=verdict,
        reasons=REASONS[verdict],
        evidence=ev,
    )
    return d, DecisionContext(content_size=None if i % 5 == 0 else 100 + i)


def domain_of(d: Decision) -> str:
    return d.url.split("//www.", 1)[1].split("/", 1)[0]


def add(w: object, items: list[tuple[Decision, DecisionContext]]) -> None:
    for d, c in items:
        w.add(d, c)  # type: ignore[attr-defined]


def test_rollup_figures_equal_raw_figures(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    # An unsharded run, interrupted and resumed: the newer rollup replaces the older one.
    with led.writer(RunInfo(run_id="a"), shards=4, flush_rows=17, flush_seconds=None) as w:
        add(w, [dec(i) for i in range(100)])
    with led.writer(RunInfo(run_id="a"), shards=4, flush_rows=17, flush_seconds=None) as w:
        add(w, [dec(i, "GPTBot") for i in range(100, 160)])
    # A run of two shards plus a run-level (driver) writer, as the Ray engine writes it.
    driver = led.writer(RunInfo(run_id="b"), shards=2, flush_seconds=None)
    for k in range(2):
        with led.writer(RunInfo(run_id="b", shard=(k, 2)), shards=2, flush_seconds=None) as w:
            mine = [dec(i) for i in range(200, 330)]
            add(w, [x for x in mine if shard_of(domain_of(x[0]), 2) == k])
    driver.close()

    con = led.connect()
    raw = con.execute(RAW).fetchall()
    rolled = con.execute(ROLLED).fetchall()
    assert raw and rolled == raw
    # Far fewer rows than decisions: one per domain x agent x verdict x reason x protocol.
    (n_rollup,) = con.execute("SELECT count(*) FROM rollups").fetchone()
    (n_dec,) = con.execute("SELECT count(*) FROM decisions").fetchone()
    (groups,) = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT run_id, registrable_domain, agent, purpose,"
        " verdict, reasons[1], list_filter(evidence, lambda e: e.decisive)[1].protocol"
        " FROM decisions)"
    ).fetchone()
    assert n_rollup == groups < n_dec
    protocols = {r[0] for r in con.execute("SELECT DISTINCT protocol FROM rollups").fetchall()}
    assert protocols == {"robots", None}
    # Rollups are chained like every segment.
    assert any(e["table"] == "rollups" for e in led.live_segments())
    assert led.verify().ok


def test_ledger_without_rollup_files_reads_empty(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    con = led.connect()
    assert con.execute("SELECT count(*) FROM rollups").fetchone() == (0,)
