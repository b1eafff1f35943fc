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
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
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


#: Every element that may not be wider than the page, and every run id that may not wrap.
_MEASURE_JS = r"""
(() => {
  const W = document.documentElement.clientWidth;
  const out = {width: W, overflow: [], runIds: [], summaryBottom: null, pageWidth: W};
  const name = (e) => {
    const f = e.closest('figure');
    return (f ? f.id + ' ' : '') + e.tagName.toLowerCase() + '.' + e.className;
  };
  for (const e of document.querySelectorAll('table, .scroll, pre, svg, figure, p, dl')) {
    const r = e.getBoundingClientRect();
    if (r.right > W + 1 || e.scrollWidth > e.clientWidth + 1)
      out.overflow.push([name(e), Math.round(r.right), e.scrollWidth, e.clientWidth]);
  }
  for (const td of document.querySelectorAll('td.id')) {
    const cs = getComputedStyle(td);
    const lh = parseFloat(cs.lineHeight) || parseFloat(cs.fontSize) * 1.5;
    const pad = parseFloat(cs.paddingTop) + parseFloat(cs.paddingBottom);
    const inner = td.getBoundingClientRect().height - pad;
    out.runIds.push([td.textContent, Math.round(inner / lh)]);
  }
  const s = document.getElementById('s-summary');
  if (s) out.summaryBottom = s.getBoundingClientRect().bottom + window.scrollY;
  return JSON.stringify(out);
})()
"""

#: A4 at 96 px/inch, less the report's @page margins (12 mm left/right, 14 mm top/bottom).
A4_CONTENT_PX = (round((210 - 24) / 25.4 * 96), round((297 - 28) / 25.4 * 96))


async def _print(url: str, pdf: Path, width: int, media: str) -> dict[str, Any]:
    """Lay ``url`` out for ``media`` at ``width`` CSS px, measure it, and print it to ``pdf``."""
    import aiohttp

    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
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
                await cdp.send("Page.enable", session=sid)
                await cdp.send(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
                    session=sid,
                )
                await cdp.send("Emulation.setEmulatedMedia", {"media": media}, session=sid)
                await cdp.send("Page.navigate", {"url": url}, session=sid)
                deadline = time.monotonic() + 60
                while not any(e.get("method") == "Page.loadEventFired" for e in cdp.events):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the page did not finish loading")
                    await asyncio.sleep(0.05)
                res = await cdp.send(
                    "Runtime.evaluate",
                    {"expression": _MEASURE_JS, "returnByValue": True},
                    session=sid,
                )
                measured = json.loads(res["result"]["value"])
                out = await cdp.send(
                    "Page.printToPDF",
                    {"printBackground": True, "preferCSSPageSize": True},
                    session=sid,
                )
                pdf.write_bytes(base64.b64decode(out["data"]))
                await cdp.send("Browser.close")
                reader.cancel()
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return measured


def print_pdf(url: str, pdf: Path, width: int = A4_CONTENT_PX[0], media: str = "print") -> Any:
    return asyncio.run(_print(url, pdf, width, media))


def pdf_pages(pdf: Path) -> list[tuple[float, float]]:
    """(width, height) in points of every page of a PDF Chromium wrote (uncompressed page
    dictionaries, one /MediaBox each)."""
    import re

    data = pdf.read_bytes()
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", data)
    boxes = [
        (float(m[2]) - float(m[0]), float(m[3]) - float(m[1]))
        for m in re.findall(
            rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", data
        )
    ]
    assert len(boxes) >= len(pages) > 0, (len(boxes), len(pages))
    return boxes[: len(pages)]


def pdf_words(pdf: Path) -> list[tuple[str, float]] | None:
    """Every word of ``pdf`` with its right edge in points (poppler's pdftotext -bbox), or None
    without poppler (CI installs it)."""
    import re
    from html import unescape

    exe = shutil.which("pdftotext")
    if exe is None:
        return None
    out = subprocess.run(
        [exe, "-bbox", str(pdf), "-"], capture_output=True, check=True, timeout=120
    ).stdout.decode("utf-8", "replace")
    return [
        (unescape(w), float(x))
        for x, w in re.findall(
            r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"[^>]*>([^<]*)<', out
        )
    ]


def load(url: str, png: Path, width: int = 1280, max_height: int | None = None) -> Any:
    return asyncio.run(_load(url, png, width, max_height))


def dump_dom(path: Path) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
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
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
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


# -- layout for legal readers: every table fits an A4 page ---------------------------------


