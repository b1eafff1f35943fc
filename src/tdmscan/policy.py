"""Combine parsed signals into a Decision for (url, agent, purpose).

The rules (DESIGN.md "Verdicts", SIGNALS.md section 10):

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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from .signals import (
    aipref,
    c2pa,
    contentsignal,
    embedded,
    epub,
    headers,
    html,
    licences,
    rsl,
    tdmrep,
)
from .signals.aitxt import AiTxt, parse_ai_txt
from .signals.catalogue import load_catalogue
from .signals.matching import product_token
from .signals.robots import RobotsRule, RobotsTxt, parse_robots
from .types import (
    MODES,
    PURPOSES,
    Decision,
    Evidence,
    Fetched,
    RobotsOutcome,
    SiteFiles,
    as_fetched,
)
from .urls import InvalidURL, ParsedURL, parse_url

SPEC = {
    "robots": "RFC 9309",
    "tdmrep": "TDMRep CG-FINAL-20240510",
    "aipref": "draft-ietf-aipref-vocab-07/attach-05",
    "content-signal": "contentsignals.org (unversioned)",
    "rsl": "RSL 1.0",
    "ai-txt": "Spawning ai.txt (unversioned)",
    "robots-meta": "noai convention (DeviantArt 2022)",
    "robots-header": "X-Robots-Tag / draft-illyes-repext-00",
    "licence": "SPDX license list 2026-07-16",
    "iptc": "IPTC Photo Metadata 2023.1 / Video Metadata Hub 1.5 (plus:DataMining)",
    "c2pa": "CAWG training-and-data-mining 1.1 / C2PA 1.x",
}

#: Label of each purpose in each vocabulary (None: the vocabulary cannot speak to it).
_AIPREF_LABEL = {"train-ai": "train-ai", "search": "search", "ai-input": None, "tdm": None}
_CSIGNAL_KEY = {"train-ai": "ai-train", "search": "search", "ai-input": "ai-input", "tdm": None}
#: Protocols that speak of AI training / mining at large, not of search indexing.
_TRAINING_PURPOSES = frozenset({"train-ai", "tdm", "ai-input"})
_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg", ".bmp", ".tif", ".tiff")


# --------------------------------------------------------------------------- site level


@dataclass(frozen=True, slots=True)
class _AgentView:
    proxy_tokens: tuple[str, ...]  # catalogued training agents with a group of their own
    content_signals: tuple  # Content-Signal records of the agent's group
    rsl_urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SiteSignals:
    """Origin-level files, parsed once per origin and shared by every URL and agent."""

    files: SiteFiles
    robots: RobotsTxt | None = None
    robots_branch: str = "absent"
    tdmrep: tdmrep.TdmRepFile | None = None
    ai_txt: AiTxt | None = None
    rsl_documents: Mapping[str, Fetched] = field(default_factory=dict)
    _agent_memo: dict = field(default_factory=dict, compare=False, repr=False)

    def crawl_delay(self, agent: str) -> float | None:
        return self.robots.crawl_delay(agent) if self.robots is not None else None

    def agent_view(self, agent: str, training: frozenset[str]) -> _AgentView:
        """What this origin says to ``agent`` regardless of the URL, computed once per agent."""
        key = (agent, training)
        view = self._agent_memo.get(key)
        if view is None:
            robots = self.robots
            own = product_token(agent)
            if robots is None:
                view = _AgentView((), (), ())
            else:
                view = _AgentView(
                    proxy_tokens=tuple(
                        t for t in sorted(robots.named_agents & training) if t != own
                    ),
                    content_signals=robots.group_records(agent, "content-signal"),
                    rsl_urls=self.rsl_urls(agent),
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
    if f.error == "too-many-redirects":
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


def parse_site(files: SiteFiles, rsl_documents: Mapping[str, Fetched] | None = None) -> SiteSignals:
    branch = robots_branch(files.robots)
    robots = parse_robots(files.robots.body) if branch in ("parsed", "stale-copy") else None
    tdm = None
    if files.tdmrep is not None and files.tdmrep.ok:
        tdm = tdmrep.parse_tdmrep_json(files.tdmrep.body)
    ai = None
    if files.ai_txt is not None and files.ai_txt.ok:
        ai = parse_ai_txt(files.ai_txt.body)
    return SiteSignals(files, robots, branch, tdm, ai, dict(rsl_documents or {}))


# --------------------------------------------------------------------------- page level


@dataclass(frozen=True, slots=True)
class PageSignals:
    fetched: Fetched
    robots_header: headers.RobotsDirectives
    head: html.HtmlHead | None
    tdm_header: tdmrep.TdmValue
    usage_header: aipref.UsagePrefs | None
    link_licences: tuple[headers.LinkLicence, ...]
    content_signal_header: str | None
    is_image: bool
    is_html: bool
    #: XMP packets of a non-HTML body (IPTC DataMining, licences, TDMRep in XMP).
    embedded: embedded.EmbeddedMetadata | None = None
    #: TDMRep in an EPUB package document.
    epub: epub.EpubTdm | None = None
    #: A C2PA manifest store passed in explicitly (no JUMBF parsing here).
    c2pa: c2pa.C2paResult | None = None


def _looks_html(f: Fetched) -> bool:
    ct = (f.content_type or "").lower()
    if "html" in ct:
        return True
    if ct and not ct.startswith("text/plain") and "xml" not in ct:
        return False
    return b"<html" in f.body[:2048].lower() or b"<head" in f.body[:2048].lower()


def parse_page(page: Fetched, url: str = "", *, c2pa_manifest: object | None = None) -> PageSignals:
    ct = (page.content_type or "").lower()
    path = url.split("?", 1)[0].lower()
    is_image = ct.startswith("image/") or (not ct and path.endswith(_IMAGE_EXT))
    is_html = not is_image and _looks_html(page)
    usage_lines = page.header_values("content-usage")
    emb = epub_tdm = None
    if not is_html and page.body:
        # Media, PDF, EPUB or unknown binary: what the file says about itself.
        emb = embedded.parse_xmp(page.body)
        if epub.looks_like_epub(page.body, ct, path):
            epub_tdm = epub.parse_epub(page.body)
    return PageSignals(
        fetched=page,
        robots_header=headers.parse_robots_tag(page.headers),
        head=html.parse_html_head(page.body) if is_html else None,
        tdm_header=tdmrep.tdm_from_headers(page.headers),
        usage_header=aipref.parse_content_usage(usage_lines) if usage_lines else None,
        link_licences=headers.link_licences(page.headers),
        content_signal_header=page.header("content-signal"),
        is_image=is_image,
        is_html=is_html,
        embedded=emb,
        epub=epub_tdm,
        c2pa=c2pa.parse_manifest_store(c2pa_manifest) if c2pa_manifest is not None else None,
    )


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=4096)
def _usage(value: str) -> aipref.UsagePrefs:
    return aipref.parse_content_usage(value)


@lru_cache(maxsize=4096)
def _csignal(value: str) -> contentsignal.ContentSignal:
    return contentsignal.parse_content_signal(value)


@lru_cache(maxsize=1)
def _default_training_tokens() -> frozenset[str]:
    return frozenset(product_token(t) for t in load_catalogue().training_tokens())


class _Collector:
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
                source_url,
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
                source_url,
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
                source_url,
                None,
                "explicit",
                True,
            )
        )

    def add_licence(self, lic: str) -> None:
        if lic not in self.licences:
            self.licences.append(lic)


def _rule_text(rule: RobotsRule) -> str:
    return f"{rule.kind.capitalize()}: {rule.pattern}"


# --------------------------------------------------------------------------- per protocol


def _robots(
    c: _Collector,
    site: SiteSignals | None,
    agent: str,
    path: str,
    purpose: str,
    view: _AgentView | None,
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
            "robots:unreachable",
            "robots",
            "robots.txt",
            f"status {f.status}" if f and f.status else (f.error or "error") if f else "error",
            url,
        )
        return RobotsOutcome(branch=branch, verdict="no-rule", **base)
    if branch == "redirect-limit":
        c.note(
            "robots",
            "robots.txt",
            f"more than {len(f.redirects) if f else 5} redirects",
            reason="robots:redirect-limit",
            source_url=url,
        )
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
            _rule_text(m.rule),
            source_url=url,
            sha256=sha,
        )
    if purpose in _TRAINING_PURPOSES and view is not None:
        # Only groups that name a training agent explicitly express intent about training;
        # the "*" group is about crawling in general.
        for token in view.proxy_tokens:
            pm = robots.match(token, path)
            if not pm.allowed and pm.rule is not None and "*" not in pm.group_agents:
                c.reserve(
                    "robots:training-agent-disallow",
                    "robots",
                    f"robots.txt line {pm.rule.line} (group {token})",
                    _rule_text(pm.rule),
                    strength="inferred",
                    source_url=url,
                    sha256=sha,
                )
                break
    return RobotsOutcome(
        branch=branch,
        verdict="no-rule" if m.rule is None else ("allow" if m.allowed else "disallow"),
        matched_line=m.rule.line if m.rule else None,
        matched_rule=_rule_text(m.rule) if m.rule else None,
        group=",".join(m.group_agents) or None,
        truncated=robots.truncated,
        **base,
    )


def _aipref(
    c: _Collector,
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
        non_standard = loc.startswith("meta")
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
        if purpose in _TRAINING_PURPOSES:
            for legacy in sorted(aipref.LEGACY_TRAINING_LABELS):
                if prefs.get(legacy) == "n":
                    c.reserve(
                        f"aipref:{legacy}=n",
                        "aipref",
                        loc,
                        prefs.raw,
                        strength="inferred",
                        source_url=src,
                        sha256=sha,
                    )


def _content_signal(
    c: _Collector,
    site: SiteSignals | None,
    page: PageSignals | None,
    view: _AgentView | None,
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
    if page is not None:
        # Not part of the published policy (SIGNALS 4.2): evidence, decisive only when
        # conservative.
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


def _tdmrep(
    c: _Collector, site: SiteSignals | None, page: PageSignals | None, path: str, purpose: str
) -> tuple[int | None, str | None, str | None, str | None]:
    # Strict mode reads the spec literally: lenient forms ("1" as a string, ".*" locations,
    # conflicting header values) count as unset.
    strict = c.mode == "strict"
    file_value = None
    sha = None
    src = site.files.tdmrep.url if site and site.files.tdmrep else None
    if site is not None and site.tdmrep is not None and site.tdmrep.ok:
        sha = site.files.tdmrep.sha256 if site.files.tdmrep else None
        m = site.tdmrep.match(path, strict=strict)
        file_value = m.value
        if m.shadowed and m.rule is not None and m.longest is not None:
            # The spec says first match; a robots-style longest match would differ here.
            c.note(
                "tdmrep",
                f"/.well-known/tdmrep.json [{m.rule.index}]",
                f"first match {m.rule.location!r} shadows longer rule "
                f"[{m.longest.index}] {m.longest.location!r}",
                reason="tdmrep:first-match-shadows-longer",
                source_url=src,
                sha256=sha,
            )
    header_value = page.tdm_header if page is not None else None
    meta_value = page.head.tdm if page is not None and page.head is not None else None
    embedded_value, embedded_loc = _embedded_tdm(page)
    if (
        file_value is None
        and header_value is None
        and meta_value is None
        and embedded_value is None
    ):
        return None, None, None, None
    res = tdmrep.layer(file_value, header_value, meta_value, embedded=embedded_value, strict=strict)
    # Two header lines that disagree ("1, 0") are a protocol error: unset in strict mode, but
    # the rightsholder did say "1" somewhere, so conservative mode honours it.
    conflicting = [
        v
        for v in (header_value, meta_value)
        if v is not None and {"0", "1"} <= {s.strip() for s in v.values}
    ]
    locator = {
        "file": "/.well-known/tdmrep.json",
        "header": "header tdm-reservation",
        "meta": "meta name=tdm-reservation",
        "embedded": embedded_loc,
    }.get(res.source or "", "tdmrep")
    applies = purpose in _TRAINING_PURPOSES
    if res.reservation == 1 and applies:
        c.reserve(
            "tdmrep:reserved",
            "tdmrep",
            locator,
            "tdm-reservation: 1",
            source_url=src if res.source == "file" else (page.fetched.url if page else None),
            sha256=sha if res.source == "file" else None,
        )
    elif res.reservation == 0:
        c.note(
            "tdmrep",
            locator,
            "tdm-reservation: 0",
            "allowed",
            reason="tdmrep:not-reserved",
            strength="explicit",
        )
    if conflicting and res.reservation != 1 and applies:
        c.reserve(
            "tdmrep:reserved",
            "tdmrep",
            "header tdm-reservation (conflicting values)",
            ", ".join(conflicting[0].values),
            strength="inferred",
        )
    return res.reservation, res.source, res.policy, sha


def _embedded_tdm(page: PageSignals | None) -> tuple[tdmrep.TdmValue | None, str]:
    """TDMRep technique D (SIGNALS 2.6): EPUB OPF meta, else the XMP packet."""
    if page is None:
        return None, "embedded"
    if page.epub is not None and page.epub.tdm is not None:
        return page.epub.tdm, f"EPUB OPF {page.epub.opf_path} meta tdm:reservation"
    if page.embedded is not None and page.embedded.tdm is not None:
        return page.embedded.tdm, "XMP tdm:reservation"
    return None, "embedded"


def _rsl(
    c: _Collector,
    site: SiteSignals | None,
    page: PageSignals | None,
    view: _AgentView | None,
    path: str,
    purpose: str,
) -> None:
    docs: list[tuple[rsl.RslDocument, str, str | None]] = []
    pointers: list[tuple[str, str]] = []
    if view is not None:
        for u in view.rsl_urls:
            pointers.append((u, "robots.txt License"))
    if page is not None:
        for ll in page.link_licences:
            if ll.rsl:
                pointers.append((ll.url, "header Link rel=license"))
        if page.head is not None:
            for ll in page.head.licences:
                if ll.rsl:
                    pointers.append((ll.url, "html link rel=license"))
            for i, script in enumerate(page.head.rsl_scripts):
                docs.append((rsl.parse_rsl(script), f"html script[{i}] application/rsl+xml", None))
    fetched_docs = site.rsl_documents if site is not None else {}
    for u, loc in pointers:
        f = fetched_docs.get(u)
        if f is None:
            c.note("rsl", loc, u, reason="rsl:not-fetched", source_url=u)
        elif not f.ok:
            c.reserve("rsl:unobtainable", "rsl", loc, u, strength="inferred", source_url=u)
        else:
            docs.append((rsl.parse_rsl(f.body), loc, u))
    for doc, loc, src in docs:
        if not doc.ok:
            c.note(
                "rsl",
                loc,
                "; ".join(doc.problems)[:200],
                "unknown",
                reason="rsl:unparsable",
                source_url=src,
            )
            continue
        r = doc.evaluate(path, purpose)
        if r.status == "prohibited":
            c.reserve("rsl:prohibited", "rsl", loc, r.raw, source_url=src)
        elif r.status in ("licence-required", "permitted-paid"):
            c.reserve(f"rsl:{r.status}", "rsl", loc, r.raw, source_url=src)
        elif r.status.startswith("permitted"):
            c.note(
                "rsl",
                loc,
                r.raw,
                "allowed",
                reason=f"rsl:{r.status}",
                source_url=src,
                strength="explicit",
            )


def _ai_txt(c: _Collector, site: SiteSignals | None, agent: str, path: str, purpose: str) -> None:
    if site is None or site.ai_txt is None or purpose not in _TRAINING_PURPOSES:
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
            _rule_text(m.rule),
            source_url=src,
            sha256=f.sha256 if f else None,
        )
    else:
        c.note(
            "ai-txt",
            f"ai.txt line {m.rule.line}",
            _rule_text(m.rule),
            "allowed",
            reason="ai-txt:allow",
            source_url=src,
            strength="explicit",
        )


def _noai(c: _Collector, page: PageSignals | None, agent: str, purpose: str) -> None:
    if page is None or purpose not in _TRAINING_PURPOSES:
        return
    sources = [("header", page.robots_header, "header X-Robots-Tag")]
    if page.head is not None:
        sources.append(("meta", page.head.robots, "meta name=robots"))
    for kind, directives, loc in sources:
        d = directives.for_agent(agent)
        if not d:
            continue
        raw = ", ".join(sorted(d))
        src = page.fetched.url
        if "noai" in d:
            c.reserve(f"{kind}:noai", "robots-" + kind, loc, raw, source_url=src)
        if "noimageai" in d:
            # On an image the directive is explicit; on an HTML page it speaks for the images
            # of the page, which the page's own text may well be about.
            c.reserve(
                f"{kind}:noimageai",
                "robots-" + kind,
                loc,
                raw,
                strength="explicit" if page.is_image else "inferred",
                source_url=src,
            )
        if "noarchive" in d:
            c.reserve(
                f"{kind}:noarchive", "robots-" + kind, loc, raw, strength="inferred", source_url=src
            )
    if page.head is not None and page.head.ignored_body_meta:
        c.note(
            "robots-meta",
            "body",
            "; ".join(page.head.ignored_body_meta)[:300],
            reason="meta:in-body-ignored",
        )


def _iptc(c: _Collector, page: PageSignals | None, purpose: str) -> None:
    """IPTC / PLUS ``plus:DataMining`` in the body's XMP (SIGNALS 8.4, 10.3)."""
    if page is None or page.embedded is None:
        return
    emb = page.embedded
    src = page.fetched.url
    loc = "XMP plus:DataMining"
    for raw in emb.data_mining_raw:
        code = embedded.dmi_code(raw)
        if code is None:
            continue
        how = embedded.dmi_applies(code, purpose)
        if how in ("explicit", "inferred"):
            c.reserve("iptc:dmi-prohibited", "iptc", loc, raw, strength=how, source_url=src)
        elif how == "allowed":
            c.note(
                "iptc",
                loc,
                raw,
                "allowed",
                reason="iptc:dmi-allowed",
                strength="explicit",
                source_url=src,
            )
        else:
            c.note("iptc", loc, raw, reason=f"iptc:{code}", source_url=src)
    for text in emb.other_constraints:
        c.note("iptc", "XMP plus:OtherConstraints", text[:300], reason="iptc:other-constraints")
    for problem in emb.problems:
        c.note("iptc", "XMP", problem[:300], "unknown", reason="xmp:problem", source_url=src)
    if page.epub is not None and page.epub.problems:
        c.note(
            "tdmrep",
            f"EPUB {page.epub.opf_path or 'package'}",
            "; ".join(page.epub.problems)[:300],
            "unknown",
            reason="epub:problem",
            source_url=src,
        )


