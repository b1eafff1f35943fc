"""Find and fetch an origin's terms-of-use page (once per origin, same fetcher and caps).

The page is found the way a person would: a link on the home page whose text or URL says
terms / conditions / legal in one of the EU languages (AGB, CGU, condiciones, termini,
voorwaarden, regulamin ...), preferring terms of use over a legal notice over a privacy page
(never chosen). Without such a link a few well-known paths are tried. Every request goes
through the caller's fetcher, so the SSRF guard, deadlines and byte caps of the other site
files apply; a path robots.txt disallows for our own token is never requested.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from ..domains import registrable_domain
from ..signals.html import _cut_deep_nesting, _decode
from ..signals.tos import TERMS_MAX_BYTES
from ..types import Fetched
from ..urls import InvalidURL, parse_url
from .base import Fetcher

__all__ = [
    "WELL_KNOWN_TERMS_PATHS",
    "fetch_terms_page",
    "looks_like_terms_url",
    "pick_terms",
    "terms_candidates",
]

#: Tried in order when the home page links to nothing that looks like terms.
WELL_KNOWN_TERMS_PATHS = ("/terms", "/terms-of-use", "/terms-of-service", "/legal", "/agb")
#: Home page links looked at (a hostile page can hold millions).
MAX_LINKS = 5_000
#: Requests per origin at most: the home page and two candidates.
MAX_CANDIDATES = 2

_STRONG = re.compile(
    r"terms|conditions|\btos\b|nutzungsbedingungen|\bagb\b|allgemeine.geschäftsbedingungen|"
    r"\bcgu\b|\bcgv\b|conditions.générales|condiciones|términos|terminos|termini|condizioni|"
    r"voorwaarden|regulamin|warunki|termos|condições|condicoes|villkor|vilkår|vilkar|"
    r"käyttöehdot|kayttoehdot|podmínky|podminky|podmienky|termeni|όροι|οροι|feltételek|"
    r"felhasznalasi|felhasználási|usage.policy|acceptable.use|copyright|urheberrecht|"
    r"nutzungsvorbehalt|text.and.data.mining|tdm",
    re.I,
)
_WEAK = re.compile(
    r"legal|impressum|imprint|mentions.légales|mentions-legales|aviso.legal|note.legali|"
    r"colofon|disclaimer|rechtliche|juridique|juridico|jurídico|prawne|nota.legal",
    re.I,
)
_NEVER = re.compile(r"privacy|datenschutz|cookie|confidentialit|privacidad|rgpd|gdpr", re.I)


def _score(text: str, href: str) -> int:
    both = f"{text} {href}"
    if _NEVER.search(both) and not _STRONG.search(text):
        return 0
    if _STRONG.search(both):
        return 2
    if _WEAK.search(both):
        return 1
    return 0


def looks_like_terms_url(url: str) -> bool:
    """The home page, a well-known terms path, or a path that reads like terms or a legal
    notice: what an archive must keep to find a terms page later without the live web."""
    try:
        path = parse_url(url).path
    except InvalidURL:
        return False
    return path == "/" or path in WELL_KNOWN_TERMS_PATHS or _score("", path) > 0


def pick_terms(origin: str, lookup: Callable[[str], Fetched | None]) -> Fetched | None:
    """The terms page among already-fetched documents (``lookup(url)``, e.g. an archive):
    the home page's best candidate link that was captured, else a well-known path."""
    origin = origin.rstrip("/")
    home = lookup(origin + "/")
    candidates = terms_candidates(home, origin) if home is not None else []
    for url in [*candidates, *(origin + p for p in WELL_KNOWN_TERMS_PATHS)]:
        f = lookup(url)
        if f is not None and f.ok:
            return f
    return None


def terms_candidates(home: Fetched, origin: str) -> list[str]:
    """Links of the home page that look like terms pages, best first (same site only)."""
    if not home.ok or not home.body:
        return []
    try:
        site = registrable_domain(parse_url(origin).host)
    except InvalidURL:
        return []
    text, _ = _decode(home.body)
    text, _ = _cut_deep_nesting(text.replace("\x00", "\ufffd"))
    tree = LexborHTMLParser(text)
    base = home.final_url or home.url or origin + "/"
    scored: dict[str, tuple[int, int]] = {}
    for n, a in enumerate(tree.css("a[href]")):
        if n >= MAX_LINKS:
            break
        href = (a.attributes.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "tel:", "javascript:")):
            continue
        label = " ".join((a.text(deep=True) or "").split())[:200]
        s = _score(label, href)
        if not s:
            continue
        url = urljoin(base, href).split("#", 1)[0]
        try:
            p = parse_url(url)
        except InvalidURL:
            continue
        if registrable_domain(p.host) != site:
            continue  # a terms page elsewhere speaks for another site
        if p.url not in scored or scored[p.url][0] < s:
            scored[p.url] = (s, -n)
    return [u for u, _ in sorted(scored.items(), key=lambda kv: kv[1], reverse=True)]


async def fetch_terms_page(
    fetcher: Fetcher,
    origin: str,
    *,
    allowed: Callable[[str], bool],
    max_bytes: int = TERMS_MAX_BYTES,
    home_max_bytes: int = 512 * 1024,
) -> Fetched | None:
    """The origin's terms page as fetched, or None when none was found.

    ``allowed(path_query)`` says whether robots.txt lets our own token fetch a path; the home
    page and every candidate are checked with it first. A candidate is taken when it answers
    2xx with an HTML or text body; at most ``MAX_CANDIDATES`` are tried after the home page.
    """
    origin = origin.rstrip("/")
    candidates: list[str] = []
    if allowed("/"):
        home = await fetcher.get(origin + "/", max_bytes=home_max_bytes)
        candidates = terms_candidates(home, origin)
    if not candidates:
        candidates = [origin + p for p in WELL_KNOWN_TERMS_PATHS]
    last: Fetched | None = None
    tried = 0
    for url in candidates:
        if tried >= MAX_CANDIDATES:
            break
        try:
            path = parse_url(url).path_query
        except InvalidURL:
            continue
        if not allowed(path):
            continue
        tried += 1
        f = await fetcher.get(url, max_bytes=max_bytes)
        ctype = (f.content_type or "").lower()
        if f.ok and ("html" in ctype or "text" in ctype or not ctype):
            return f
        last = f if last is None else last
    return last if last is not None and last.status is not None else None
