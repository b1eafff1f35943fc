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


#: Documents that exist only beside the repository: users never have them.
PRIVATE = re.compile(r"\b(DESIGN|COMPLIANCE|SIGNALS|ECOSYSTEM)(\.md)?\b|\.\./shared|shared/data")


def _shipped_text_files() -> list[Path]:
    out = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "LICENSE"]
    for folder in ("docs", "src", "examples", "benchmarks"):
        out += [
            p
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and p.suffix in {".md", ".py", ".sql", ".json", ".toml", ".txt", ".js"}
        ]
    return out


def test_the_repository_cites_no_document_users_do_not_have() -> None:
    hits = []
    for p in _shipped_text_files():
        for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if PRIVATE.search(line):
                hits.append(f"{p.relative_to(ROOT)}:{n}: {line.strip()[:100]}")
    assert not hits, "\n".join(hits)


def test_background_is_in_the_docs_with_public_sources() -> None:
    text = (ROOT / "docs" / "background.md").read_text(encoding="utf-8")
    for source in (
        "RFC 9309",
        "W3C Community Group Final Report",
        "draft-ietf-aipref-vocab",
        "Code of Practice",
        "Measure 1.3",
        "10 July 2025",
        "section 2.3",
        "section 3.1",
        "24 July 2025",
        "Directive (EU) 2019/790",
        "Regulation (EU) 2024/1689",
    ):
        assert source in text, source
    assert "docs/background.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_licence_file_is_the_one_pyproject_declares() -> None:
    assert re.search(r'^license = "Apache-2.0"', (ROOT / "pyproject.toml").read_text(), re.M)
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(text.splitlines()) > 150  # the full text, not a stub


def test_tests_need_nothing_beside_the_repository() -> None:
    """Data lives in fixtures/ with its source and licence; no test reads an outside folder."""
    readme = (ROOT / "fixtures" / "README.md").read_text(encoding="utf-8")
    files = [p for p in (ROOT / "fixtures").iterdir() if p.name != "README.md"]
    assert files
    for p in files:
        named = f"`{p.name}`" in readme or f"`{p.name}/`" in readme
        assert named, f"{p.name} has no source/licence line in fixtures/README.md"
        if p.is_dir() and not (p / "README.md").exists():
            for f in p.iterdir():
                assert f"`{f.name}`" in readme, f"fixtures/{p.name}/{f.name}: no source/licence"
    size = sum(f.stat().st_size for f in (ROOT / "fixtures").rglob("*") if f.is_file())
    assert size < 6 << 20, "keep fixtures/ to a few MB"
    for p in (ROOT / "tests").glob("*.py"):
        if p.name in ("test_repository.py", "test_report_text.py"):
            continue  # they spell out the patterns they look for
        text = p.read_text(encoding="utf-8")
        assert not PRIVATE.search(text), f"{p.name}: {PRIVATE.search(text).group(0)!r}"


def test_readme_test_command_says_what_the_skipping_tests_need() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = text[text.index("## Set-up") : text.index("## Library")]
    for needle in ("Chromium", "pdftotext", "Node.js", "fixtures/README.md"):
        assert needle in setup, needle
