"""Origin-level signals: parsed once per origin, shared by every URL and agent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..signals import tdmrep
from ..signals.aitxt import AiTxt, parse_ai_txt
from ..signals.exclusions import ExclusionLists
from ..signals.matching import product_token
from ..signals.robots import RobotsTxt, parse_robots
from ..signals.tos import TermsPage, parse_terms
from ..types import Fetched, SiteFiles


@dataclass(frozen=True, slots=True)
class AgentView:
    proxy_tokens: tuple[str, ...]  # catalogued training agents with a group of their own
    content_signals: tuple  # Content-Signal records of the agent's group
    rsl_urls: tuple[str, ...]
    #: Content-Signal records written before the first User-agent line (no group).
    global_signals: tuple = ()


@dataclass(frozen=True, slots=True)
class SiteSignals:
    """Origin-level files, parsed once per origin and shared by every URL and agent."""

    files: SiteFiles
    robots: RobotsTxt | None = None
    robots_branch: str = "absent"
    tdmrep: tdmrep.TdmRepFile | None = None
    ai_txt: AiTxt | None = None
    rsl_documents: Mapping[str, Fetched] = field(default_factory=dict)
    #: The terms page read for natural-language reservations (None: not looked for / no page).
    terms: TermsPage | None = None
    #: Infringing-site lists in force (None: the shipped list alone).
    exclusions: ExclusionLists | None = None
    _agent_memo: dict = field(default_factory=dict, compare=False, repr=False)

    def crawl_delay(self, agent: str) -> float | None:
        return self.robots.crawl_delay(agent) if self.robots is not None else None

    def agent_view(self, agent: str, training: frozenset[str]) -> AgentView:
        """What this origin says to ``agent`` regardless of the URL, computed once per agent."""
        key = (agent, training)
        view = self._agent_memo.get(key)
        if view is None:
            robots = self.robots
            own = product_token(agent)
            if robots is None:
                view = AgentView((), (), ())
            else:
                view = AgentView(
                    proxy_tokens=tuple(
                        t for t in sorted(robots.named_agents & training) if t != own
                    ),
                    content_signals=robots.group_records(agent, "content-signal"),
                    rsl_urls=self.rsl_urls(agent),
                    global_signals=robots.global_records("content-signal"),
                )
            if len(self._agent_memo) >= 1024:  # agents are few; junk agent strings are not
                self._agent_memo.clear()
            self._agent_memo[key] = view
        return view

    def rsl_urls(self, agent: str) -> tuple[str, ...]:
        """RSL licence URLs the robots.txt points to for this agent (group lines, else global)."""
        if self.robots is None:
            return ()
        return tuple(r.value for r in self.robots.licenses(agent) if r.value)


def robots_branch(f: Fetched | None) -> str:
    """RFC 9309 section 2.3.1: which branch a robots.txt fetch falls into."""
    if f is None:
        return "absent"
    if f.error in ("too-many-redirects", "redirect-loop"):
        return "redirect-limit"
    if f.stale and f.ok:
        return "stale-copy"
    if f.unreachable:
        return "unreachable"
    if f.ok:
        return "parsed"
    if f.status is not None and 300 <= f.status < 400:
        # A redirect we were not allowed to follow further is "unavailable", like 4xx.
        return "redirect-limit"
    return "4xx-allow"


def parse_site(
    files: SiteFiles,
    rsl_documents: Mapping[str, Fetched] | None = None,
    *,
    exclusions: ExclusionLists | None = None,
) -> SiteSignals:
    branch = robots_branch(files.robots)
    robots = parse_robots(files.robots.body) if branch in ("parsed", "stale-copy") else None
    tdm = None
    if files.tdmrep is not None and files.tdmrep.ok:
        tdm = tdmrep.parse_tdmrep_json(files.tdmrep.body)
    ai = None
    if files.ai_txt is not None and files.ai_txt.ok:
        ai = parse_ai_txt(files.ai_txt.body)
    terms = None
    if files.terms is not None and files.terms.ok:
        terms = parse_terms(files.terms.body, content_type=files.terms.content_type)
    return SiteSignals(files, robots, branch, tdm, ai, dict(rsl_documents or {}), terms, exclusions)
