"""``tdmscan report``, ``tdmscan diff`` and ``tdmscan licences``: reports for legal teams.

Data (the report) goes to stdout or ``--output``; HTML defaults to ``report-<kind>.html`` in
the working directory and the path is printed. Usage errors exit 2 with one line.
"""

from __future__ import annotations

import datetime as _dt
import io
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._common import fail

if TYPE_CHECKING:
    from ..ledger import Ledger
    from ..reports import Report

F = TypeVar("F", bound=Callable[..., Any])

_DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S"]


def _ledger_option(f: F) -> F:
    return click.option(
        "--ledger",
        "ledger_dir",
        required=True,
        metavar="DIR",
        type=click.Path(file_okay=False, path_type=str),
        help="Ledger directory.",
    )(f)


def _output_option(f: F) -> F:
    return click.option(
        "--output",
        "-o",
        metavar="FILE",
        type=click.Path(dir_okay=False, writable=True, path_type=str),
        help="Write here [default: stdout; html: report-<kind>.html in the current directory].",
    )(f)


def _format_option(choices: tuple[str, ...], default: str) -> Callable[[F], F]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Output format (sql: a script that reruns every query in plain DuckDB).",
    )


def _scope_options(f: F) -> F:
    f = click.option(
        "--mode",
        type=click.Choice(("conservative", "strict")),
        help="Only decisions made in this policy mode [default: every mode].",
    )(f)
    f = click.option(
        "--until",
        type=click.DateTime(_DATE_FORMATS),
        metavar="DATE",
        help="Only decisions checked up to this date (inclusive; a time is exclusive), UTC.",
    )(f)
    f = click.option(
        "--since",
        type=click.DateTime(_DATE_FORMATS),
        metavar="DATE",
        help="Only decisions checked from this date or time on, UTC.",
    )(f)
    f = click.option(
        "--run",
        "runs",
        multiple=True,
        metavar="ID",
        help="Only this run; repeatable [default: every run].",
    )(f)
    return f


def _open(path: str) -> Ledger:
    from ..ledger import Ledger
    from ..ledger.storage import is_object_uri

    if is_object_uri(path):
        from ._common import open_object_ledger

        return open_object_ledger(path, create=False)  # type: ignore[no-any-return]
    if not os.path.isdir(path):
        raise fail(f"--ledger {path}: no such directory")
    try:
        return Ledger(path, create=False)
    except FileNotFoundError:
        raise fail(f"--ledger {path}: not a tdmscan ledger (no chain.jsonl or tables)") from None
    except OSError as exc:
        raise fail(f"--ledger {path}: {exc.strerror or exc}") from None


def _scope(
    led: Ledger, runs: tuple[str, ...], since: Any, until: Any, mode: str | None = None
) -> Any:
    from ..reports import Scope, unknown_runs

    def utc(d: _dt.datetime | None) -> _dt.datetime | None:
        return None if d is None else d.replace(tzinfo=_dt.UTC)

    s, u = utc(since), utc(until)
    # A bare date means the whole day: make the exclusive bound the next midnight.
    if u is not None and u.time() == _dt.time(0) and until is not None:
        u = u + _dt.timedelta(days=1)
    if s and u and u <= s:
        raise fail("--until must not be before --since")
    missing = unknown_runs(led, runs)
    if missing:
        raise fail(
            f"--run {missing[0]}: no such run in the ledger (see: tdmscan sql "
            f'--ledger {led.root} "SELECT run_id, started_at FROM runs")'
        )
    return Scope(run_ids=tuple(dict.fromkeys(runs)), since=s, until=u, mode=mode)


def _emit(text: str, output: str | None, kind: str, fmt: str) -> None:
    if output is None and fmt == "html":
        output = f"report-{kind}.html"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    except OSError as exc:
        raise fail(f"--output {output}: {exc.strerror or exc}") from None
    click.echo(os.path.abspath(output))


def _build(fn: Callable[[], Report]) -> Report:
    import duckdb

    try:
        return fn()
    except duckdb.Error as exc:
        # The views read whatever Parquet is on disk; a damaged ledger is a clear error.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(f"cannot read the ledger: {first}") from None


