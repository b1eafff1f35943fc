"""The end-of-run summary, read back from the ledger (so a resumed run reports all its rows)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunSummary", "render_summary", "summarise"]


@dataclass
class RunSummary:
    run_id: str
    ledger: str
    status: str
    rows: int  # distinct input rows decided in the run
    decisions: int
    agents: list[str]
    own_agent: str
    verdicts: dict[str, int]  # own token, per URL
    by_reason: list[tuple[str, str, int, int]]  # verdict, reason, own-token URLs, all decisions
    top_reserving: list[tuple[str, int, int]]  # domain, URLs reserved for own token, for any agent
    errors: list[tuple[str, str, int]]  # file kind, error class, origins
    origins: int = 0
    # URLs (own token) whose page was not read, and how many of those are allowed: an
    # allowed that rests on site-level files only could still be reserved by the page.
    page_not_read: int = 0
    allowed_site_only: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def summarise(ledger: Any, run_id: str, own_agent: str, status: str, top: int = 10) -> RunSummary:
    con = ledger.connect()
    try:
        # A view cannot take a prepared parameter; the run id is quoted by hand.
        quoted = "'" + run_id.replace("'", "''") + "'"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _run AS SELECT * FROM decisions WHERE run_id = {quoted}"
        )
        rows, decisions, origins = con.execute(
            "SELECT count(DISTINCT coalesce(input_row::VARCHAR, url)), count(*),"
            " count(DISTINCT origin) FROM _run"
        ).fetchone() or (0, 0, 0)
        agents = [
            r[0]
            for r in con.execute(
                "SELECT agent FROM _run GROUP BY agent ORDER BY agent = ? DESC, agent",
                [own_agent],
            ).fetchall()
        ]
        verdicts = dict(
            con.execute(
                "SELECT verdict, count(*) FROM _run WHERE agent = ? GROUP BY verdict", [own_agent]
            ).fetchall()
        )
        by_reason = [
            (str(v), str(r), int(o), int(a))
            for v, r, o, a in con.execute(
                """
                SELECT verdict, coalesce(reason, '-') AS reason,
                       count(*) FILTER (WHERE agent = ?) AS own, count(*) AS all_agents
                FROM (SELECT verdict, agent,
                             unnest(CASE WHEN len(reasons) = 0 THEN [NULL] ELSE reasons END)
                               AS reason
                      FROM _run)
                GROUP BY ALL ORDER BY all_agents DESC, verdict, reason
                """,
                [own_agent],
            ).fetchall()
        ]
        top_reserving = [
            (str(d), int(o), int(a))
            for d, o, a in con.execute(
                """
                SELECT registrable_domain,
                       count(DISTINCT input_row) FILTER (WHERE agent = ? AND verdict = 'reserved'),
                       count(DISTINCT input_row) FILTER (WHERE verdict = 'reserved')
                FROM _run WHERE registrable_domain IS NOT NULL
                GROUP BY 1 HAVING count(*) FILTER (WHERE verdict = 'reserved') > 0
                ORDER BY 2 DESC, 3 DESC, 1 LIMIT ?
                """,
                [own_agent, top],
            ).fetchall()
        ]
        page_not_read, allowed_site_only = con.execute(
            """
            SELECT count(DISTINCT coalesce(input_row::VARCHAR, url))
                     FILTER (WHERE NOT coalesce(page_checked, false)),
                   count(DISTINCT coalesce(input_row::VARCHAR, url))
                     FILTER (WHERE NOT coalesce(page_checked, false) AND verdict = 'allowed')
            FROM _run WHERE agent = ?
            """,
            [own_agent],
        ).fetchone() or (0, 0)
        errors = [
            (str(k), str(e), int(n))
            for k, e, n in con.execute(
                """
                SELECT kind,
                       CASE WHEN error IS NOT NULL THEN error
                            ELSE 'HTTP ' || status::VARCHAR END AS err,
                       count(DISTINCT origin)
                FROM fetches
                WHERE run_id = ? AND (error IS NOT NULL OR status = 429 OR status >= 500)
                GROUP BY ALL ORDER BY 3 DESC, 1, 2
                """,
                [run_id],
            ).fetchall()
        ]
    finally:
        con.close()
    return RunSummary(
        run_id=run_id,
        ledger=str(ledger.root),
        status=status,
        rows=int(rows),
        decisions=int(decisions),
        agents=agents,
        own_agent=own_agent,
        verdicts={str(k): int(v) for k, v in verdicts.items()},
        by_reason=by_reason,
        top_reserving=top_reserving,
        errors=errors,
        origins=int(origins),
        page_not_read=int(page_not_read or 0),
        allowed_site_only=int(allowed_site_only or 0),
    )


def render_summary(s: RunSummary, console: Any, *, elapsed: float | None = None) -> None:
    """Print the summary tables with rich (to whatever console the CLI chose)."""
    from rich.table import Table

    n = len(s.agents)
    others = "no other agent" if n == 1 else f"all {n} agents"
    t = Table(title=f"Verdicts by reason (own token {s.own_agent!r}; {others})")
    t.add_column("verdict")
    t.add_column("reason")
    t.add_column(f"{s.own_agent} URLs", justify="right")
    t.add_column("all decisions", justify="right")
    for v, r, o, a in s.by_reason:
        t.add_row(v, r, f"{o:,}", f"{a:,}")
    console.print(t)
    if s.top_reserving:
        t = Table(title="Top reserving domains")
        t.add_column("registrable domain")
        t.add_column(f"URLs reserved for {s.own_agent}", justify="right")
        t.add_column("URLs reserved for any agent", justify="right")
        for d, o, a in s.top_reserving:
            t.add_row(d, f"{o:,}", f"{a:,}")
        console.print(t)
    if s.errors:
        t = Table(title="Fetch errors (origins)")
        t.add_column("file")
        t.add_column("error")
        t.add_column("origins", justify="right")
        for k, e, n in s.errors:
            t.add_row(k, e, f"{n:,}")
        console.print(t)
    own = " ".join(f"{k}={v:,}" for k, v in sorted(s.verdicts.items()))
    rate = f" in {elapsed:,.1f}s" if elapsed is not None else ""
    console.print(
        f"Run [bold]{s.run_id}[/bold] {s.status}{rate}: {s.rows:,} URLs, {s.origins:,} origins, "
        f"{s.decisions:,} decisions ({own})"
    )
    if s.page_not_read:
        console.print(
            f"Page-level signals (noai meta tags, X-Robots-Tag, embedded metadata) were not read "
            f"for {s.page_not_read:,} of {s.rows:,} URLs: {s.allowed_site_only:,} allowed URLs "
            "rest on site-level signals only (robots.txt, tdmrep.json, ai.txt). Run with --deep "
            "to read each page."
        )
    console.print(f"Ledger: {s.ledger}")
    console.print(
        f"Query it: tdmscan sql --ledger {s.ledger} "
        f"\"SELECT verdict, count(*) FROM decisions WHERE run_id = '{s.run_id}' GROUP BY 1\""
    )
