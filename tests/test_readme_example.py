"""The README's library example runs as written, and what it says about filter() holds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tdmscan import Scanner
from tdmscan.fakeweb import Resp, Site

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "readme_library.py"


def readme_library_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```python\n", text.index("## Library\n")) + len("```python\n")
    return text[start : text.index("```\n", start)]


def test_readme_block_is_the_example_script() -> None:
    code = EXAMPLE.read_text(encoding="utf-8")
    assert code.endswith(readme_library_block())
    compile(readme_library_block(), "README.md", "exec")  # valid Python as it stands


def test_example_runs_against_the_fake_web(fakeweb: Any, tmp_path: Path) -> None:
    fw = fakeweb([Site("shop.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /p/\n")})])
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(fw.proxy_env())
    env["PYTHONPATH"] = str(ROOT / "src")
    r = subprocess.run(
        [sys.executable, str(EXAMPLE), "http://shop.test/a", "http://shop.test/p/b"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:5] == [
        "reserved",
        "('robots:disallow', 'header:noai')",
        "robots.txt line 2",
        "parsed",
        "False",
    ]
    assert lines[5].startswith("allowed ")
    assert lines[6].startswith("reserved") and "header:noai" in lines[6]
    assert lines[7:] == ["ingest http://shop.test/a"]


def test_filter_yields_in_completion_order_not_input_order(fakeweb: Any, fakeweb_env: Any) -> None:
    fw = fakeweb(
        [
            Site("slow.test", {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n", delay=0.6)}),
            Site("fast.test", {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n")}),
        ]
    )
    fakeweb_env(fw)

    async def run() -> list[str]:
        async with Scanner(agents=["MyBot"], include_training_agents=False) as s:
            urls = ["http://slow.test/1", "http://fast.test/2", "http://fast.test/3"]
            return [u async for u, _ in s.filter(urls)]

    got = asyncio.run(run())
    assert sorted(got) == ["http://fast.test/2", "http://fast.test/3", "http://slow.test/1"]
    assert got[-1] == "http://slow.test/1"  # first in, last out: its origin was slow
