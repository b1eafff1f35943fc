"""``tdmscan demo``: the whole pipeline on a bundled fake web, with no network at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import click

from ._common import open_ledger, quiet_option, stderr_console, stdout_console

SAMPLE_SQL = """\
SELECT agent, registrable_domain AS domain, verdict, count(*) AS urls,
       array_to_string(list_sort(list_distinct(flatten(list(reasons)))), ', ') AS reasons
FROM decisions
WHERE run_id = '{run_id}' AND agent IN ('tdmscan', 'GPTBot') AND verdict <> 'allowed'
GROUP BY ALL
ORDER BY agent DESC, domain NULLS LAST, verdict"""

_PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy")
_BYPASS_VARS = ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
_EXEMPT_VAR = "TDMSCAN_GUARD_EXEMPT"


class _ProxyEnv:
    """Route this process's HTTP through the fake web, and put the environment back after.

    The address guard stays on behind the proxy; the fake web's own host names are exempted
    explicitly (``exempt``), nothing else is."""

    def __init__(self, proxy: str, exempt: str = "") -> None:
        self.proxy = proxy
        self.exempt = exempt
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> _ProxyEnv:
        for name in (*_PROXY_VARS, *_BYPASS_VARS, _EXEMPT_VAR):
            self.saved[name] = os.environ.get(name)
        os.environ[_EXEMPT_VAR] = self.exempt
        for name in _PROXY_VARS:
            os.environ[name] = self.proxy
        for name in _BYPASS_VARS:
            os.environ.pop(name, None)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@click.command()
@click.option(
    "--ledger",
    "ledger_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Ledger to write [default: a new temporary directory, kept for you to explore].",
)
@click.option(
    "--timeout",
    type=float,
    default=2.0,
    show_default=True,
    help="Fetch deadline (the demo's hanging host costs this long).",
)
@quiet_option
def demo(ledger_dir: str | None, timeout: float, quiet: bool) -> None:
    """Audit a bundled sample manifest against a bundled fake web on loopback.

    Starts the fake web, audits the sample manifest into a ledger, prints the summary and a
    sample SQL query with its result. Needs no network.
    """
    from ..audit.manifest import open_manifest
    from ..audit.progress import make_reporter
    from ..audit.runner import AuditConfig, AuditRunner
    from ..audit.summary import render_summary, summarise
    from ..fakeweb import FakeWeb, demo_manifest_path, demo_sites_path
    from ._common import stderr_is_terminal

    err = stderr_console()
    out = stdout_console()
    if ledger_dir is None:
        ledger_dir = tempfile.mkdtemp(prefix="tdmscan-demo-")
    ledger = open_ledger(ledger_dir)
    manifest = open_manifest(demo_manifest_path())
    if not quiet:
        err.print(f"Starting the fake web ({demo_sites_path().name}) on 127.0.0.1 ...")
    with FakeWeb(demo_sites_path()) as fw, _ProxyEnv(fw.proxy_url, fw.guard_exempt):
        if not quiet:
            err.print(
                f"Auditing {manifest.path.name} ({sum(1 for _ in _lines(manifest.path))} lines) "
                f"into {ledger.root} with a {timeout:g} s timeout ..."
            )
        config = AuditConfig(
            agents=("tdmscan",),
            training_agents=True,
            # Page heads too: half of the sample web's signals live in pages and headers.
            deep=True,
            timeout=timeout,
            concurrency=32,
            memory_limit="256MB",
        )
        runner = AuditRunner(
            manifest,
            ledger,
            config,
            reporter=make_reporter(quiet, stderr_is_terminal(), 1.0),
            resume=False,
        )
        result = runner.run()
    if quiet:
        click.echo(result.run_id)
        return
    s = summarise(ledger, result.run_id, result.agents[0], result.status)
    render_summary(s, out, elapsed=result.counters.elapsed)
    _show_query(ledger, result.run_id, out)


def _lines(path: Path) -> Any:
    with open(path, "rb") as f:
        yield from f


def _show_query(ledger: Any, run_id: str, console: Any) -> None:
    from rich.table import Table

    sql = SAMPLE_SQL.format(run_id=run_id)
    console.print("\nA sample query (the ledger is plain Parquet; any DuckDB can read it):")
    # Plain text, never cropped or wrapped, so it can be copied into DuckDB as it is.
    console.print(sql, markup=False, highlight=False, crop=False, soft_wrap=True)
    con = ledger.connect()
    try:
        cur = con.execute(sql)
        cols = [c[0] for c in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    t = Table()
    for c in cols:
        t.add_column(c, justify="right" if c == "urls" else "left")
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    console.print(t)
    console.print(f'Explore: tdmscan sql --ledger {ledger.root} "SELECT * FROM decisions LIMIT 5"')
