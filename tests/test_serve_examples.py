"""The JavaScript (Crawlee hook) and Go (net/http) examples against a real ``tdmscan serve``.

Run when ``node`` / ``go`` are installed (``.ci/run`` installs Node from the system packages;
Go is optional and its test is skipped, saying so, when there is no ``go``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_util import Server

from tdmscan.fakeweb import FakeWeb, Resp, Site

pytestmark = pytest.mark.timeout(300)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
URLS = ["http://open.test/a", "http://gpt.test/a", "http://priv.test/p/x", "http://down.test/a"]
EXPECTED = {
    "http://open.test/a": ("allowed", True),
    "http://gpt.test/a": ("reserved", False),
    "http://priv.test/p/x": ("reserved", False),
    "http://down.test/a": ("unknown", False),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    web = FakeWeb(
        [
            Site("open.test", {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n")}),
            Site("gpt.test", {"/robots.txt": Resp(body="User-agent: GPTBot\nDisallow: /\n")}),
            Site("priv.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /p/\n")}),
            Site("down.test", {"/robots.txt": Resp(503)}),
        ]
    ).start()
    try:
        tok = tmp_path_factory.mktemp("tok") / "token"
        tok.write_text("example-token\n")
        with Server(
            tmp_path_factory.mktemp("examples-ledger"),
            "--token-file",
            str(tok),
            proxy=web.proxy_url,
        ) as srv:
            yield srv, tok
    finally:
        web.stop()


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _check_steps(steps: list[dict], single: str) -> None:
    alone = [s for s in steps if s["step"] == single]
    assert [s["url"] for s in alone] == URLS
    for s in alone:
        assert (s["verdict"], s.get("ingest", s.get("fetch"))) == EXPECTED[s["url"]], s
    batch = [s for s in steps if s["step"] == "batch"]
    assert [s["input"] for s in batch] == URLS
    assert [(s["verdict"], s["ingest"]) for s in batch] == [EXPECTED[u] for u in URLS]
    (resp,) = [s for s in steps if s["step"] == "response"]
    assert resp["url"] == "http://open.test/a"
    assert (resp["verdict"], resp["reasons"]) == ("reserved", ["header:noai"])


def test_node_crawlee_hook(server: tuple[Server, Path]) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (.ci/run installs it with apt-get)")
    srv, tok = server
    r = subprocess.run(
        [node, str(EXAMPLES / "js" / "example.mjs"), "--server", srv.url, "--token-file", str(tok),
         *URLS],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    steps = _lines(r.stdout)
    _check_steps(steps, "hook")
    hooks = {s["url"]: s for s in steps if s["step"] == "hook"}
    # Not allowed: the hook stops the request and tells Crawlee 3 not to retry it.
    assert hooks["http://gpt.test/a"]["noRetry"] is True
    assert hooks["http://open.test/a"]["noRetry"] is False
    assert hooks["http://gpt.test/a"]["reasons"] == ["robots:training-agent-disallow"]


def test_node_fails_closed_without_the_token(server: tuple[Server, Path]) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (.ci/run installs it with apt-get)")
    srv, _ = server
    r = subprocess.run(
        [node, str(EXAMPLES / "js" / "example.mjs"), "--server", srv.url, "http://open.test/a"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    hook = _lines(r.stdout)[0]
    assert hook["step"] == "hook" and hook["fetch"] is False  # 401: not fetched


def test_go_net_http_client(server: tuple[Server, Path], tmp_path: Path) -> None:
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed (optional: apt-get install golang-go)")
    srv, tok = server
    env = {
        **os.environ,
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",  # standard library only: nothing to download
        "GOTOOLCHAIN": "local",
        "CGO_ENABLED": "0",
    }
    if not os.environ.get("HOME"):  # go needs somewhere to cache builds
        env |= {"GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath")}
    r = subprocess.run(
        [go, "run", ".", "-server", srv.url, "-token-file", str(tok), *URLS],
        cwd=EXAMPLES / "go", capture_output=True, text=True, timeout=280, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    _check_steps(_lines(r.stdout), "check")