def write_big_ledger(root: Path) -> Ledger:
    """What a legal team gets from a real campaign: 60 URLs on 12 sites, the crawler's token
    plus the whole catalogue of AI-training tokens, a conservative and a strict run, a --deep
    run, and a licence inventory."""
    import datetime as dt

    from test_report_reconcile import _run

    from tdmscan.reports import import_licences
    from tdmscan.scanner import training_tokens

    hosts = [f"site{i:02d}.example" for i in range(12)]
    robots: dict[str, Any] = {}
    for i, h in enumerate(hosts):
        if i % 4 == 0:
            robots[h] = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\n"
        elif i % 4 == 1:
            robots[h] = "User-agent: *\nDisallow: /members/\nContent-Signal: ai-train=no\n"
        elif i % 4 == 2:
            robots[h] = 404
        else:
            robots[h] = 503 if i == 3 else "User-agent: *\nAllow: /\n"
    urls = [
        (f"http://{h}/{p}/{k}", 1000 + 37 * k)
        for k, (h, p) in enumerate(
            (h, p) for h in hosts for p in ("articles", "private", "members", "img", "news")
        )
    ]
    agents = ["ExampleAIBot", *[a for a in training_tokens() if a != "ExampleAIBot"]]
    led = Ledger(root)
    t0 = dt.datetime(2026, 1, 12, 9, tzinfo=dt.UTC)
    _run(led, "20260112T090000Z-5f1c2a9e", t0, robots, agents, urls=urls)
    _run(
        led,
        "20260209T090000Z-77b0c4d1",
        t0 + dt.timedelta(days=28),
        robots,
        agents,
        urls=urls,
        mode="strict",
    )
    _run(
        led,
        "20260302T090000Z-a3e9f0b2",
        t0 + dt.timedelta(days=49),
        robots,
        agents[:1],
        urls=urls[:20],
        pages={urls[0][0]: b'<meta name="robots" content="noai">'},
    )
    lic = root.parent / "licences.toml"
    lic.write_text(
        "\n".join(
            f"""[[dataset]]
dataset = "news-archive-{i}"
version = "2025-1{i % 3}"
licensor = "Example Publishing Group {i} GmbH"
licence = "LicenseRef-Example-Commercial-Licence-{i}"
commercial_use = "yes"
derivatives = "yes"
ai_training = "{"express" if i % 2 else "prohibited"}"
term = "2025-01-01/2027-12-31"
territory = "EU, EEA, CH, UK"
evidence = "contracts/example-publishing-{i}-2025-signed.pdf"
category = "2.2.1"
used = true
models = ["example-model-7b-v1.2", "example-model-70b-v2.0"]
"""
            for i in range(4)
        )
    )
    import_licences(led, lic)
    return led


@pytest.fixture(scope="module")
def big_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tdmscan.reports import build_crawlers, build_domains, build_licences

    base = tmp_path_factory.mktemp("big")
    led = write_big_ledger(base / "ledger")
    out = {}
    for kind, rep in (
        ("evidence", build_evidence(led, provider="Example AI SA")),
        ("crawlers", build_crawlers(led, provider="Example AI SA", contact="optout@example.ai")),
        ("licences", build_licences(led)),
        ("domains", build_domains(led)),
    ):
        path = base / f"report-{kind}.html"
        path.write_text(render(rep, "html"), "utf-8")
        out[kind] = path
    return out


A4_PT = (595.0, 842.0)


@pytest.mark.parametrize("kind", ["evidence", "crawlers", "licences", "domains"])
def test_every_table_fits_an_a4_page_in_print(big_reports: dict[str, Path], kind: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / f"report-{kind}.pdf"
    m = print_pdf(big_reports[kind].as_uri(), pdf)
    assert m["overflow"] == [], m["overflow"]
    # Run ids stay on one line (they used to wrap over five).
    assert all(lines <= 1 for _, lines in m["runIds"]), m["runIds"]
    pages = pdf_pages(pdf)
    for w, h in pages:
        assert abs(w - A4_PT[0]) < 2 and abs(h - A4_PT[1]) < 2, (w, h)
    words = pdf_words(pdf)
    if words is not None:
        # Read back from the PDF itself: no word is cut at, or printed past, the right margin.
        right = A4_PT[0] - 12 / 25.4 * 72
        assert words, "pdftotext read no words"
        past = [(w, x) for w, x in words if x > right + 0.5]
        assert past == [], past[:10]
    if kind == "evidence":
        # The summary a legal reader starts with fits on two pages.
        assert m["summaryBottom"] is not None
        assert m["summaryBottom"] <= 2 * A4_CONTENT_PX[1], m["summaryBottom"]
        assert m["runIds"], "the run ids are shown"
    html = big_reports[kind].read_text("utf-8")
    if kind == "crawlers":
        assert str(big_reports[kind].parent / "ledger") not in html


@pytest.mark.parametrize("kind", ["evidence", "crawlers", "licences"])
def test_nothing_scrolls_sideways_on_screen(big_reports: dict[str, Path], kind: str) -> None:
    m = print_pdf(big_reports[kind].as_uri(), ARTIFACTS / f"screen-{kind}.pdf", 1280, "screen")
    assert m["overflow"] == [], m["overflow"]
    assert all(lines <= 1 for _, lines in m["runIds"]), m["runIds"]


def test_evidence_report_puts_detail_in_appendices(big_reports: dict[str, Path]) -> None:
    """One table for the agents, not one per agent; the per-token figures and the sample come
    after the main text, each appendix on a new page."""
    html = big_reports["evidence"].read_text("utf-8")
    order = [
        html.index(f'id="s-{s}"') for s in ("summary", "scope", "draft", "per-token", "sample")
    ]
    assert order == sorted(order)
    per_token = html[html.index('id="s-per-token"') : html.index('id="s-sample"')]
    assert per_token.count("<table") == 1 and per_token.count("<tr>") <= 10
    assert 'class="appendix-sec"' in html


if __name__ == "__main__":
    # Regenerate docs/evidence-report.png from the ledger the layout tests use:
    #   python tests/test_report_browser.py
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    out = Path(__file__).resolve().parent.parent / "docs" / "evidence-report.png"
    with tempfile.TemporaryDirectory() as tmp:
        led = write_big_ledger(Path(tmp) / "ledger")
        html = Path(tmp) / "report-evidence.html"
        html.write_text(render(build_evidence(led, provider="Example AI SA"), "html"), "utf-8")
        found, _ = load(html.as_uri(), out, 1280, int(os.environ.get("H", "2600")))
    print(found or "no console problems", out)
