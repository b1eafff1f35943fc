"""RSL 1.0, Really Simple Licensing: the XML licence document and its evaluation.

Choices where the spec (as summarised) leaves room:
- ``<content>`` selection: the longest matching url pattern (robots-style) is the most
  specific; several equally specific matches combine to the most restrictive status.
- Several ``<license>`` elements in one ``<content>`` are alternatives a licensee may pick, so
  the most permissive of them is the content's status.
- Within one ``<license>``: ``prohibits`` beats ``permits``; a ``permits type=usage`` list is
  closed (an unlisted use is prohibited); no usage element at all permits every use.
- A ``server`` attribute makes even a free licence ``licence-required`` (a token is needed).
- A document that is missing or unusable evaluates to ``licence-required`` ("unlicensed").
XML safety: any DTD or entity declaration is refused before parsing (no new dependency).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from urllib.parse import urlsplit

from .matching import canon_path, path_pattern

RSL_NS = "https://rslstandard.org/rsl"
SPEC_VERSION = "RSL-SPEC-1.0"
DEFAULT_MAX_AGE_DAYS = 30
MAX_DOC_BYTES = 4 * 1024 * 1024

STATUSES = (
    "prohibited",
    "licence-required",
    "permitted-paid",
    "permitted-attribution",
    "permitted-free",
    "unspecified",
    "no-match",
)
# Lower index = more restrictive.
_RANK = {s: i for i, s in enumerate(STATUSES)}

#: Which usage tokens cover a purpose. ``train-ai`` is the IETF spelling seen in RSL guides.
PURPOSE_TOKENS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "train-ai": frozenset({"all", "ai-all", "ai-train", "train-ai"}),
        "ai-input": frozenset({"all", "ai-all", "ai-input", "ai-summarize"}),
        "ai-index": frozenset({"all", "ai-all", "ai-index"}),
        "search": frozenset({"all", "search"}),
        "tdm": frozenset({"all"}),
    }
)
USAGE_TOKENS = frozenset(
    {"all", "ai-all", "ai-train", "train-ai", "ai-input", "ai-index", "search", "ai-summarize"}
)
_PAID = frozenset(
    {"purchase", "subscription", "training", "crawl", "use", "contribution", "inference"}
)


@dataclass(frozen=True, slots=True)
class RslPayment:
    type: str  # "free" when the element has no type
    amount: str | None = None
    currency: str | None = None
    standard: str | None = None
    custom: str | None = None
    accepts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RslLicense:
    permits: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    prohibits: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    payments: tuple[RslPayment, ...] = ()
    legal: tuple[tuple[str, str], ...] = ()  # (type, text)
    reporting: tuple[tuple[str, str], ...] = ()  # (type, endpoint)


@dataclass(frozen=True, slots=True)
class RslContent:
    url: str
    server: str | None = None
    encrypted: bool = False
    lastmod: str | None = None
    licenses: tuple[RslLicense, ...] = ()
    copyright: str | None = None
    contact: str | None = None
    terms: str | None = None
    raw: str = ""


@dataclass(frozen=True, slots=True)
class RslResult:
    status: str
    content_url: str | None = None
    server: str | None = None
    payment: tuple[str, ...] = ()
    contact: str | None = None
    terms: str | None = None
    raw: str = ""
    conditions: tuple[str, ...] = ()  # user/geo permits and prohibits, recorded not evaluated
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RslDocument:
    ok: bool
    problems: tuple[str, ...] = ()
    contents: tuple[RslContent, ...] = ()
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    namespace: str | None = None

    def evaluate(self, path_query: str, purpose: str = "train-ai") -> RslResult:
        """Status of ``purpose`` for a path (or full URL) under this document."""
        if not self.ok:
            return RslResult(
                status="licence-required",
                problems=("no usable RSL document: the asset is treated as unlicensed",),
            )
        if not isinstance(path_query, str):
            return RslResult(status="no-match", problems=("path is not a string",))
        origin, pq = _split_target(path_query)
        pq = canon_path(pq)
        best_len = -1
        best: list[RslContent] = []
        for c in self.contents:
            c_origin, c_path = _split_target(c.url)
            if c_origin and origin and c_origin != origin:
                continue
            pat = path_pattern(c_path)
            if not pat.matches(pq):
                continue
            if pat.length > best_len:
                best, best_len = [c], pat.length
            elif pat.length == best_len:
                best.append(c)
        if not best:
            return RslResult(status="no-match")
        results = [_content_status(c, purpose) for c in best]
        results.sort(key=lambda r: _RANK.get(r.status, 99))
        # "unspecified" is silence, not permission: any statement outranks it.
        chosen = next((r for r in results if r.status != "unspecified"), results[0])
        if len({r.status for r in results}) > 1:
            chosen = replace(
                chosen,
                problems=(
                    *chosen.problems,
                    "equally specific <content> entries conflict: most restrictive kept",
                ),
            )
        return chosen


def _split_target(value: str) -> tuple[str | None, str]:
    v = value.strip()
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", v):
        try:
            parts = urlsplit(v)
            origin = f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        except ValueError:
            return None, "/"
        return origin, path
    return None, v


def _tokens(text: str | None) -> tuple[str, ...]:
    # 1.0 separates with spaces; commas are seen in the wild (and in 0.9 examples).
    return tuple(t for t in re.split(r"[\s,]+", (text or "").strip().lower()) if t)


def _license_status(lic: RslLicense, purpose: str, server: str | None) -> tuple[str, list[str]]:
    covers = PURPOSE_TOKENS.get(purpose, frozenset({purpose}))
    prohibited = set(lic.prohibits.get("usage", ()))
    notes: list[str] = []
    if prohibited & covers:
        return "prohibited", notes
    if "usage" in lic.permits and not set(lic.permits["usage"]) & covers:
        return "prohibited", ["not in the closed <permits type=usage> list"]
    if server:
        return "licence-required", notes
    types = {p.type for p in lic.payments} or {"free"}
    if types & _PAID or types - {"free", "attribution"}:
        return "permitted-paid", notes
    if "attribution" in types:
        return "permitted-attribution", notes
    return "permitted-free", notes


def _content_status(c: RslContent, purpose: str) -> RslResult:
    if not c.licenses:
        return RslResult(
            status="unspecified",
            content_url=c.url,
            server=c.server,
            contact=c.contact,
            terms=c.terms,
            raw=c.raw,
        )
    options: list[tuple[str, RslLicense, list[str]]] = []
    for lic in c.licenses:
        st, notes = _license_status(lic, purpose, c.server)
        options.append((st, lic, notes))
    # Alternatives: the most permissive option is what a licensee can obtain.
    options.sort(key=lambda o: -_RANK[o[0]])
    status, lic, notes = options[0]
    conditions = []
    for kind, mp in (("permits", lic.permits), ("prohibits", lic.prohibits)):
        for t, toks in mp.items():
            if t != "usage":
                conditions.append(f"{kind} {t}: {' '.join(toks)}")
    return RslResult(
        status=status,
        content_url=c.url,
        server=c.server,
        payment=tuple(p.type for p in lic.payments),
        contact=c.contact,
        terms=c.terms,
        raw=c.raw,
        conditions=tuple(conditions),
        problems=tuple(notes),
    )


_DTD_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)


def _local(tag: object) -> tuple[str | None, str]:
    if not isinstance(tag, str):
        return None, ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def _text(el: ET.Element | None) -> str | None:
    if el is None:
        return None
    t = "".join(el.itertext()).strip()
    return t or None


def looks_like_rsl(data: bytes | str | None) -> bool:
    """True when the bytes are an RSL document (for ``rel=license`` links without a type)."""
    doc = parse_rsl(data)
    return doc.ok


def parse_rsl(data: bytes | str | None) -> RslDocument:
    """Parse an RSL document (standalone ``<rsl>`` or an ``<rsl>`` wrapper inside other XML)."""
    if data is None:
        return RslDocument(ok=False, problems=("no RSL document",))
    if isinstance(data, str):
        raw = data.encode("utf-8", "replace")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        return RslDocument(ok=False, problems=(f"unsupported input type {type(data).__name__}",))
    if len(raw) > MAX_DOC_BYTES:
        return RslDocument(ok=False, problems=(f"document larger than {MAX_DOC_BYTES} bytes",))
    if _DTD_RE.search(raw):
        return RslDocument(ok=False, problems=("DTD or entity declaration refused",))
    try:
        root = ET.fromstring(raw)
    except (ET.ParseError, ValueError, RecursionError) as exc:
        return RslDocument(ok=False, problems=(f"not well-formed XML: {str(exc)[:120]}",))
    except Exception as exc:  # expat oddities on hostile input: record, never raise
        return RslDocument(ok=False, problems=(f"XML parse failed: {type(exc).__name__}",))
    return _read(root)


def _read(root: ET.Element) -> RslDocument:
    problems: list[str] = []
    ns, local = _local(root.tag)
    rsl_roots: list[ET.Element]
    if local == "rsl":
        rsl_roots = [root]
    else:
        rsl_roots = [e for e in root.iter() if _local(e.tag)[1] == "rsl"]
        if not rsl_roots:
            return RslDocument(ok=False, problems=(f"root element <{local}> is not <rsl>",))
        problems.append(f"<rsl> found inside <{local}>")
        ns = _local(rsl_roots[0].tag)[0]
    if ns not in (RSL_NS, None):
        problems.append(f"unexpected namespace {ns!r}")
    elif ns is None:
        problems.append("no namespace (accepted)")
    max_age = DEFAULT_MAX_AGE_DAYS
    ma = rsl_roots[0].get("max-age")
    if ma is not None:
        try:
            max_age = int(ma.strip())
            if max_age < 0:
                raise ValueError
        except ValueError:
            problems.append(f"max-age {ma[:20]!r} is not a number of days: default used")
            max_age = DEFAULT_MAX_AGE_DAYS
    contents: list[RslContent] = []
    for r in rsl_roots:
        for child in r:
            if _local(child.tag)[1] == "content":
                c = _content(child, problems)
                if c is not None:
                    contents.append(c)
    if not contents:
        problems.append("no <content> element")
    return RslDocument(
        ok=True,
        problems=tuple(problems),
        contents=tuple(contents),
        max_age_days=max_age,
        namespace=ns,
    )


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag)[1] == name]


def _content(el: ET.Element, problems: list[str]) -> RslContent | None:
    url = (el.get("url") or "").strip()
    if not url:
        problems.append("<content> without url: ignored")
        return None
    licenses = []
    for lic in _children(el, "license"):
        permits: dict[str, tuple[str, ...]] = {}
        prohibits: dict[str, tuple[str, ...]] = {}
        for kind, target in (("permits", permits), ("prohibits", prohibits)):
            for p in _children(lic, kind):
                t = (p.get("type") or "usage").strip().lower()
                toks = _tokens(_text(p))
                if t == "usage":
                    unknown = [x for x in toks if x not in USAGE_TOKENS]
                    if unknown:
                        problems.append(f"unknown usage token(s) {unknown[:5]}")
                target[t] = target.get(t, ()) + toks
        payments = []
        for pay in _children(lic, "payment"):
            amount_el = next(iter(_children(pay, "amount")), None)
            payments.append(
                RslPayment(
                    type=(pay.get("type") or "free").strip().lower(),
                    amount=_text(amount_el),
                    currency=amount_el.get("currency") if amount_el is not None else None,
                    standard=_text(next(iter(_children(pay, "standard")), None)),
                    custom=_text(next(iter(_children(pay, "custom")), None)),
                    accepts=tuple(
                        (a.get("type") or _text(a) or "") for a in _children(pay, "accepts")
                    ),
                )
            )
        legal = tuple(((x.get("type") or ""), _text(x) or "") for x in _children(lic, "legal"))
        reporting = tuple(
            ((x.get("type") or ""), x.get("endpoint") or _text(x) or "")
            for x in _children(lic, "reporting")
        )
        licenses.append(
            RslLicense(
                permits=MappingProxyType(permits),
                prohibits=MappingProxyType(prohibits),
                payments=tuple(payments),
                legal=legal,
                reporting=reporting,
            )
        )
    cr = next(iter(_children(el, "copyright")), None)
    contact = cr.get("contactEmail") or cr.get("contactUrl") if cr is not None else None
    if contact is None:
        for lic in licenses:
            for t, v in lic.legal:
                if t == "contact" and v:
                    contact = v
                    break
    try:
        raw = ET.tostring(el, encoding="unicode")[:4000]
    except Exception:
        raw = ""
    enc = (el.get("encrypted") or "").strip().lower() in ("true", "1", "yes")
    return RslContent(
        url=url,
        server=(el.get("server") or "").strip() or None,
        encrypted=enc,
        lastmod=el.get("lastmod"),
        licenses=tuple(licenses),
        copyright=_text(cr),
        contact=contact,
        terms=_text(next(iter(_children(el, "terms")), None)),
        raw=raw,
    )


def licence_urls_for(group_urls: tuple[str, ...], global_urls: tuple[str, ...]) -> tuple[str, ...]:
    """robots.txt ``License`` lines (§5.2): the selected group's lines replace global ones."""
    return tuple(group_urls) if group_urls else tuple(global_urls)
