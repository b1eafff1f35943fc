"""The HTML evidence report in headless Chromium: no console errors, charts and tables present.

Console messages, exceptions and resource or CSP errors are collected over the DevTools
protocol (aiohttp's websocket client, a core dependency), which reports them as structured
events instead of log lines to grep. A control page with a deliberate error proves the
collector sees errors at all. The screenshot is kept in ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tdmscan.ledger import Ledger
from tdmscan.reports import build_evidence, render

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (CI installs Debian's chromium package)"
)


class _Cdp:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._next = 0

    async def read(self) -> None:
        async for msg in self.ws:
            m = json.loads(msg.data)
            fut = self._pending.pop(m.get("id", -1), None)
            if fut is not None:
                fut.set_result(m)
            else:
                self.events.append(m)

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        self._next += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next] = fut
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send_str(json.dumps(msg))
        reply = await asyncio.wait_for(fut, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]


async def _load(url: str, png: Path, width: int, max_height: int | None) -> tuple[list[str], str]:
    """Open ``url``; return console/log problems and the DOM, and write a full-page PNG."""
    import aiohttp

    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 60
            while True:
                parts = port_file.read_text().split() if port_file.exists() else []
                if len(parts) >= 2:
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chromium did not start its DevTools endpoint")
                await asyncio.sleep(0.05)
            port, path = parts[:2]
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0) as ws,
            ):
                cdp = _Cdp(ws)
                reader = asyncio.create_task(cdp.read())
                target = (await cdp.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
                sid = (
                    await cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})
                )["sessionId"]
                for method in ("Runtime.enable", "Log.enable", "Page.enable"):
                    await cdp.send(method, session=sid)
                await cdp.send(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                    session=sid,
                )
                await cdp.send("Page.navigate", {"url": url}, session=sid)
                deadline = time.monotonic() + 60
                while not any(e.get("method") == "Page.loadEventFired" for e in cdp.events):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the page did not finish loading")
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)  # late console messages
                size = (await cdp.send("Page.getLayoutMetrics", session=sid))["cssContentSize"]
                height = size["height"] if max_height is None else min(size["height"], max_height)
                shot = await cdp.send(
                    "Page.captureScreenshot",
                    {
                        "format": "png",
                        "captureBeyondViewport": True,
                        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                    },
                    session=sid,
                )
                png.write_bytes(base64.b64decode(shot["data"]))
                dom = (
                    await cdp.send(
                        "Runtime.evaluate",
                        {"expression": "document.documentElement.outerHTML", "returnByValue": True},
                        session=sid,
                    )
                )["result"]["value"]
                await cdp.send("Browser.close")
                reader.cancel()
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    problems = []
    for e in cdp.events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            args = " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", []))
            problems.append(f"console.{p['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            problems.append("exception: " + p.get("exceptionDetails", {}).get("text", ""))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            problems.append(f"log {p['entry']['level']}: {p['entry'].get('text')}")
    return problems, dom


def load(url: str, png: Path, width: int = 1280, max_height: int | None = None) -> Any:
    return asyncio.run(_load(url, png, width, max_height))


def dump_dom(path: Path) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", path.as_uri()],
            capture_output=True,
            timeout=120,
            check=True,
        )
    return out.stdout.decode("utf-8")


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import datetime as dt

    from test_reports import ROBOTS_A, ROBOTS_B, write_run

    led = Ledger(tmp_path_factory.mktemp("browser") / "ledger")
    write_run(led, ROBOTS_A, dt.datetime(2026, 1, 10, tzinfo=dt.UTC), run_id="crawl")
    write_run(led, ROBOTS_B, dt.datetime(2026, 3, 5, tzinfo=dt.UTC), run_id="recheck")
    path = tmp_path_factory.mktemp("html") / "report-evidence.html"
    path.write_text(render(build_evidence(led, provider="Example AI SA"), "html"), "utf-8")
    return path


def test_collector_sees_console_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    missing = (tmp_path / "missing.png").as_uri()
    bad.write_text(f'<!doctype html><script>console.error("planted")</script><img src="{missing}">')
    problems, _ = load(bad.as_uri(), tmp_path / "bad.png")
    assert any("planted" in p for p in problems), problems
    assert len(problems) >= 2, problems  # the console error and the failed image load


def test_evidence_report_renders_cleanly(report_file: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    png = ARTIFACTS / "evidence-report.png"
    problems, dom = load(report_file.as_uri(), png)
    assert problems == [], problems
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    dumped = dump_dom(report_file)
    for html in (dom, dumped):
        assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') >= 3
        assert html.count("<table") >= 12
        assert 'class="draft"' in html and "DRAFT FOR LEGAL REVIEW" in html
        assert 'id="appendix"' in html
        assert "<script" not in html.lower()
    # The viewport screenshot the CLI flag produces, kept next to the full-page one.
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--window-size=1280,2000",
                f"--screenshot={ARTIFACTS / 'evidence-report-top.png'}",
                report_file.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
    assert (ARTIFACTS / "evidence-report-top.png").stat().st_size > 10_000


if (
    __name__ == "__main__"
):  # regenerate docs/evidence-report.png: python tests/test_report_browser.py HTML
    import sys

    out = Path(__file__).resolve().parent.parent / "docs" / "evidence-report.png"
    found, _ = load(
        Path(sys.argv[1]).resolve().as_uri(), out, 1280, int(os.environ.get("H", "3400"))
    )
    print(found or "no console problems", out)
