"""The repository stands alone and says what is true: CI cannot pass on an empty run, and
figures the docs state are the ones the code has."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tdmscan.signals.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    ROOT / "benchmarks" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]


def test_ci_fails_when_pytest_collects_no_tests(tmp_path: Path) -> None:
    """pytest exits 5 on an empty collection; CI must turn that red, not green."""
    assert ".ci/pytest" in (ROOT / ".ci" / "run").read_text()
    (tmp_path / "test_nothing_here.txt").write_text("not a test module")
    r = subprocess.run(
        ["bash", str(ROOT / ".ci" / "pytest"), "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
        timeout=120,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "collected no tests" in r.stderr
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert True\n")
    r = subprocess.run(
        ["bash", str(ROOT / ".ci" / "pytest"), "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_agent_counts_in_the_docs_are_the_catalogues() -> None:
    cat = load_catalogue()
    training = len(cat.training_tokens())
    total = len(cat.agents)
    seen = 0
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for m in re.finditer(r"(~?)(\d+) (?:training )?tokens|(\d+) training agents", text):
            seen += 1
            assert not m.group(1), f"{doc.name}: say how many, not about ({m.group(0)!r})"
            n = int(m.group(2) or m.group(3))
            assert n == training, f"{doc.name}: {m.group(0)!r} but the catalogue has {training}"
        for m in re.finditer(r"(\d+) agents from ai\.robots\.txt", text):
            assert int(m.group(1)) == total, f"{doc.name}: {m.group(0)!r}, catalogue has {total}"
    assert seen >= 2
