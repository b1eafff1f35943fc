"""Many URLs of one origin: each distinct page-less outcome decided once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from ..signals import rsl
from ..signals.matching import product_token
from ..types import MODES, PURPOSES, Decision
from ..urls import ParsedURL
from ._core import TRAINING_PURPOSES, default_training_tokens
from .decide import decide
from .site import SiteSignals


class SiteDecider:
    """Page-less decisions for many URLs of one origin, each distinct outcome decided once.

    Without a page, a decision depends on the URL only through what each path-matching
    protocol selects for it: the robots.txt rule (and the rule of the first catalogued
    training agent whose group disallows it), the Content-Usage records, the TDMRep rule, the
    RSL content entries and the ai.txt rule. :meth:`index` computes those selections (the cheap
    part of :func:`decide`) and runs the full :func:`decide` only for a selection not seen
    before; its decision becomes a *template* shared by every URL with the same selection,
    which differs from ``decide(url, ...)`` only in ``url``. Audits of a million URLs spend
    a few microseconds per URL here instead of 20-35 us in :func:`decide`
    (``tests/test_policy_memo.py`` checks equality with :func:`decide`).

    Selections are keyed by the identity of the match objects the parsers return (robots.txt
    and ai.txt answer with one shared object per rule); every object keyed by identity is also
    kept referenced (``_pinned``), so no id can be recycled for another object meanwhile.
    """

    __slots__ = (
        "_ai",
        "_cu",
        "_fast",
        "_fast_keys",
        "_keys",
        "_pinned",
        "_proxy",
        "_rm",
        "_rsl_docs",
        "_tdm_varies",
        "_views",
        "agents",
        "mode",
        "purpose",
        "site",
        "templates",
        "training",
        "training_arg",
    )

    def __init__(
        self,
        site: SiteSignals | None,
        agents: Sequence[str],
        *,
        purpose: str = "train-ai",
        mode: str = "conservative",
        training_tokens: Iterable[str] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {PURPOSES}, not {purpose!r}")
        self.site = site
        self.agents = tuple(agents)
        self.purpose = purpose
        self.mode = mode
        self.training = (
            default_training_tokens()
            if training_tokens is None
            else frozenset(product_token(t) for t in training_tokens)
        )
        # What decide() gets: None keeps its cached default instead of re-normalising 47
        # tokens per template.
        self.training_arg = None if training_tokens is None else self.training
        #: Decisions made so far; :meth:`index` returns positions in this list.
        self.templates: list[Decision] = []
        self._keys: dict[tuple, int] = {}
        self._pinned: list[Any] = []
        self._views = [
            site.agent_view(a, self.training) if site is not None else None for a in self.agents
        ]
        robots = site.robots if site is not None else None
        usable = robots is not None and site.robots_branch != "unreachable"  # type: ignore[union-attr]
        training_purpose = purpose in TRAINING_PURPOSES
        # Per-agent matchers with the robots.txt group selection resolved once.
        self._rm = [robots.matcher(a) if usable else None for a in self.agents]  # type: ignore[union-attr]
        self._proxy = [
            [(t, robots.matcher(t)) for t in v.proxy_tokens]  # type: ignore[union-attr]
            if usable and training_purpose and v is not None
            else []
            for v in self._views
        ]
        ai_file = site.ai_txt if site is not None else None
        self._ai = [
            ai_file.matcher(a)
            if ai_file is not None and ai_file.recognised and training_purpose
            else None
            for a in self.agents
        ]
        # Content-Usage lookups re-run the robots match: only for groups that have any.
        self._cu = [
            robots is not None
            and (bool(robots.group_records(a, "content-usage")) or robots.has_global_usage)
            for a in self.agents
        ]
        # RSL documents the agents' robots.txt groups point to, parsed once (decide() parses
        # them per call): only their per-path evaluation varies between URLs.
        self._rsl_docs: list[list[Any]] = []
        fetched = site.rsl_documents if site is not None else {}
        for view in self._views:
            docs = []
            for u in view.rsl_urls if view is not None else ():
                f = fetched.get(u)
                if f is not None and f.ok:
                    doc = rsl.parse_rsl(f.body)
                    if doc.ok:
                        docs.append(doc)
            self._rsl_docs.append(docs)
        # Agents whose selection can vary only through the robots.txt rule and the TDMRep
        # rule (no training-agent proxy, Content-Usage, RSL or ai.txt): index_one keys them by
        # the identity of those two matches alone, without building the full key.
        self._tdm_varies = site is not None and site.tdmrep is not None and site.tdmrep.ok
        self._fast = [
            not self._proxy[k] and not self._cu[k] and not self._rsl_docs[k] and self._ai[k] is None
            for k in range(len(self.agents))
        ]
        self._fast_keys: list[dict[Any, int]] = [{} for _ in self.agents]

    def _selection(self, k: int, agent: str, path: str) -> tuple[tuple, list[Any]]:
        """Everything a page-less decision for ``agent`` reads from ``path``, as a flat key,
        plus the objects the key names by identity."""
        site = self.site
        if site is None:
            return (k,), []
        purpose = self.purpose
        objs: list[Any] = []
        rob: Any = 0
        proxy: Any = 0
        cu: tuple = ()
        rm = self._rm[k]
        if rm is not None:
            if path == "/robots.txt":
                rob = -1
            else:
                m = rm(path)
                rob = id(m)
                objs.append(m)
                for _token, pmatch in self._proxy[k]:
                    pm = pmatch(path)
                    if not pm.allowed and pm.rule is not None and "*" not in pm.group_agents:
                        proxy = id(pm)
                        objs.append(pm)
                        break
                if self._cu[k] and (m.allowed or m.rule is None):
                    cu = site.robots.content_usage(agent, path)  # type: ignore[union-attr]
                    if site.robots.has_global_usage:  # type: ignore[union-attr]
                        cu += site.robots.global_content_usage(path)  # type: ignore[union-attr]
        tdm: Any = 0
        tfile = site.tdmrep
        if tfile is not None and tfile.ok:
            tm = tfile.match(path, strict=self.mode == "strict")
            if tm.rule is not None:
                tdm = (id(tm.rule), tm.shadowed, id(tm.longest))
                objs += (tm.rule, tm.longest)
        rs: Any = 0
        if self._rsl_docs[k]:
            rs = tuple(
                (r.status, r.raw) for r in (d.evaluate(path, purpose) for d in self._rsl_docs[k])
            )
        ai: Any = 0
        am_match = self._ai[k]
        if am_match is not None:
            am = am_match(path)
            ai = id(am)
            objs.append(am)
        return (k, rob, proxy, cu, tdm, rs, ai), objs

    def index(self, url: ParsedURL) -> list[int]:
        """Template positions for ``url``, one per agent, deciding new selections on the way."""
        return self.index_path(url.path_query, url)

    def index_path(self, path: str, url: ParsedURL | Callable[[], ParsedURL]) -> list[int]:
        """:meth:`index` for a normalised ``path``; ``url`` (or a callable making it) is only
        needed when a selection is new, so the caller can skip building it otherwise."""
        return [self.index_one(k, path, url) for k in range(len(self.agents))]

    def index_one(self, k: int, path: str, url: ParsedURL | Callable[[], ParsedURL]) -> int:
        """The template position for ``self.agents[k]`` alone: ``index_path(...)[k]``.

        The audit's hot path for one agent. Where only the robots.txt and TDMRep rules can
        vary, a pair of rules already seen costs their matches and one dict lookup.
        """
        if not self._fast[k] or path == "/robots.txt" or self.site is None:
            return self._index_agent(k, self.agents[k], path, url)
        rm = self._rm[k]
        rob = 0 if rm is None else id(rm(path))
        tdm: Any = 0
        if self._tdm_varies:
            tm = self.site.tdmrep.match(path, strict=self.mode == "strict")  # type: ignore[union-attr]
            if tm.rule is not None:
                tdm = (id(tm.rule), tm.shadowed, id(tm.longest))
        fast_keys = self._fast_keys[k]
        i = fast_keys.get((rob, tdm))
        if i is None:
            # _selection derives the same ids from the same objects and pins them with the
            # template, so no id here can be recycled while it is a key.
            i = fast_keys[(rob, tdm)] = self._index_agent(k, self.agents[k], path, url)
        return i

    def _index_agent(
        self, k: int, agent: str, path: str, url: ParsedURL | Callable[[], ParsedURL]
    ) -> int:
        key, objs = self._selection(k, agent, path)
        i = self._keys.get(key)
        if i is None:
            parsed = url if isinstance(url, ParsedURL) else url()
            i = self._keys[key] = len(self.templates)
            self._pinned.append(objs)
            self.templates.append(
                decide(
                    parsed,
                    [agent],
                    self.site,
                    purpose=self.purpose,
                    mode=self.mode,
                    training_tokens=self.training_arg,
                )[0]
            )
        return i

    def decisions(self, url: ParsedURL) -> list[Decision]:
        """What ``decide(url, agents, site)`` returns, from the templates."""
        return [
            d if d.url == url.url else replace(d, url=url.url)
            for d in (self.templates[i] for i in self.index(url))
        ]
