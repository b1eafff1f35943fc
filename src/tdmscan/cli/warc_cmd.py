"""``tdmscan warc``: evaluate archived pages in WARC files and record the decisions."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from ..types import MODES, PURPOSES
from ._common import allow_damaged_option, exclude_list_option, key_option, open_ledger

_HELP_ROBOTS = (
    "WARC with archived robots.txt (and tdmrep.json, ai.txt) responses, e.g. Common Crawl's "
    "robotstxt WARCs. Repeatable. Robots records inside the input WARCs are used as well."
)


@click.command("warc")
@click.argument(
    "warcs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--ledger",
    "ledger",
    type=click.Path(file_okay=False, path_type=str),
    help="Ledger directory to write decisions to (source kind 'warc').",
)
@click.option(
    "--agent",
    "agents",
    multiple=True,
    help="Product token to decide for; repeatable, the crawler's own token first.",
)
@click.option(
    "--robots-warc",
    "robots_warcs",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=_HELP_ROBOTS,
)
@click.option(
    "--fetch/--no-fetch",
    "fetch",
    default=True,
    show_default=True,
    help="Fetch origin files live when the archive has no robots.txt for an origin. With "
    "--no-fetch such pages are 'unknown' (robots:not-archived) unless the page reserves itself.",
)
@click.option(
    "--training-agents/--no-training-agents",
    default=False,
    show_default=True,
    help="Also decide for the catalogue's AI-training tokens (one ledger row per record per "
    "agent). Off by default, as in `audit`: both are batch commands.",
)
@click.option(
    "--terms",
    is_flag=True,
    help="Also read each origin's terms-of-use page (the home page's terms link or a "
    "well-known path, as archived; live for origins fetched live) for natural-language "
    "reservations (tos:* reasons, inferred).",
)
@exclude_list_option
@click.option("--mode", type=click.Choice(MODES), default="conservative", show_default=True)
@click.option("--purpose", type=click.Choice(PURPOSES), default="train-ai", show_default=True)
@click.option("--allow-private", is_flag=True, help="Allow live fetches to private addresses.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No summary, warnings only.")
@allow_damaged_option
@key_option
def warc(
    warcs: tuple[Path, ...],
    ledger: str | None,
    agents: tuple[str, ...],
    robots_warcs: tuple[Path, ...],
    fetch: bool,
    training_agents: bool,
    terms: bool,
    exclude_lists: list,
    mode: str,
    purpose: str,
    allow_private: bool,
    as_json: bool,
    quiet: bool,
    allow_damaged: bool,
) -> None:
    """Evaluate page-level signals of WARC response records (headers and HTML as archived),
    combined with archived or live origin signals, and write each decision to the ledger.

    Exit status: 0 all records read, 1 some records were truncated or malformed (they are
    counted, logged and recorded; the others are still evaluated), 2 usage error.
    """
    from ..integrations.warc import evaluate_warc

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, stream=sys.stderr, format="tdmscan warc: %(message)s"
        )
    led = None if ledger is None else open_ledger(ledger, allow_damaged=allow_damaged)
    summary = evaluate_warc(
        list(warcs),
        list(agents) or ["tdmscan"],
        ledger=led,
        robots_warcs=list(robots_warcs),
        fetch_missing=fetch,
        include_training_agents=training_agents,
        purpose=purpose,
        mode=mode,
        scanner_options={"allow_private": allow_private},
        terms=terms,
        exclude_lists=exclude_lists,
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2, sort_keys=True))
    elif not quiet:
        out = click.get_text_stream("stderr")
        click.echo(
            f"{summary.files} WARC file(s), {summary.records} records: {summary.pages} pages "
            f"evaluated, {summary.site_files} origin-file records, {summary.skipped} skipped, "
            f"{summary.error_count} unreadable",
            file=out,
        )
        own = (list(agents) or ["tdmscan"])[0]
        click.echo(f"  pages by verdict for {own}:", file=out)
        for verdict, n in sorted(summary.page_verdicts.items()):
            click.echo(f"    {verdict:<9} {n}", file=out)
        click.echo(f"  decisions (all agents): {summary.decisions}; top reasons:", file=out)
        for reason, n in summary.reasons.most_common(10):
            click.echo(f"    {reason:<30} {n}", file=out)
        src = ", ".join(f"{k}: {v}" for k, v in sorted(summary.origin_sources.items()))
        if src:
            click.echo(f"  origin signals from {src}", file=out)
        if summary.run_id:
            click.echo(f"  ledger run {summary.run_id} in {ledger}", file=out)
    if summary.error_count:
        sys.exit(1)
