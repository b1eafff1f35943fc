"""``tdmscan sql``: query a ledger with DuckDB through its views, or print the views."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import click

from ..ledger.values import json_safe
from .ledger_cmd import ledger_option, open_ledger

FORMATS = ("table", "csv", "json", "parquet")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    v = json_safe(value)
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _batches(rel: Any, size: int = 10_000) -> Iterator[list[tuple[Any, ...]]]:
    reader = rel.to_arrow_reader(size)
    for batch in reader:
        cols = [c.to_pylist() for c in batch.columns]
        yield list(zip(*cols, strict=True)) if cols else []


def _emit(rel: Any, fmt: str, out: TextIO, max_rows: int) -> None:
    columns = list(rel.columns)
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(columns)
        for rows in _batches(rel):
            w.writerows([_cell(v) for v in row] for row in rows)
    elif fmt == "json":
        out.write("[")
        first = True
        for rows in _batches(rel):
            for row in rows:
                obj = {c: json_safe(v) for c, v in zip(columns, row, strict=True)}
                out.write(("\n" if first else ",\n") + json.dumps(obj, ensure_ascii=False))
                first = False
        out.write("\n]\n" if not first else "]\n")
    else:
        from rich.console import Console
        from rich.table import Table

        rows = rel.limit(max_rows + 1).fetchall()
        table = Table(show_lines=False, header_style="bold")
        for c in columns:
            table.add_column(c, overflow="fold")
        for row in rows[:max_rows]:
            table.add_row(*(_cell(v) if v is not None else "NULL" for v in row))
        console = Console(file=out, width=None if out.isatty() else 200)
        console.print(table)
        more = (
            " (more rows not shown; use --format csv or --max-rows)" if len(rows) > max_rows else ""
        )
        console.print(f"{min(len(rows), max_rows)} row(s){more}", style="dim")


def _run(con: Any, query: str, fmt: str, output: str | None, max_rows: int) -> None:
    import duckdb

    try:
        rel = con.sql(query)
        if rel is None:  # a statement without a result (CREATE, SET, ...)
            return
        if fmt == "parquet":
            assert output is not None
            rel.write_parquet(output, compression="zstd")
            return
        if output:
            with open(output, "w", encoding="utf-8", newline="") as fh:
                _emit(rel, fmt, fh, max_rows)
        else:
            _emit(rel, fmt, sys.stdout, max_rows)
    except duckdb.Error as exc:
        raise click.ClickException(str(exc).strip()) from None


_HELP = """\
Enter SQL ending with ';'. Views: runs, run_shards, run_history, decisions, latest_decisions,
fetches, snapshots, evidence, licences.
  .views          print the view definitions     .schema VIEW   columns of a view
  .format FMT     table | csv | json              .quit / .exit  leave"""


def _interactive(con: Any, fmt: str, max_rows: int, views_text: str) -> None:
    try:
        import readline  # noqa: F401  (line editing and history for input())
    except ImportError:
        pass
    click.echo("tdmscan sql: DuckDB over the ledger. .help for help, .quit to leave.")
    buf: list[str] = []
    while True:
        try:
            line = input("tdmscan> " if not buf else "    ...> ")
        except EOFError:
            click.echo()
            return
        except KeyboardInterrupt:
            click.echo()
            buf = []
            continue
        stripped = line.strip()
        if not buf and stripped.startswith("."):
            cmd, _, arg = stripped.partition(" ")
            arg = arg.strip().rstrip(";")
            if cmd in (".quit", ".exit", ".q"):
                return
            if cmd == ".help":
                click.echo(_HELP)
            elif cmd == ".format" and arg in ("table", "csv", "json"):
                fmt = arg
            elif cmd == ".views":
                click.echo(views_text)
            elif cmd == ".schema" and arg:
                _safe(con, f'DESCRIBE "{arg}"', "table", max_rows)
            else:
                click.echo(f"unknown command {stripped!r}; .help lists them", err=True)
            continue
        if not stripped and not buf:
            continue
        buf.append(line)
        if stripped.endswith(";"):
            query, buf = "\n".join(buf), []
            _safe(con, query, fmt, max_rows)


def _safe(con: Any, query: str, fmt: str, max_rows: int) -> None:
    try:
        _run(con, query, fmt, None, max_rows)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.message}", err=True)


@click.command()
@ledger_option
@click.argument("query", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format (parquet needs --output).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=str),
    help="Write the result to this file instead of stdout.",
)
@click.option("--views", is_flag=True, help="Print the view definitions (plain DuckDB SQL).")
@click.option(
    "--max-rows",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows shown by --format table.",
)
def sql(
    ledger_dir: str,
    query: str | None,
    fmt: str,
    output: str | None,
    views: bool,
    max_rows: int,
) -> None:
    """Run QUERY against the ledger's views; without QUERY, an interactive prompt.

    Views: runs, run_shards, run_history, decisions, latest_decisions, fetches, snapshots,
    evidence, licences. Timestamps are UTC.
    """
    led = open_ledger(ledger_dir)
    if views:
        text = led.view_sql()
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            click.echo(text)
        return
    if fmt == "parquet" and not output:
        raise click.UsageError("--format parquet needs --output FILE")
    try:
        con = led.connect()
    except Exception as exc:  # DuckDB raises its own hierarchy; show it, never a traceback
        raise click.ClickException(f"cannot open the ledger views: {exc}") from None
    if query is None:
        if fmt == "parquet":
            raise click.UsageError("the interactive prompt prints table, csv or json")
        _interactive(con, fmt, max_rows, led.view_sql())
        return
    _run(con, query, fmt, output, max_rows)
