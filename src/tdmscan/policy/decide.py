"""The one ``decide``: run every protocol rule over the parsed signals, then combine.

Each protocol first applies its own precedence (TDMRep layering, aipref most-restrictive, RSL
most-specific content, RFC 9309 longest match); across protocols any reservation wins and an
explicit allow never cancels another protocol's reservation; a failed required check gives
``unknown`` unless something already reserved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from ..signals import c2pa
from ..signals.exclusions import ExclusionList, default_exclusions
from ..signals.matching import product_token
from ..types import MODES, PURPOSES, Decision, Fetched, SiteFiles, as_fetched
from ..urls import InvalidURL, ParsedURL, parse_url, strip_credentials
from . import (
    access,
    aipref,
    aitxt,
    content_signal,
    embedded,
    inherited,
    licences,
    listed,
    robots,
    robots_meta,
    rsl,
    tdmrep,
    tos,
)
from ._core import Collector, Context, default_training_tokens
from .page import PageSignals, parse_page
from .site import SiteSignals, parse_site

#: The protocol rules, in the order their evidence is listed. A rule reads the parsed signals
#: from the Context and records into the Collector; adding a protocol means adding one here.
#: The robots rule runs first: aipref reads its outcome.
RULES: tuple[Callable[[Collector, Context], None], ...] = (
    listed.apply,
    robots.apply,
    aipref.apply,
    content_signal.apply,
    tdmrep.apply,
    rsl.apply,
    aitxt.apply,
    robots_meta.apply,
    inherited.apply,
    embedded.apply_iptc,
    embedded.apply_c2pa,
    licences.apply,
    tos.apply,
    access.apply,
)


def _invalid(
    url: object, agents: Sequence[str], reason: str, purpose: str, mode: str
) -> list[Decision]:
    return [
        Decision(
            url=strip_credentials(str(url)),
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
    non-HTML body). ``referrer`` is the HTML page that embedded this media URL (its
    noai/noimageai carry over as inferred reservations);
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
        default_training_tokens()
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
    page_checked = page is not None and not page.fetched.unreachable
    out: list[Decision] = []
    for agent in agents:
        c = Collector(mode)
        view = site.agent_view(agent, training) if site is not None else None
        ctx = Context(parsed, agent, purpose, mode, site, page, referrer, view, c2pa_res)
        for rule in RULES:
            rule(c, ctx)
        robots = ctx.robots
        tdm_res, tdm_src, tdm_policy, tdm_sha = ctx.tdm
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
                final_url=strip_credentials(page.fetched.final_url)
                if page is not None and page.fetched.final_url
                else None,
                errors=tuple(c.errors),
                page_checked=page_checked,
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
    terms: bytes | Fetched | None = None,
    exclude_lists: Iterable[ExclusionList] = (),
) -> Decision:
    """The whole decision from raw inputs, no network (the library's public entry point).

    ``robots_txt``/``tdmrep_json``/``ai_txt`` accept bytes (a 200 response), a
    :class:`Fetched` (any status or error) or None (not consulted). ``rsl_documents`` maps RSL
    licence URLs (from ``License:`` lines or links) to their fetched bodies.
    ``c2pa_manifest`` is a C2PA manifest store (dict or JSON bytes, ``c2patool`` form) for the
    resource; ``referrer`` the HTML page that embedded this media URL (its ``noai`` /
    ``noimageai`` carry over as inferred reservations). ``terms`` is the
    site's terms-of-use page: clauses reserving mining or AI training (``tos:tdm-reserved``)
    or prohibiting scraping (``tos:scraping-prohibited``) are inferred reservations.
    ``exclude_lists`` are infringing-site lists in force besides the shipped one: a URL on a
    listed domain is ``reserved`` with ``access:listed-infringing`` in every mode.
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
        terms=as_fetched(terms),
    )
    docs = {u: as_fetched(v, u) for u, v in (rsl_documents or {}).items()}
    site = parse_site(
        files,
        {u: f for u, f in docs.items() if f is not None},
        exclusions=default_exclusions(*exclude_lists) if exclude_lists else None,
    )
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
