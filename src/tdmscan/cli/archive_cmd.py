"""``tdmscan archive index WARC... --output INDEX``: index archived site files for as-of audits."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ._common import fail, quiet_option, stderr_console


@click.group("archive")
def archive() -> None:
    """Index archived robots.txt, tdmrep.json and ai.txt captures for as-of audits."""


@archive.command("index")
@click.argument("warcs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Index file to write (DuckDB).",
)
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option(
    "--memory-limit",
    default="1GB",
    show_default=True,
    help="DuckDB memory limit while building; beyond it the build spills to disk.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@quiet_option
def index(
    warcs: tuple[Path, ...],
    output: Path,
    overwrite: bool,
    memory_limit: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Read WARCS (files or directories: Common Crawl's robotstxt WARCs, your own crawls,
    Internet Archive WARCs) once and write every robots.txt, tdmrep.json and ai.txt capture,
    keyed by origin and capture time, to an index for ``tdmscan audit --as-of``.

    A record that cannot be read (a corrupt gzip member, a truncated record) is skipped and
    counted; reading goes on at the next record.
    """
    from ..audit.archive import ArchiveError, build_index

    try:
        s = build_index(warcs, output, overwrite=overwrite, memory_limit=memory_limit)
    except ArchiveError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(s.to_dict(), sort_keys=True))
        return
    if quiet:
        return
    err = stderr_console()
    skipped = sum(s.skipped.values())
    span = (
        f", captured {s.first:%Y-%m-%d %H:%M} to {s.last:%Y-%m-%d %H:%M} UTC"
        if s.first and s.last
        else ""
    )
    err.print(
        f"Indexed {s.captures:,} captures of {s.origins:,} origins ({s.bodies:,} distinct"
        f" bodies) from {s.records:,} records in {s.files:,} WARC files{span} -> {output}"
    )
    if skipped:
        detail = ", ".join(f"{k} {v:,}" for k, v in sorted(s.skipped.items()))
        err.print(f"Skipped {skipped:,} unreadable records ({detail}).")
    for path, why in s.unreadable_files:
        err.print(f"Could not read {path}: {why}")
