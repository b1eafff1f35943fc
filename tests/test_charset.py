"""HTML decoding by the WHATWG order: BOM, Content-Type charset, <meta> prescan (issue 13)."""

from __future__ import annotations

import pytest

from tdmscan.policy import evaluate
from tdmscan.signals.html import parse_html_head
from tdmscan.types import Fetched

URL = "https://art.example/work/1"
ROBOTS = b"User-agent: *\nAllow: /\n"
HEAD = '<html><head><meta name="robots" content="noai"><title>Œuvre</title></head></html>'


def _page(body: bytes, content_type: str | None) -> Fetched:
    headers = {"content-type": content_type} if content_type else {}
    return Fetched(status=200, headers=headers, body=body, url=URL)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (HEAD.encode("utf-16-le"), "text/html; charset=utf-16le"),
        (HEAD.encode("utf-16-be"), "text/html; charset=UTF-16BE"),
        (HEAD.encode("utf-16-le"), "text/html; charset=utf-16"),  # WHATWG: the label is LE
        (b"\xff\xfe" + HEAD.encode("utf-16-le"), "text/html"),  # BOM
        (b"\xfe\xff" + HEAD.encode("utf-16-be"), None),  # BOM, no Content-Type at all
    ],
)
def test_utf16_page_with_noai_is_found(body, content_type):
    d = evaluate(URL, robots_txt=ROBOTS, response=_page(body, content_type))
    assert d.verdict == "reserved" and "meta:noai" in d.reasons


def test_content_type_charset_outranks_meta():
    body = (
        '<meta charset="utf-8"><meta name="tdm-reservation" content="1">'
        '<meta name="tdm-policy" content="https://x.example/café">'
    ).encode("cp1252")
    head = parse_html_head(body, content_type="text/html; charset=iso-8859-1")
    assert head.tdm.policy == "https://x.example/café"


def test_bom_outranks_content_type():
    body = b"\xef\xbb\xbf" + HEAD.encode("utf-8")
    head = parse_html_head(body, content_type="text/html; charset=utf-16le")
    assert "noai" in head.robots.for_agent("x")


def test_meta_prescan_declaring_utf16_means_utf8():
    # A document whose ASCII <meta> could be read is not UTF-16 (WHATWG prescan rule).
    body = ('<meta charset="utf-16">' + HEAD).encode("utf-8")
    head = parse_html_head(body)
    assert "noai" in head.robots.for_agent("x")


def test_meta_charset_still_used_without_header():
    body = '<meta charset="shift_jis"><meta name="robots" content="noai">あ'.encode("shift_jis")
    assert "noai" in parse_html_head(body).robots.for_agent("x")
