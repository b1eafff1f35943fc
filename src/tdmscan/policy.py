"""Combine parsed signals into a Decision for (url, agent, purpose).

Interim version: robots.txt only, through protego. The full cross-protocol policy replaces
the body of ``decide``; the three entry points and their signatures are the contract.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from protego import Protego

from .types import Decision, Fetched, RobotsOutcome, SiteFiles, as_fetched
from .urls import InvalidURL, parse_url


@dataclass(frozen=True, slots=True)
class SiteSignals:
    """Origin-level files, parsed once per origin and shared by every URL and agent."""

    files: SiteFiles
    robots: object | None = None


def parse_site(files: SiteFiles) -> SiteSignals:
    robots = None
    if files.robots is not None and files.robots.ok:
        robots = Protego.parse(files.robots.body.decode("utf-8", "replace"))
    return SiteSignals(files=files, robots=robots)


def decide(
    url: str,
    agents: Sequence[str],
    site: SiteSignals | None,
    page: Fetched | None = None,
    *,
    purpose: str = "train-ai",
    mode: str = "conservative",
) -> list[Decision]:
    """One decision per agent for a URL, from pre-parsed site signals and an optional page."""
    try:
        parsed = parse_url(url)
    except InvalidURL as exc:
        return [
            Decision(url=str(url), agent=a, verdict="invalid", reasons=(f"url:{exc.reason}",),
                     purpose=purpose, mode=mode)
            for a in agents
        ]
    out = []
    for agent in agents:
        robots_f = site.files.robots if site else None
        if robots_f is None:
            out.append(Decision(parsed.url, agent, "allowed", purpose=purpose, mode=mode,
                                robots=RobotsOutcome(branch="absent")))
        elif robots_f.unreachable:
            out.append(Decision(parsed.url, agent, "unknown", ("robots:unreachable",),
                                purpose=purpose, mode=mode,
                                robots=RobotsOutcome(branch="unreachable", status=robots_f.status)))
        elif site is not None and site.robots is not None:
            ok = site.robots.can_fetch(parsed.path_query, agent)  # type: ignore[attr-defined]
            out.append(Decision(parsed.url, agent, "allowed" if ok else "reserved",
                                () if ok else ("robots:disallow",), purpose=purpose, mode=mode,
                                robots=RobotsOutcome(branch="parsed", status=robots_f.status,
                                                     sha256=robots_f.sha256)))
        else:
            out.append(Decision(parsed.url, agent, "allowed", purpose=purpose, mode=mode,
                                robots=RobotsOutcome(branch="4xx-allow", status=robots_f.status)))
    return out


def evaluate(
    url: str,
    agent: str = "*",
    *,
    robots_txt: bytes | Fetched | None = None,
    tdmrep_json: bytes | Fetched | None = None,
    ai_txt: bytes | Fetched | None = None,
    response: Fetched | None = None,
    purpose: str = "train-ai",
    mode: str = "conservative",
) -> Decision:
    """The whole decision from raw inputs, no network (see DESIGN.md, public API)."""
    try:
        origin = parse_url(url).origin
    except InvalidURL:
        origin = ""
    files = SiteFiles(origin=origin, robots=as_fetched(robots_txt), tdmrep=as_fetched(tdmrep_json),
                      ai_txt=as_fetched(ai_txt))
    return decide(url, [agent], parse_site(files), response, purpose=purpose, mode=mode)[0]
