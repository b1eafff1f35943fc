"""RFC 9309 robots.txt: the longest matching rule of the agent's group, plus groups of
catalogued training agents (inferred)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..types import RobotsOutcome
from ._core import TRAINING_PURPOSES, Collector, Context, rule_text

if TYPE_CHECKING:
    from .site import AgentView, SiteSignals


def _robots(
    c: Collector,
    site: SiteSignals | None,
    agent: str,
    path: str,
    purpose: str,
    view: AgentView | None,
) -> RobotsOutcome:
    f = site.files.robots if site else None
    branch = site.robots_branch if site else "absent"
    url = (f.url if f else None) or (f"{site.files.origin}/robots.txt" if site else None)
    base = {
        "status": f.status if f else None,
        "url": url,
        "sha256": f.sha256 if f else None,
        "fetched_at": f.fetched_at if f else None,
        "error": f.error if f else None,
    }
    if branch == "unreachable":
        c.error(
            # A robots.txt fetched but not parsed within the scanner's budget: say so.
            "parse:budget-exceeded"
            if f is not None and f.error == "parse:budget-exceeded"
            else "robots:unreachable",
            "robots",
            "robots.txt",
            f"status {f.status}" if f and f.status else (f.error or "error") if f else "error",
            url,
        )
        return RobotsOutcome(branch=branch, verdict="no-rule", **base)
    if branch == "redirect-limit":
        raw = (
            "redirect loop"
            if f is not None and f.error == "redirect-loop"
            else f"more than {len(f.redirects) if f else 5} redirects"
        )
        if c.mode == "conservative":
            # RFC 9309 2.3.1.2 lets a crawler treat this as "unavailable" (crawl everything),
            # but a site that answers robots.txt with a redirect maze has said nothing we can
            # read: conservative mode does not take that as permission.
            c.error("robots:redirect-limit", "robots", "robots.txt", raw, url)
            return RobotsOutcome(branch=branch, verdict="no-rule", **base)
        c.note("robots", "robots.txt", raw, reason="robots:redirect-limit", source_url=url)
    if site is None or site.robots is None:
        return RobotsOutcome(branch=branch, verdict="no-rule", **base)
    robots = site.robots
    if path == "/robots.txt":
        return RobotsOutcome(branch=branch, verdict="allow", truncated=robots.truncated, **base)
    m = robots.match(agent, path)
    sha = f.sha256 if f else None
    if not m.allowed and m.rule is not None:
        c.reserve(
            "robots:disallow",
            "robots",
            f"robots.txt line {m.rule.line}",
            rule_text(m.rule),
            source_url=url,
            sha256=sha,
        )
    if purpose in TRAINING_PURPOSES and view is not None:
        # Only groups that name a training agent explicitly express intent about training;
        # the "*" group is about crawling in general.
        for token in view.proxy_tokens:
            pm = robots.match(token, path)
            if not pm.allowed and pm.rule is not None and "*" not in pm.group_agents:
                c.reserve(
                    "robots:training-agent-disallow",
                    "robots",
                    f"robots.txt line {pm.rule.line} (group {token})",
                    rule_text(pm.rule),
                    strength="inferred",
                    source_url=url,
                    sha256=sha,
                )
                break
    return RobotsOutcome(
        branch=branch,
        verdict="no-rule" if m.rule is None else ("allow" if m.allowed else "disallow"),
        matched_line=m.rule.line if m.rule else None,
        matched_rule=rule_text(m.rule) if m.rule else None,
        group=",".join(m.group_agents) or None,
        truncated=robots.truncated,
        **base,
    )


def apply(c: Collector, ctx: Context) -> None:
    ctx.robots = _robots(c, ctx.site, ctx.agent, ctx.path, ctx.purpose, ctx.view)
