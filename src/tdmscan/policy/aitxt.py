"""Spawning ai.txt: robots-style rules about AI training."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._core import TRAINING_PURPOSES, Collector, Context, rule_text

if TYPE_CHECKING:
    from .site import SiteSignals


def _ai_txt(c: Collector, site: SiteSignals | None, agent: str, path: str, purpose: str) -> None:
    if site is None or site.ai_txt is None or purpose not in TRAINING_PURPOSES:
        return
    f = site.files.ai_txt
    src = f.url if f else None
    if not site.ai_txt.recognised:
        c.note(
            "ai-txt",
            "ai.txt",
            "present, unrecognised format",
            reason="ai-txt:unrecognised",
            source_url=src,
        )
        return
    m = site.ai_txt.match(agent, path)
    if m.rule is None:
        return
    if not m.allowed:
        c.reserve(
            "ai-txt:disallow",
            "ai-txt",
            f"ai.txt line {m.rule.line}",
            rule_text(m.rule),
            source_url=src,
            sha256=f.sha256 if f else None,
        )
    else:
        c.note(
            "ai-txt",
            f"ai.txt line {m.rule.line}",
            rule_text(m.rule),
            "allowed",
            reason="ai-txt:allow",
            source_url=src,
            strength="explicit",
        )


def apply(c: Collector, ctx: Context) -> None:
    _ai_txt(c, ctx.site, ctx.agent, ctx.path, ctx.purpose)
