"""Core value types shared by every layer: what came off the wire, and what was decided.

These are the contract between the parsers, the policy, the fetch layer, the scanner and the
ledger. They are frozen so a decision can be handed between tasks and threads without copies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Verdict = Literal["allowed", "reserved", "unknown", "invalid"]
VERDICTS: tuple[str, ...] = ("allowed", "reserved", "unknown", "invalid")

Mode = Literal["conservative", "strict"]
MODES: tuple[str, ...] = ("conservative", "strict")

#: Purposes tdmscan can decide for. ``train-ai`` is the default everywhere.
PURPOSES: tuple[str, ...] = ("train-ai", "ai-input", "search", "tdm")

#: How RFC 9309 section 2.3.1 was applied to the robots.txt fetch behind a decision.
RobotsBranch = Literal[
    "parsed",  # 2xx: rules parsed and applied
    "4xx-allow",  # 4xx (not 429): "unavailable", everything allowed
    "redirect-limit",  # more than the allowed redirects: treated as unavailable
    "unreachable",  # 5xx, 429, network failure: complete disallow -> verdict unknown
    "stale-copy",  # unreachable now, an earlier copy within the stale limit was used
    "absent",  # no robots.txt given to the evaluation at all
]

HeaderList = tuple[tuple[str, str], ...]


def _norm_headers(headers: Any) -> HeaderList:
    if not headers:
        return ()
    if isinstance(headers, Mapping):
        items: Iterable[Any] = headers.items()
    elif hasattr(headers, "multi_items"):  # httpx.Headers keeps repeated fields apart
        items = headers.multi_items()
    else:
        items = headers
    out = []
    for item in items:
        try:
            k, v = item
        except (TypeError, ValueError):
            continue
        if isinstance(k, bytes):
            k = k.decode("latin-1")
        if isinstance(v, bytes):
            v = v.decode("latin-1")
        out.append((str(k), str(v)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A response as seen on the wire (or its absence).

    ``status`` is None when no HTTP response arrived; ``error`` then names why
    (``timeout``, ``dns``, ``connect``, ``tls``, ``reset``, ``refused-address``,
    ``too-many-redirects``, ``too-large`` ...). ``headers`` keeps repeated fields as separate
    pairs, in wire order. ``stale`` marks an earlier copy served because the fresh fetch was
    unreachable (RFC 9309 section 2.4).
    """

    status: int | None = None
    headers: HeaderList = ()
    body: bytes = b""
    error: str | None = None
    url: str | None = None
    final_url: str | None = None
    redirects: tuple[str, ...] = ()
    fetched_at: datetime | None = None
    elapsed: float | None = None
    truncated: bool = False
    stale: bool = False
    sha256: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", _norm_headers(self.headers))
        body = self.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
        elif not isinstance(body, bytes):
            body = bytes(body)
        object.__setattr__(self, "body", body)
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(body).hexdigest())
        if self.redirects and not isinstance(self.redirects, tuple):
            object.__setattr__(self, "redirects", tuple(self.redirects))

    def header_values(self, name: str) -> list[str]:
        """Every value of a field, case-insensitively, in wire order."""
        lname = name.lower()
        return [v for k, v in self.headers if k.lower() == lname]

    def header(self, name: str) -> str | None:
        """The field's lines joined with ", " (RFC 9110 section 5.3), or None when absent."""
        vals = self.header_values(name)
        return ", ".join(vals) if vals else None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and self.error is None

    @property
    def unreachable(self) -> bool:
        """RFC 9309 "unreachable": server error, 429, or no usable response at all."""
        if self.error in ("too-many-redirects", "redirect-loop"):
            return False
        if self.status is None or self.error is not None:
            return True
        return self.status == 429 or self.status >= 500

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")


def as_fetched(value: bytes | str | Fetched | None, url: str | None = None) -> Fetched | None:
    """Accept the public API's ``bytes | Fetched | None`` forms; bytes mean a 200 response."""
    if value is None or isinstance(value, Fetched):
        return value
    if isinstance(value, str):
        value = value.encode("utf-8")
    return Fetched(status=200, body=bytes(value), url=url)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation a decision rests on (or was checked and found silent).

    ``protocol``: robots, tdmrep, aipref, content-signal, rsl, ai-txt, robots-meta,
    robots-header, licence, ... ``locator``: where in the source it sits (``robots.txt line 12``,
    ``header X-Robots-Tag``, ``meta name=robots``, ``tdmrep.json [0]``). ``interpretation``:
    reserved | allowed | unknown | info. ``strength``: explicit | inferred | licence | info.
    """

    protocol: str
    locator: str
    raw: str
    interpretation: str
    reason: str | None = None
    spec_version: str | None = None
    source_url: str | None = None
    sha256: str | None = None
    strength: str = "explicit"
    decisive: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class RobotsOutcome:
    """Which robots.txt copy a decision used, which RFC branch applied, and which rule matched."""

    branch: str
    status: int | None = None
    url: str | None = None
    sha256: str | None = None
    fetched_at: datetime | None = None
    verdict: str = "no-rule"  # allow | disallow | no-rule
    matched_line: int | None = None
    matched_rule: str | None = None  # as written, e.g. "Disallow: /private/"
    group: str | None = None  # the user-agent value(s) of the group that applied
    truncated: bool = False
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one (url, agent, purpose), with the evidence it rests on."""

    url: str
    agent: str
    verdict: str
    reasons: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    purpose: str = "train-ai"
    mode: str = "conservative"
    tdm_policy: str | None = None
    licences: tuple[str, ...] = ()
    robots: RobotsOutcome | None = None
    tdm_reservation: int | None = None
    tdm_source: str | None = None  # file | header | meta | None
    tdmrep_sha256: str | None = None
    final_url: str | None = None
    errors: tuple[str, ...] = ()
    #: True when the resource's own response (headers and ``<head>``, or embedded metadata)
    #: was read. False means the verdict rests on site-level files alone: a page-level
    #: ``noai`` meta tag or ``X-Robots-Tag`` could still reserve it.
    page_checked: bool = False

    @property
    def ingest(self) -> bool:
        """True only for ``allowed``: unknown means retry later, never ingest."""
        return self.verdict == "allowed"

    @property
    def decisive_evidence(self) -> tuple[Evidence, ...]:
        return tuple(e for e in self.evidence if e.decisive)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "final_url": self.final_url,
            "agent": self.agent,
            "purpose": self.purpose,
            "mode": self.mode,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "tdm_policy": self.tdm_policy,
            "tdm_reservation": self.tdm_reservation,
            "tdm_source": self.tdm_source,
            "licences": list(self.licences),
            "errors": list(self.errors),
            "page_checked": self.page_checked,
            "robots": self.robots.to_dict() if self.robots else None,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class SiteFiles:
    """The three origin-level files as fetched once per origin (any may be None: not fetched).

    ``terms`` is the origin's terms-of-use page when it was looked for (``Scanner(terms=True)``):
    its natural-language reservations are inferred evidence (:mod:`tdmscan.signals.tos`).
    """

    origin: str
    robots: Fetched | None = None
    tdmrep: Fetched | None = None
    ai_txt: Fetched | None = None
    fetched_at: datetime | None = None
    terms: Fetched | None = None
