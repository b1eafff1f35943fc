"""``tdmscan --help`` lists the commands without importing them: no pyarrow, no duckdb."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from tdmscan.cli import _COMMANDS, _SUMMARIES, _LazyGroup, main


def test_every_summary_is_the_commands_own_short_help():
    for name, summary in _SUMMARIES.items():
        cmd = _LazyGroup._load(name)
        assert cmd is not None, name
        assert summary == cmd.get_short_help_str(10**6), name


def test_every_command_has_a_summary():
    missing = set(_COMMANDS) - set(_SUMMARIES)
    assert not missing, f"add summaries for {sorted(missing)} to _SUMMARIES in cli/__init__.py"
    assert not set(_SUMMARIES) - set(_COMMANDS)


def test_help_lists_every_command():
    out = CliRunner().invoke(main, ["--help"]).output
    for name in _COMMANDS:
        assert f"  {name} " in out


def test_help_imports_neither_pyarrow_nor_duckdb():
    code = (
        "import sys\n"
        "from tdmscan.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('pyarrow', 'duckdb', 'aiohttp', 'httpx') if m in sys.modules)\n"
        "print('HEAVY', ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY \n" in out.stdout or out.stdout.rstrip().endswith("HEAVY"), out.stdout
