"""``tdmscan fakeweb``: a documented command serving the demo sites or a user's site map, with
the proxy settings printed, so the CLI and any crawler can be tried offline."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from click.testing import CliRunner

from tdmscan.cli import main

ROOT = Path(__file__).resolve().parents[1]


def start(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], dict[str, str], list[str]]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tdmscan", "fakeweb", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    exports: dict[str, str] = {}
    for line in proc.stdout:
        seen.append(line.rstrip("\n"))
        if line.strip().startswith("export "):
            for item in shlex.split(line.strip()[len("export ") :]):
                k, _, v = item.partition("=")
                exports[k] = v
        if line.startswith("Any client"):
            break
    assert exports, "\n".join(seen) + (proc.stderr.read() if proc.poll() is not None else "")
    return proc, exports, seen


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    full.update(env)
    full["PYTHONPATH"] = str(ROOT / "src")
    return subprocess.run(
        [sys.executable, "-m", "tdmscan", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )


def test_users_own_site_map_with_the_printed_environment(tmp_path: Path) -> None:
    example = CliRunner().invoke(main, ["fakeweb", "--example"])
    assert example.exit_code == 0
    sites = tmp_path / "sites.json"
    sites.write_text(example.output)
    proc, env, lines = start(str(sites), "--max-seconds", "120", cwd=tmp_path)
    try:
        assert lines[0].startswith("listening on http://127.0.0.1:")
        assert "shop.test" in lines[1] and "down.test" in lines[1]
        proxy = env["HTTP_PROXY"]
        # A crawler of one's own: any client with the proxy set.
        r = httpx.get("http://shop.test/robots.txt", proxy=proxy, timeout=10)
        assert r.status_code == 200 and "Disallow: /private/" in r.text
        assert httpx.get("http://nowhere.test/", proxy=proxy, timeout=10).status_code == 502
        # The CLI with the printed environment.
        out = cli(
            env,
            "check",
            "--json",
            "--no-training-agents",
            "http://shop.test/noai.html",
            "http://shop.test/header.html",
            "http://shop.test/private/x",
            "http://down.test/a",
            "http://shop.test/",
            "http://shop.test/books/a.html",
        )
        got = {
            json.loads(x)["input"]: json.loads(x)["decisions"][0] for x in out.stdout.splitlines()
        }
        assert got["http://shop.test/noai.html"]["reasons"] == ["meta:noai"]
        assert got["http://shop.test/header.html"]["reasons"] == ["header:noai"]
        assert got["http://shop.test/private/x"]["reasons"] == ["robots:disallow"]
        assert got["http://down.test/a"]["verdict"] == "unknown"
        assert got["http://shop.test/"]["verdict"] == "allowed"
        assert got["http://shop.test/books/a.html"]["verdict"] == "reserved"
    finally:
        stop(proc)


def test_demo_sites_by_default(tmp_path: Path) -> None:
    proc, env, lines = start("--max-seconds", "120", cwd=tmp_path)
    try:
        assert "art.example" in lines[1]
        out = cli(
            env, "check", "--json", "--no-training-agents", "http://art.example/gallery/sunset.html"
        )
        d = json.loads(out.stdout)["decisions"][0]
        assert d["verdict"] == "reserved" and "meta:noai" in d["reasons"]
    finally:
        stop(proc)


def test_bad_site_map_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    r = CliRunner().invoke(main, ["fakeweb", str(bad)])
    assert r.exit_code == 2 and "not a site map" in r.output
    assert len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(main, ["fakeweb", str(tmp_path / "missing.json")])
    assert r.exit_code == 2 and "no such file" in r.output


def test_documented(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    assert "tdmscan fakeweb" in readme
    doc = (ROOT / "docs" / "fakeweb.md").read_text()
    for needle in ("tdmscan fakeweb --example", "HTTP_PROXY", "routes", "body_file", "502"):
        assert needle in doc