def _render(rep: Report, fmt: str) -> str:
    from ..reports import render

    return render(rep, fmt)


# -- tdmscan report ----------------------------------------------------------------------------


@click.group()
def report() -> None:
    """Reports for legal teams (HTML, Markdown, JSON, CSV), each query shipped as SQL."""


@report.command()
@_ledger_option
@_scope_options
@_format_option(("html", "md", "json", "sql"), "html")
@_output_option
@click.option("--provider", metavar="NAME", help="Provider name shown in the scope section.")
@click.option(
    "--sample",
    "sample_per_group",
    type=click.IntRange(0, 100),
    default=2,
    show_default=True,
    help="Sampled decisions per verdict, reason and robots branch.",
)
@click.option("--verify", is_flag=True, help="Also run the full ledger verification.")
def evidence(
    ledger_dir: str,
    runs: tuple[str, ...],
    since: _dt.datetime | None,
    until: _dt.datetime | None,
    mode: str | None,
    fmt: str,
    output: str | None,
    provider: str | None,
    sample_per_group: int,
    verify: bool,
) -> None:
    """Opt-out compliance evidence for some runs, a period, a mode, or the whole ledger.

    Each URL counts once, with its latest decision for the crawler's own token in scope.
    """
    from ..reports import build_evidence

    led = _open(ledger_dir)
    scope = _scope(led, runs, since, until, mode)
    rep = _build(
        lambda: build_evidence(
            led, scope, provider=provider, sample_per_group=sample_per_group, verify=verify
        )
    )
    _emit(_render(rep, fmt), output, "evidence", fmt)


@report.command()
@_ledger_option
@_scope_options
@click.option(
    "--sme", is_flag=True, help="SME variant: top 5 % or 1,000 domains, whichever is lower."
)
@_format_option(("html", "md", "json", "csv", "sql"), "html")
@_output_option
def domains(
    ledger_dir: str,
    runs: tuple[str, ...],
    since: _dt.datetime | None,
    until: _dt.datetime | None,
    mode: str | None,
    sme: bool,
    fmt: str,
    output: str | None,
) -> None:
    """The Template 2.3(vii) list: top domains by content retained for training."""
    from ..reports import build_domains

    led = _open(ledger_dir)
    scope = _scope(led, runs, since, until, mode)
    rep = _build(lambda: build_domains(led, scope, sme=sme))
    _emit(_render(rep, fmt), output, "domains", fmt)


@report.command("licences")
@_ledger_option
@_format_option(("html", "md", "json", "csv", "sql"), "html")
@_output_option
def licences_report(ledger_dir: str, fmt: str, output: str | None) -> None:
    """The licence inventory: declared datasets, conflicts, licences and policies on the web."""
    from ..reports import build_licences

    led = _open(ledger_dir)
    rep = _build(lambda: build_licences(led))
    _emit(_render(rep, fmt), output, "licences", fmt)


@report.command()
@_ledger_option
@_format_option(("html", "md", "json", "csv", "sql"), "html")
@_output_option
@click.option(
    "--atom",
    "atom_path",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=str),
    help="Also write the Atom feed of crawler changes to FILE.",
)
@click.option("--provider", metavar="NAME", help="Provider name shown on the page and feed.")
@click.option("--contact", metavar="TEXT", help="Point of contact for rights holders (Code 1.5).")
@click.option("--feed-url", metavar="URL", help="Public URL of the feed (its id and self link).")
@click.option("--page-url", metavar="URL", help="Public URL of the disclosure page.")
def crawlers(
    ledger_dir: str,
    fmt: str,
    output: str | None,
    atom_path: str | None,
    provider: str | None,
    contact: str | None,
    feed_url: str | None,
    page_url: str | None,
) -> None:
    """Public crawler disclosure page and Atom change feed (Code of Practice 1.3(4))."""
    from ..reports import atom_feed, build_crawlers

    led = _open(ledger_dir)
    rep = _build(lambda: build_crawlers(led, provider=provider, contact=contact))
    if atom_path:
        try:
            with open(atom_path, "wb") as fh:
                fh.write(atom_feed(rep, led, feed_url=feed_url, page_url=page_url))
        except OSError as exc:
            raise fail(f"--atom {atom_path}: {exc.strerror or exc}") from None
    _emit(_render(rep, fmt), output, "crawlers", fmt)


