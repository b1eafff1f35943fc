"""``tdmscan check URL...``: decisions per agent with reasons and the evidence that decided."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click

from ..types import Decision
from ._common import (
    agent_options,
    allow_damaged_option,
    exclude_list_option,
    fetch_options,
    key_option,
    open_ledger,
    quiet_option,
    stdout_console,
)


def evidence_text(d: Decision) -> str:
    """The decisive evidence in one line per item: where it is and what it says."""
    lines: list[str] = []
    r = d.robots
    decisive = d.decisive_evidence
    for e in decisive:
        src = f" ({e.source_url})" if e.source_url and e.protocol != "robots" else ""
        lines.append(f"{e.locator}: {e.raw}{src}")
    if r is not None and not any(e.protocol == "robots" for e in decisive):
        if r.matched_rule:
            where = f"robots.txt line {r.matched_line}" if r.matched_line else "robots.txt"
            group = f" [group {r.group}]" if r.group else ""
            lines.append(f"{where}: {r.matched_rule}{group}")
        elif r.branch == "unreachable":
            lines.append(f"robots.txt unreachable ({r.error or r.status})")
        elif r.branch == "4xx-allow":
            lines.append(f"robots.txt HTTP {r.status}: no rules")
        elif r.branch == "absent":
            lines.append("no robots.txt")
    if d.tdm_policy:
        lines.append(f"tdm-policy: {d.tdm_policy}")
    return "\n".join(lines)


async def _run(
    urls: tuple[str, ...], scanner_kw: dict[str, Any], deep: bool, ledger: Any
) -> tuple[list[tuple[str, list[Decision]]], tuple[str, ...]]:
    from ..scanner import Scanner

    out: list[tuple[str, list[Decision]]] = []
    async with Scanner(**scanner_kw) as s:
        agents = s.agents

        async def one(url: str) -> tuple[str, list[Decision]]:
            return url, await s.check_all(url, deep=deep)

        out = list(await asyncio.gather(*(one(u) for u in urls)))
        if ledger is not None:
            await _record(ledger, s, out, scanner_kw)
    return out, agents


async def _record(
    ledger: Any, scanner: Any, results: list[tuple[str, list[Decision]]], kw: dict[str, Any]
) -> None:
    from ..ledger import DecisionContext, RunInfo
    from ..urls import InvalidURL, parse_url

    run = RunInfo(
        kind="check",
        agents=tuple(scanner.agents),
        mode=kw["mode"],
        purpose=kw["purpose"],
        config={"command": "check", "agents": list(scanner.agents)},
        input_description=" ".join(u for u, _ in results)[:1000],
    )
    with ledger.writer(run, flush_seconds=None) as w:
        seen: set[str] = set()
        for i, (url, ds) in enumerate(results):
            try:
                origin = parse_url(url).origin
            except InvalidURL:
                origin = None
            if origin is not None and origin not in seen:
                seen.add(origin)
                w.add_site((await scanner.site(origin)).files)
            page = scanner.cached_page(url)
            if page is not None and origin is not None:
                # The page's headers and head are the evidence of its page-level signals.
                w.add_fetch(page, "page", origin)
            ctx = DecisionContext(source_kind="own_crawl", input_row=i)
            for d in ds:
                w.add(d, ctx)
    click.echo(f"Recorded in {ledger.root} as run {run.run_id}", err=True)


def _grouped(ds: list[Decision], own: str) -> list[tuple[list[str], Decision]]:
    """Agents with the same outcome share a row, so 40 catalogue tokens fit on a screen."""
    groups: dict[tuple[Any, ...], tuple[list[str], Decision]] = {}
    for d in ds:
        key = (d.agent == own and d.agent, d.verdict, d.reasons, evidence_text(d))
        if key in groups:
            groups[key][0].append(d.agent)
        else:
            groups[key] = ([d.agent], d)
    return list(groups.values())


def _agents_label(agents: list[str], limit: int = 6) -> str:
    if len(agents) <= limit:
        return ", ".join(agents)
    return ", ".join(agents[:limit]) + f" +{len(agents) - limit} more"


@click.command()
@click.argument("urls", nargs=-1, metavar="URL...")
@agent_options
@click.option(
    "--training-agents/--no-training-agents",
    default=True,
    show_default=True,
    help="Also decide for the catalogue's AI-training agents.",
)
@click.option(
    "--deep/--shallow",
    " /--no-deep",
    default=True,
    show_default=True,
    help="Read the page's own response (headers and <head>) for page-level signals such as "
    "noai meta tags and X-Robots-Tag. --shallow decides from the site's files alone.",
)
@click.option(
    "--terms/--no-terms",
    default=True,
    show_default=True,
    help="Find each site's terms-of-use page (home-page link or well-known path) and read it "
    "for natural-language reservations (tos:* reasons, inferred: decisive in conservative "
    "mode only).",
)
@exclude_list_option
@fetch_options(default_timeout=15.0)
@click.option("--json", "as_json", is_flag=True, help="JSON lines on stdout, one per URL.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "table", "lines"]),
    default="auto",
    show_default=True,
    help="table: one table per URL; lines: one tab-separated line per decision (url, agent, "
    "verdict, reasons, page-read|page-not-read, evidence); auto: table on a terminal, lines "
    "when piped.",
)
@click.option(
    "--ledger",
    "ledger_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Also record the decisions in this ledger.",
)
@quiet_option
@allow_damaged_option
@key_option
def check(
    urls: tuple[str, ...],
    agents: tuple[str, ...],
    mode: str,
    purpose: str,
    training_agents: bool,
    deep: bool,
    terms: bool,
    exclude_lists: list[Any],
    timeout: float,
    ttl: float | None,
    user_agent: str | None,
    allow_private: bool,
    as_json: bool,
    fmt: str,
    ledger_dir: str | None,
    quiet: bool,
    allow_damaged: bool,
) -> None:
    """Decide whether each URL may be used, for every configured agent.

    Exit status: 0 when every URL is allowed for the own token (the first --agent),
    1 when some are not, 2 on a usage error.
    """
    from ..fetch import FetchLimits

    if not urls:
        raise click.UsageError("give at least one URL")
    limit_kw: dict[str, Any] = {"total_timeout": timeout, "connect_timeout": min(5.0, timeout)}
    if user_agent:
        limit_kw["user_agent"] = user_agent
    scanner_kw: dict[str, Any] = {
        "agents": list(agents),
        "mode": mode,
        "purpose": purpose,
        "include_training_agents": training_agents,
        "allow_private": allow_private,
        "limits": FetchLimits(**limit_kw),
        "fetcher": "httpx",  # a handful of requests: the default client starts fastest
        "terms": terms,
        "exclude_lists": exclude_lists,
    }
    if ttl is not None:
        scanner_kw["ttl"] = ttl
    ledger = (
        open_ledger(ledger_dir, allow_damaged=allow_damaged) if ledger_dir is not None else None
    )
    if ledger is not None:
        from ..complaints import open_complaint_exclusions

        # Open complaints that asked for it exclude their domains until resolved.
        held = open_complaint_exclusions(ledger)
        if held is not None:
            scanner_kw["exclude_lists"] = [*exclude_lists, held]
    results, all_agents = asyncio.run(_run(urls, scanner_kw, deep, ledger))
    own = all_agents[0]
    ok = all(ds and ds[0].agent == own and ds[0].verdict == "allowed" for _, ds in results)

    if as_json:
        for url, ds in results:
            click.echo(
                json.dumps(
                    {
                        "input": url,
                        "ingest": bool(ds and ds[0].verdict == "allowed"),
                        "decisions": [d.to_dict() for d in ds],
                    },
                    default=str,
                )
            )
    elif not quiet and (fmt == "lines" or (fmt == "auto" and not _stdout_is_terminal())):
        # Piped or redirected: one tab-separated line per decision, nothing cut or wrapped, so
        # grep/cut/awk see every reason code whole.
        for url, ds in results:
            for d in ds:
                ev = evidence_text(d).replace("\n", "; ")
                page = "page-read" if d.page_checked else "page-not-read"
                click.echo(
                    "\t".join(
                        (url, d.agent, d.verdict, ",".join(d.reasons) or "-", page, ev or "-")
                    )
                )
        _site_only_note(results, own, err=True)
    elif not quiet:
        from rich.table import Table

        console = stdout_console()
        for url, ds in results:
            t = Table(title=url, title_justify="left", show_lines=True)
            # Reason codes and evidence fold onto more lines when narrow, never an ellipsis:
            # a cut code reads as a different code.
            t.add_column("agent", overflow="fold")
            t.add_column("verdict", no_wrap=True)
            longest = max((len(r) for d in ds for r in d.reasons), default=1)
            t.add_column("reasons", overflow="fold", min_width=longest)
            t.add_column("evidence", overflow="fold")
            for names, d in _grouped(ds, own):
                colour = {"allowed": "green", "reserved": "red", "unknown": "yellow"}.get(
                    d.verdict, "magenta"
                )
                label = _agents_label(names)
                if names[0] == own:
                    label = f"[bold]{label}[/bold] (own)"
                t.add_row(
                    label,
                    f"[{colour}]{d.verdict}[/{colour}]",
                    "\n".join(d.reasons) or "-",
                    evidence_text(d) or "-",
                )
            console.print(t)
        _site_only_note(results, own, err=False)
    sys.exit(0 if ok else 1)


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _site_only_note(results: list[tuple[str, list[Decision]]], own: str, *, err: bool) -> None:
    """Say when an ``allowed`` rests on the site's files only (the page itself was not read)."""
    n = sum(
        1
        for _, ds in results
        if ds and ds[0].agent == own and ds[0].verdict == "allowed" and not ds[0].page_checked
    )
    if n:
        click.echo(
            f"note: {n} allowed URL(s) rest on site-level signals only: the page itself was not "
            "read (--shallow), so a noai meta tag or X-Robots-Tag on it was "
            "not checked",
            err=err,
        )
