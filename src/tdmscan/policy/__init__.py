"""Combine parsed signals into a Decision for (url, agent, purpose).

* each protocol first applies its own precedence (TDMRep layering, aipref most-restrictive,
  RSL most-specific content, RFC 9309 longest match);
* across protocols any reservation wins and an explicit allow never cancels another
  protocol's reservation;
* a failed required check (robots.txt unreachable, page unreachable) gives ``unknown`` unless
  something already reserved;
* ``conservative`` (default) also decides on inferred reservations (a robots.txt group naming
  a catalogued training agent, legacy aipref labels, ``noarchive``, ``noimageai`` on a page,
  an RSL document that cannot be obtained); ``strict`` records them as evidence only.

``parse_site`` runs once per origin; ``decide`` runs per URL and must stay cheap, so anything
that depends only on (origin, agent) is computed once and memoised on the SiteSignals.

Layout: one module per protocol rule (``robots``, ``tdmrep``, ``aipref``, ``content_signal``,
``rsl``, ``aitxt``, ``robots_meta``, ``inherited``, ``embedded``, ``licences``, ``access``),
each exposing ``apply(collector, context)``; :mod:`.decide` runs them in the order of
:data:`~tdmscan.policy.decide.RULES`; :mod:`.memo` holds :class:`SiteDecider`.
"""

from __future__ import annotations

from ._core import SPEC, Collector, Context
from .decide import RULES, decide, evaluate
from .memo import SiteDecider
from .page import PageSignals, parse_page
from .site import AgentView, SiteSignals, parse_site, robots_branch

__all__ = [
    "RULES",
    "SPEC",
    "AgentView",
    "Collector",
    "Context",
    "PageSignals",
    "SiteDecider",
    "SiteSignals",
    "decide",
    "evaluate",
    "parse_page",
    "parse_site",
    "robots_branch",
]
