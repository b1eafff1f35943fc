"""Layers import one way: types/urls -> signals -> policy -> fetch -> scanner -> ledger -> the rest.

Every import in the package, module level or inside a function, is checked: a lower layer that
reaches up (as ``fetch/remote.py`` once did for the Scanner) fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tdmscan

ROOT = Path(tdmscan.__file__).parent
BASE = {"types", "urls", "domains", "_version", "_gc"}
LAYER = {"signals": 1, "policy": 2, "fetch": 3, "scanner": 4, "ledger": 5}
TOP = 6  # audit, reports, integrations, engines, cli, serve, ... and anything new

# The one sanctioned upward edge: ``Scanner(ledger="dir/")`` is a convenience that opens the
# ledger's recorder; the scanner itself only calls ``.record(...)`` on whatever it is given.
ALLOWED = {("tdmscan.scanner", "tdmscan.ledger"), ("tdmscan.scanner", "tdmscan.ledger.recorder")}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] in BASE:
        return 0
    return LAYER.get(parts[1], TOP)


def _imports(path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
            elif node.module:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "tdmscan" or m.startswith("tdmscan.")}


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if module == "tdmscan":
            continue
        for target in _imports(path, module):
            if target == "tdmscan" or target.split(".")[1] == module.split(".")[1]:
                continue
            if _layer(target) > _layer(module) and (module, target) not in ALLOWED:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports reaching up a layer:\n" + "\n".join(upward)