def _c2pa(c: _Collector, res: c2pa.C2paResult | None, src: str | None, purpose: str) -> None:
    """CAWG / C2PA training-and-data-mining assertion of the active manifest (SIGNALS 8.5)."""
    if res is None:
        return
    if not res.ok:
        c.note(
            "c2pa",
            "C2PA manifest store",
            "; ".join(res.problems)[:300],
            "unknown",
            reason="c2pa:unparsable",
            source_url=src,
        )
        return
    sig = f"signature {res.signature}" + (f", issuer {res.issuer}" if res.issuer else "")
    for a, e in res.entries_for(purpose):
        loc = f"C2PA manifest {a.manifest} assertion {a.label} {e.key}"
        raw = f"{e.key}: use={e.raw_use}"
        if e.constraint_info:
            raw += f", constraint_info={e.constraint_info}"
        raw += f" ({sig})"
        if e.not_allowed:
            c.reserve("c2pa:not-allowed", "c2pa", loc, raw, source_url=src)
        elif e.use == "allowed":
            c.note("c2pa", loc, raw, "allowed", reason="c2pa:allowed", strength="explicit")
        else:
            c.note("c2pa", loc, raw, "unknown", reason="c2pa:unrecognised-use", source_url=src)
    if res.active and res.signature in ("untrusted", "invalid"):
        c.note(
            "c2pa",
            f"C2PA manifest {res.active_manifest} signature",
            ", ".join(res.validation_codes)[:300] or res.signature,
            "unknown",
            reason=f"c2pa:signature-{res.signature}",
            source_url=src,
        )
    for a in res.ingredients:
        entries = ", ".join(f"{e.key}={e.raw_use}" for e in a.entries)[:300]
        c.note(
            "c2pa",
            f"C2PA ingredient manifest {a.manifest} assertion {a.label}",
            ("ingredient-only: " if res.ingredient_only else "ingredient: ") + entries,
            reason="c2pa:ingredient-only" if res.ingredient_only else "c2pa:ingredient",
            source_url=src,
        )