# -- tdmscan diff ------------------------------------------------------------------------------


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@_ledger_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "csv", "json")),
    default="table",
    show_default=True,
    help="table: summary, domains and changes; csv: one row per change; json: all three.",
)
@_output_option
def diff(run_a: str, run_b: str, ledger_dir: str, fmt: str, output: str | None) -> None:
    """What changed between RUN_A and RUN_B: URLs that became reserved, allowed, or changed reason.

    Typical use: RUN_A at crawl time, RUN_B a re-check before training; remove every
    became_reserved URL from the corpus. Exit 0 whenever the comparison ran.
    """
    import json

    from ..reports import build_diff, unknown_runs
    from ..reports.render import plain, to_csv

    led = _open(ledger_dir)
    missing = unknown_runs(led, (run_a, run_b))
    if missing:
        raise fail(f"run {missing[0]!r}: no such run in the ledger")
    rep = _build(lambda: build_diff(led, run_a, run_b))
    if fmt == "csv":
        text = to_csv(rep)
    elif fmt == "json":
        doc = {
            "run_a": run_a,
            "run_b": run_b,
            **{
                key: [plain(r) for r in rep.table(q).records()]
                for key, q in (
                    ("summary", "diff_summary"),
                    ("runs", "diff_runs"),
                    ("protocols", "diff_protocols"),
                    ("domains", "diff_domains"),
                    ("changes", "diff_changes"),
                    ("page_coverage", "diff_page_coverage"),
                )
            },
            "notes": rep.sections[0].paragraphs,
        }
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    else:
        text = _diff_table(rep)
    if output is None:
        click.echo(text, nl=False)
    else:
        _emit(text, output, "diff", fmt)


def _diff_table(rep: Report) -> str:
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    from ..reports.render import cell_text

    buf = io.StringIO()
    console = Console(file=buf, width=160, no_color=True, soft_wrap=False)
    # The counting rule and what each run read of the pages, before the figures they qualify.
    for p in rep.sections[0].paragraphs:
        console.print(Text(p))
        console.print()
    for q in (
        "diff_summary",
        "diff_runs",
        "diff_protocols",
        "diff_domains",
        "diff_changes",
        "diff_page_coverage",
    ):
        t = rep.table(q)
        rt = RichTable(title=t.title, title_justify="left")
        for c in t.columns:
            rt.add_column(c.replace("_", " "), overflow="fold")
        for row in t.rows:
            # Text cells are never parsed as console markup: URLs and reasons come from the web.
            rt.add_row(*(Text(cell_text(v)) for v in row))
        console.print(rt)
    return buf.getvalue()


# -- tdmscan licences --------------------------------------------------------------------------


@click.group()
def licences() -> None:
    """Manage the licence inventory of declared datasets."""


@licences.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@_ledger_option
def licences_import(file: str, ledger_dir: str) -> None:
    """Append the datasets in FILE (TOML [[dataset]] tables or CSV) to the inventory.

    Fields: dataset, version, licensor, licence, commercial_use, derivatives, ai_training,
    term (START/END), territory, evidence, category (2.1, 2.2.1, 2.2.2, 2.5, 2.6), used,
    models. The file is validated in full before anything is written.
    """
    from ..reports import LicenceImportError, import_licences
    from ._common import open_ledger

    if not os.path.isfile(file):
        raise fail(f"{file}: no such file")
    led = open_ledger(ledger_dir)
    try:
        run_id, n = import_licences(led, file)
    except LicenceImportError as exc:
        raise fail(str(exc)) from None
    click.echo(f"imported {n} dataset record(s) into {led.root} (run {run_id})")
