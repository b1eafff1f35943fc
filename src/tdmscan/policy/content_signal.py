"""Content Signals (contentsignals.org): robots.txt group records, header and meta."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from ..signals import contentsignal
from ._core import Collector, Context

if TYPE_CHECKING:
    from .page import PageSignals
    from .site import AgentView, SiteSignals

_CSIGNAL_KEY = {"train-ai": "ai-train", "search": "search", "ai-input": "ai-input", "tdm": None}


@lru_cache(maxsize=4096)
def _csignal(value: str) -> contentsignal.ContentSignal:
    return contentsignal.parse_content_signal(value)


def _content_signal(
    c: Collector,
    site: SiteSignals | None,
    page: PageSignals | None,
    view: AgentView | None,
    purpose: str,
) -> None:
    key = _CSIGNAL_KEY.get(purpose)
    if key is None:
        return
    items: list[tuple[str, str, str, str | None, str | None]] = []  # value, locator, strength
    if site is not None and view is not None:
        f = site.files.robots
        for rec in view.content_signals:
            items.append(
                (
                    rec.value,
                    f"robots.txt line {rec.line}",
                    "explicit",
                    f.url if f else None,
                    f.sha256 if f else None,
                )
            )
        # Lines before the first User-agent (common in the wild) belong to no group under
        # RFC 9309, but their author plainly meant the whole origin: evidence in strict mode,
        # a reservation in conservative mode.
        for rec in view.global_signals:
            items.append(
                (
                    rec.value,
                    f"robots.txt line {rec.line} (outside any group)",
                    "inferred",
                    f.url if f else None,
                    f.sha256 if f else None,
                )
            )
    if page is not None:
        # Not part of the published policy (contentsignals.org defines only the robots.txt
        # line): evidence, decisive only when conservative.
        if page.content_signal_header:
            items.append(
                (
                    page.content_signal_header,
                    "header Content-Signal",
                    "inferred",
                    page.fetched.url,
                    None,
                )
            )
        if page.head is not None and page.head.content_signal:
            items.append(
                (
                    page.head.content_signal,
                    "meta name=content-signal",
                    "inferred",
                    page.fetched.url,
                    None,
                )
            )
    for value, loc, strength, src, sha in items:
        sig = _csignal(value)
        v = sig.values.get(key)
        if v == "no":
            c.reserve(
                f"content-signal:{key}=no",
                "content-signal",
                loc,
                sig.raw,
                strength=strength,
                source_url=src,
                sha256=sha,
            )
        elif v == "yes":
            c.note(
                "content-signal",
                loc,
                sig.raw,
                "allowed",
                reason=f"content-signal:{key}=yes",
                source_url=src,
                sha256=sha,
                strength="explicit",
            )


def apply(c: Collector, ctx: Context) -> None:
    _content_signal(c, ctx.site, ctx.page, ctx.view, ctx.purpose)