_MEDIA_PREFIXES = ("image/", "video/", "audio/")


def _inherited(
    c: _Collector,
    referrer: PageSignals | None,
    page: PageSignals | None,
    agent: str,
    path: str,
    purpose: str,
) -> None:
    """SIGNALS 7.5-1: a referring page's noai/noimageai speak for the media it embeds."""
    if referrer is None:
        return
    ref_url = referrer.fetched.final_url or referrer.fetched.url or "(unknown)"
    loc = f"inherited from referring page {ref_url}"
    if page is not None:
        ct = (page.fetched.content_type or "").lower()
        is_image = page.is_image
        is_media = is_image or ct.startswith(_MEDIA_PREFIXES)
    else:
        is_image = is_media = path.split("?", 1)[0].lower().endswith(_IMAGE_EXT)
    if is_media and purpose in _TRAINING_PURPOSES:
        sources = [("header", referrer.robots_header)]
        if referrer.head is not None:
            sources.append(("meta", referrer.head.robots))
        for kind, directives in sources:
            inherited = headers.inherited_media_directives(directives, agent)
            for d in sorted(inherited):
                if d == "noimageai" and not is_image:
                    continue
                c.reserve(
                    f"{kind}:{d}",
                    "robots-" + kind,
                    loc,
                    ", ".join(sorted(directives.for_agent(agent))),
                    strength="inferred",
                    source_url=ref_url,
                )
    # SIGNALS 8.6-2: the page's licence is recorded at the page's scope, not the media's.
    cands = [(ll.url, ll.source) for ll in referrer.link_licences if not ll.rsl]
    if referrer.head is not None:
        cands += [(ll.url, ll.source) for ll in referrer.head.licences if not ll.rsl]
    for url, source in cands:
        lic = licences.licence_from_url(url)
        if lic is not None:
            c.note(
                "licence",
                f"referring page {ref_url}: {source}",
                url,
                reason=f"licence:{lic.spdx}",
                strength="licence",
                source_url=ref_url,
            )


