"""IETF aipref Content-Usage: robots.txt records (when the path is crawlable), the HTTP header
and the (non-standard) meta element."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from ..signals import aipref
from ._core import TRAINING_PURPOSES, Collector, Context

if TYPE_CHECKING:
    from .page import PageSignals
    from .site import SiteSignals

#: Label of each purpose in each vocabulary (None: the vocabulary cannot speak to it).
_AIPREF_LABEL = {"train-ai": "train-ai", "search": "search", "ai-input": "ai-use", "tdm": None}


@lru_cache(maxsize=4096)
def _usage(value: str) -> aipref.UsagePrefs:
    return aipref.parse_content_usage(value)


def _aipref(
    c: Collector,
    site: SiteSignals | None,
    page: PageSignals | None,
    agent: str,
    path: str,
    purpose: str,
    robots_allowed: bool,
) -> None:
    label = _AIPREF_LABEL.get(purpose)
    statements: list[tuple[aipref.UsagePrefs, str, str | None, str | None]] = []
    if site is not None and site.robots is not None and robots_allowed:
        f = site.files.robots
        for rec in site.robots.content_usage(agent, path):
            loc = f"robots.txt line {rec.line}"
            statements.append(
                (_usage(rec.value), loc, f.url if f else None, f.sha256 if f else None)
            )
        if site.robots.has_global_usage:
            for rec in site.robots.global_content_usage(path):
                loc = f"robots.txt line {rec.line} (outside any group)"
                statements.append(
                    (_usage(rec.value), loc, f.url if f else None, f.sha256 if f else None)
                )
    if page is not None:
        if page.usage_header is not None:
            statements.append((page.usage_header, "header Content-Usage", page.fetched.url, None))
        if page.head is not None and page.head.content_usage is not None:
            statements.append(
                (page.head.content_usage, "meta name=content-usage", page.fetched.url, None)
            )
    for prefs, loc, src, sha in statements:
        if not prefs.ok:
            c.note(
                "aipref",
                loc,
                prefs.raw,
                "unknown",
                reason="aipref:unparsable",
                source_url=src,
                sha256=sha,
            )
            continue
        value = prefs.get(label) if label else None
        # The meta element is no aipref attachment, and lines outside any robots.txt group
        # belong to no agent under RFC 9309: both are read as inferred statements.
        non_standard = loc.startswith("meta") or loc.endswith("(outside any group)")
        if value == "n":
            c.reserve(
                f"aipref:{label}=n",
                "aipref",
                loc,
                prefs.raw,
                strength="inferred" if non_standard else "explicit",
                source_url=src,
                sha256=sha,
            )
        elif value == "y":
            c.note(
                "aipref",
                loc,
                prefs.raw,
                "allowed",
                reason=f"aipref:{label}=y",
                source_url=src,
                sha256=sha,
                strength="explicit",
            )
        if purpose in TRAINING_PURPOSES:
            legacy_labels = aipref.LEGACY_TRAINING_LABELS
            if purpose == "ai-input":
                legacy_labels = legacy_labels | aipref.LEGACY_INPUT_LABELS
            for legacy in sorted(legacy_labels):
                if prefs.get(legacy) == "n":
                    # vocab-08 ignores retired labels; the author meant them under the draft
                    # that defined them, which the evidence names.
                    c.reserve(
                        f"aipref:{legacy}=n",
                        "aipref",
                        f"{loc}; label {legacy!r} of {aipref.LABEL_DRAFTS[legacy]}",
                        prefs.raw,
                        strength="inferred",
                        source_url=src,
                        sha256=sha,
                    )


def apply(c: Collector, ctx: Context) -> None:
    robots_allowed = ctx.robots is None or ctx.robots.verdict != "disallow"
    _aipref(c, ctx.site, ctx.page, ctx.agent, ctx.path, ctx.purpose, robots_allowed)
