"""The ``tdmscan`` command. Subcommands live in their own modules and load on first use, so
``tdmscan --help`` stays fast and one module's import cost never taxes another command."""

from __future__ import annotations

import importlib

import click

from .._version import __version__

# name -> "module:attribute". A module that is not there yet simply isn't listed.
_COMMANDS: dict[str, str] = {
    "check": "tdmscan.cli.check_cmd:check",
    "complaints": "tdmscan.cli.complaints_cmd:complaints",
    "audit": "tdmscan.cli.audit_cmd:audit",
    "archive": "tdmscan.cli.archive_cmd:archive",
    "demo": "tdmscan.cli.demo_cmd:demo",
    "fakeweb": "tdmscan.cli.fakeweb_cmd:fakeweb",
    "warc": "tdmscan.cli.warc_cmd:warc",
    "sql": "tdmscan.cli.sql_cmd:sql",
    "ledger": "tdmscan.cli.ledger_cmd:ledger",
    "report": "tdmscan.cli.report_cmd:report",
    "diff": "tdmscan.cli.report_cmd:diff",
    "licences": "tdmscan.cli.report_cmd:licences",
    "serve": "tdmscan.cli.serve_cmd:serve",
    "protocols": "tdmscan.cli.protocols_cmd:protocols",
}


# name -> the one-line summary ``tdmscan --help`` prints. Kept here so that listing the
# commands imports none of them (pyarrow and duckdb alone cost ~0.2 s); a test checks each
# summary equals the command's own short help. A command missing here is loaded to list it.
_SUMMARIES: dict[str, str] = {
    "archive": "Index archived robots.txt, tdmrep.json and ai.txt captures for as-of audits.",
    "audit": "Decide every URL of MANIFEST and record each decision in the ledger.",
    "check": "Decide whether each URL may be used, for every configured agent.",
    "complaints": "Record rightsholders' complaints, re-check what they name, and resolve them.",
    "demo": "Audit a bundled sample manifest against a bundled fake web on loopback.",
    "diff": "What changed between RUN_A and RUN_B: URLs that became reserved, allowed, or"
    " changed reason.",
    "fakeweb": "Serve the demo sites or your own site map on loopback, as an HTTP proxy, for"
    " trying the CLI and your crawler offline.",
    "ledger": "Verify, compact, repair and export a provenance ledger.",
    "licences": "Manage the licence inventory of declared datasets.",
    "protocols": "List the protocols tdmscan reads: spec, version, legal standing, last review.",
    "report": "Reports for legal teams (HTML, Markdown, JSON, CSV), each query shipped as SQL.",
    "serve": "Serve decisions over HTTP for crawlers in any language, recording each in the"
    " ledger.",
    "sql": "Run QUERY against the ledger's views; without QUERY, an interactive prompt.",
    "warc": "Evaluate page-level signals of WARC response records (headers and HTML as"
    " archived), combined with archived or live origin signals, and write each decision to"
    " the ledger.",
}


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 3, 1)].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "..."


class _LazyGroup(click.Group):
    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        limit = formatter.width - 6 - max((len(n) for n in _COMMANDS), default=0)
        for name in sorted(_COMMANDS):
            summary = _SUMMARIES.get(name)
            if summary is None:
                cmd = self._load(name)
                if cmd is None or cmd.hidden:
                    continue
                summary = cmd.get_short_help_str(10**6)
            rows.append((name, _shorten(summary, limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in _COMMANDS if self._load(n) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        mod_name, attr = target.split(":")
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:
                return None
            raise
        return getattr(mod, attr, None)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tdmscan")
def main() -> None:
    """Decide whether web content is reserved from text and data mining, and keep the evidence."""
    _show_ledger_warnings()


def _show_ledger_warnings() -> None:
    """A skipped damaged segment is one plain ``warning:`` line on stderr (once per message),
    not a Python warning with a source location."""
    from ..ledger import health

    seen: set[str] = set()

    def report(message: str) -> None:
        if message not in seen:
            seen.add(message)
            click.echo(f"warning: {message}", err=True)

    health.reporter = report
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.call_on_close(lambda: setattr(health, "reporter", None))