def _licences(c: _Collector, page: PageSignals | None) -> None:
    if page is None:
        return
    candidates: list[tuple[str, str]] = [
        (ll.url, ll.source) for ll in page.link_licences if not ll.rsl
    ]
    if page.embedded is not None:
        candidates += [(u, f"XMP {prop}") for prop, u in page.embedded.licence_urls]
    if page.head is not None:
        candidates += [(ll.url, ll.source) for ll in page.head.licences if not ll.rsl]
        candidates += [
            (j.url, f"json-ld {j.scope}")
            for j in page.head.jsonld_licences
            if getattr(j, "url", None)
        ]
        candidates += [(v, f"dublin core {k}") for k, v in page.head.dc_licences]
    for url, source in candidates:
        lic = licences.licence_from_url(url)
        if lic is None:
            continue
        c.add_licence(lic.spdx)
        c.note(
            "licence",
            source,
            url,
            reason=f"licence:{lic.spdx}",
            strength="licence",
            source_url=page.fetched.url,
        )


# --------------------------------------------------------------------------- entry points


def _invalid(
    url: object, agents: Sequence[str], reason: str, purpose: str, mode: str
) -> list[Decision]:
    return [
        Decision(
            url=str(url),
            agent=a,
            verdict="invalid",
            reasons=(f"url:{reason}",),
            purpose=purpose,
            mode=mode,
        )
        for a in agents
    ]


