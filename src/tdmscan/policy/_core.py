"""What every policy rule shares: the evidence collector, the per-decision context, the
spec versions named in evidence, and the purpose groups."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from ..signals.catalogue import load_catalogue
from ..signals.matching import product_token
from ..signals.registry import load_registry
from ..signals.robots import RobotsRule
from ..types import Evidence, RobotsOutcome
from ..urls import strip_credentials

if TYPE_CHECKING:
    from ..signals.c2pa import C2paResult
    from ..urls import ParsedURL
    from .page import PageSignals
    from .site import AgentView, SiteSignals

#: Spec version of each protocol, from the protocol registry (signals/data/protocols.toml):
#: every Evidence row carries its protocol's entry id and version.
SPEC: dict[str, str] = load_registry().versions()

#: Protocols that speak of AI training / mining at large, not of search indexing.
TRAINING_PURPOSES = frozenset({"train-ai", "tdm", "ai-input"})
IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg", ".bmp", ".tif", ".tiff")


@lru_cache(maxsize=1)
def default_training_tokens() -> frozenset[str]:
    return frozenset(product_token(t) for t in load_catalogue().training_tokens())


def _clean(url: str | None) -> str | None:
    # A page URL as the caller gave it may carry user:pass@; evidence must not.
    return strip_credentials(url) if url and "@" in url else url


class Collector:
    """Accumulates evidence, decisive reservation codes and errors for one decision."""

    __slots__ = ("errors", "evidence", "licences", "mode", "reasons")

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.reasons: list[str] = []
        self.errors: list[str] = []
        self.evidence: list[Evidence] = []
        self.licences: list[str] = []

    def reserve(
        self,
        reason: str,
        protocol: str,
        locator: str,
        raw: str,
        *,
        strength: str = "explicit",
        source_url: str | None = None,
        sha256: str | None = None,
    ) -> None:
        decisive = strength == "explicit" or self.mode == "conservative"
        if decisive and reason not in self.reasons:
            self.reasons.append(reason)
        self.evidence.append(
            Evidence(
                protocol,
                locator,
                raw,
                "reserved",
                reason,
                SPEC.get(protocol),
                _clean(source_url),
                sha256,
                strength,
                decisive,
            )
        )

    def note(
        self,
        protocol: str,
        locator: str,
        raw: str,
        interpretation: str = "info",
        *,
        reason: str | None = None,
        strength: str = "info",
        source_url: str | None = None,
        sha256: str | None = None,
    ) -> None:
        self.evidence.append(
            Evidence(
                protocol,
                locator,
                raw,
                interpretation,
                reason,
                SPEC.get(protocol),
                _clean(source_url),
                sha256,
                strength,
                False,
            )
        )

    def error(
        self, reason: str, protocol: str, locator: str, raw: str, source_url: str | None = None
    ) -> None:
        if reason not in self.errors:
            self.errors.append(reason)
        self.evidence.append(
            Evidence(
                protocol,
                locator,
                raw,
                "unknown",
                reason,
                SPEC.get(protocol),
                _clean(source_url),
                None,
                "explicit",
                True,
            )
        )

    def add_licence(self, lic: str) -> None:
        if lic not in self.licences:
            self.licences.append(lic)


def rule_text(rule: RobotsRule) -> str:
    return f"{rule.kind.capitalize()}: {rule.pattern}"


class Context:
    """Everything one rule may read for one (url, agent) decision, plus what earlier rules
    hand to later ones (the robots.txt outcome, the TDMRep layering result).

    A rule is ``rule(c: Collector, ctx: Context) -> None``; :data:`tdmscan.policy.decide.RULES`
    lists them in the order their evidence appears.
    """

    __slots__ = (
        "agent",
        "c2pa",
        "mode",
        "page",
        "parsed",
        "path",
        "purpose",
        "referrer",
        "robots",
        "site",
        "tdm",
        "view",
    )

    def __init__(
        self,
        parsed: ParsedURL,
        agent: str,
        purpose: str,
        mode: str,
        site: SiteSignals | None,
        page: PageSignals | None,
        referrer: PageSignals | None,
        view: AgentView | None,
        c2pa: C2paResult | None,
    ) -> None:
        self.parsed = parsed
        self.path = parsed.path_query
        self.agent = agent
        self.purpose = purpose
        self.mode = mode
        self.site = site
        self.page = page
        self.referrer = referrer
        self.view = view
        self.c2pa = c2pa
        #: Set by the robots rule.
        self.robots: RobotsOutcome | None = None
        #: Set by the TDMRep rule: (reservation, source, policy URL, tdmrep.json sha256).
        self.tdm: tuple[int | None, str | None, str | None, str | None] = (None, None, None, None)
