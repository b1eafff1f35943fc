"""The ``tdmscan`` command. Subcommands live in their own modules and load on first use, so
``tdmscan --help`` stays fast and one module's import cost never taxes another command."""

from __future__ import annotations

import importlib

import click

from .._version import __version__

# name -> "module:attribute". A module that is not there yet simply isn't listed.
_COMMANDS: dict[str, str] = {
    "check": "tdmscan.cli.check_cmd:check",
    "audit": "tdmscan.cli.audit_cmd:audit",
    "demo": "tdmscan.cli.demo_cmd:demo",
    "warc": "tdmscan.cli.warc_cmd:warc",
    "sql": "tdmscan.cli.sql_cmd:sql",
    "ledger": "tdmscan.cli.ledger_cmd:ledger",
    "report": "tdmscan.cli.report_cmd:report",
    "diff": "tdmscan.cli.report_cmd:diff",
    "licences": "tdmscan.cli.report_cmd:licences",
}


class _LazyGroup(click.Group):
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