def decide(
    url: str | ParsedURL,
    agents: Sequence[str],
    site: SiteSignals | None,
    page: Fetched | PageSignals | None = None,
    *,
    purpose: str = "train-ai",
    mode: str = "conservative",
    training_tokens: Iterable[str] | None = None,
    referrer: Fetched | PageSignals | None = None,
    c2pa_manifest: object | None = None,
) -> list[Decision]:
    """One decision per agent for a URL, from pre-parsed site signals and an optional page.

    ``site`` None means no origin file was consulted (robots branch ``absent``); ``page`` is
    the resource's own response when known (headers and ``<head>``, or embedded metadata of a
    non-HTML body). ``referrer`` is the HTML page that embedded this media URL (SIGNALS 7.5-1);
    ``c2pa_manifest`` a C2PA manifest store (dict or JSON, as ``c2patool`` prints it).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, not {purpose!r}")
    if isinstance(url, ParsedURL):
        parsed = url
    else:
        try:
            parsed = parse_url(url)
        except InvalidURL as exc:
            return _invalid(url, agents, exc.reason, purpose, mode)
    training = (
        _default_training_tokens()
        if training_tokens is None
        else frozenset(product_token(t) for t in training_tokens)
    )
    if isinstance(page, Fetched):
        page = parse_page(page, parsed.path_query, c2pa_manifest=c2pa_manifest)
    elif page is not None and c2pa_manifest is not None:
        page = replace(page, c2pa=c2pa.parse_manifest_store(c2pa_manifest))
    c2pa_res = page.c2pa if page is not None else None
    if page is None and c2pa_manifest is not None:
        c2pa_res = c2pa.parse_manifest_store(c2pa_manifest)
    if isinstance(referrer, Fetched):
        ref_url = referrer.final_url or referrer.url or ""
        try:
            ref_path = parse_url(ref_url).path_query if ref_url else ""
        except InvalidURL:
            ref_path = ""
        referrer = parse_page(referrer, ref_path)
    path = parsed.path_query
    out: list[Decision] = []
    for agent in agents:
        c = _Collector(mode)
        view = site.agent_view(agent, training) if site is not None else None
        robots = _robots(c, site, agent, path, purpose, view)
        _aipref(c, site, page, agent, path, purpose, robots.verdict != "disallow")
        _content_signal(c, site, page, view, purpose)
        tdm_res, tdm_src, tdm_policy, tdm_sha = _tdmrep(c, site, page, path, purpose)
        _rsl(c, site, page, view, path, purpose)
        _ai_txt(c, site, agent, path, purpose)
        _noai(c, page, agent, purpose)
        _inherited(c, referrer, page, agent, path, purpose)
        _iptc(c, page, purpose)
        _c2pa(c, c2pa_res, page.fetched.url if page is not None else parsed.url, purpose)
        _licences(c, page)
        if page is not None and page.fetched.unreachable:
            c.error(
                "page:unreachable",
                "page",
                "response",
                f"status {page.fetched.status}"
                if page.fetched.status
                else (page.fetched.error or "error"),
                page.fetched.url,
            )
        if c.reasons:
            verdict = "reserved"
        elif c.errors:
            verdict = "unknown"
        else:
            verdict = "allowed"
        out.append(
            Decision(
                url=parsed.url,
                agent=agent,
                verdict=verdict,
                reasons=tuple(c.reasons + c.errors),
                evidence=tuple(c.evidence),
                purpose=purpose,
                mode=mode,
                tdm_policy=tdm_policy if tdm_res == 1 else None,
                licences=tuple(c.licences),
                robots=robots,
                tdm_reservation=tdm_res,
                tdm_source=tdm_src,
                tdmrep_sha256=tdm_sha,
                final_url=page.fetched.final_url if page is not None else None,
                errors=tuple(c.errors),
            )
        )
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
    rsl_documents: Mapping[str, bytes | Fetched] | None = None,
    training_tokens: Iterable[str] | None = None,
    c2pa_manifest: Mapping | bytes | str | None = None,
    referrer: Fetched | None = None,
) -> Decision:
    """The whole decision from raw inputs, no network (DESIGN.md, public API).

    ``robots_txt``/``tdmrep_json``/``ai_txt`` accept bytes (a 200 response), a
    :class:`Fetched` (any status or error) or None (not consulted). ``rsl_documents`` maps RSL
    licence URLs (from ``License:`` lines or links) to their fetched bodies.
    ``c2pa_manifest`` is a C2PA manifest store (dict or JSON bytes, ``c2patool`` form) for the
    resource; ``referrer`` the HTML page that embedded this media URL (its ``noai`` /
    ``noimageai`` carry over as inferred reservations, SIGNALS 7.5-1).
    """
    try:
        origin = parse_url(url).origin
    except (InvalidURL, TypeError):
        origin = ""
    files = SiteFiles(
        origin=origin,
        robots=as_fetched(robots_txt, origin + "/robots.txt"),
        tdmrep=as_fetched(tdmrep_json, origin + "/.well-known/tdmrep.json"),
        ai_txt=as_fetched(ai_txt, origin + "/ai.txt"),
    )
    docs = {u: as_fetched(v, u) for u, v in (rsl_documents or {}).items()}
    site = parse_site(files, {u: f for u, f in docs.items() if f is not None})
    return decide(
        url,
        [agent],
        site,
        response,
        purpose=purpose,
        mode=mode,
        training_tokens=training_tokens,
        referrer=referrer,
        c2pa_manifest=c2pa_manifest,
    )[0]


# --------------------------------------------------------------------------- many URLs, one origin


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
            _default_training_tokens()
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
        training_purpose = purpose in _TRAINING_PURPOSES
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
            robots is not None and bool(robots.group_records(a, "content-usage"))
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
