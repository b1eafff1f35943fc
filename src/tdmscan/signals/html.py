"""Signals in an HTML page: robots meta, TDMRep meta, licence links, RSL, JSON-LD, Dublin Core.

Only the ``<head>`` counts for robots and TDMRep meta; the HTML5 tree
builder decides where the head ends, exactly as a browser would, so a meta after stray body
content lands in ``<body>`` and is recorded as ignored. Licence statements are an inventory,
not a reservation, so JSON-LD and ``<a rel=license>`` are also read from the body (the latter
as a weak hint). At most ``max_bytes`` of the document are read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from .aipref import UsagePrefs, parse_content_usage
from .headers import (
    KNOWN_DIRECTIVES,
    RSL_MEDIA_TYPE,
    LinkLicence,
    RobotsDirectives,
    _Builder,
    _directive,
    rel_tokens,
)
from .matching import is_valid_token, product_token
from .tdmrep import TdmValue, tdm_value

HEAD_MAX_BYTES = 512 * 1024
MAX_JSONLD_BLOCKS = 64
MAX_JSONLD_BYTES = 1024 * 1024
MAX_JSONLD_DEPTH = 64
MAX_JSONLD_NODES = 50_000

_DC_FIELDS = frozenset({"rights", "license", "accessrights", "rightsholder"})
_DC_PREFIXES = ("dc.", "dcterms.", "dct.", "dc:", "dcterms:", "dct:")
_IMAGE_TYPES = frozenset({"imageobject", "photograph", "imagegallery"})
_MEDIA_TYPES = frozenset({"videoobject", "audioobject", "mediaobject", "musicrecording"})
_NON_ROBOT_META = frozenset(
    {"description", "keywords", "viewport", "author", "generator", "referrer", "theme-color"}
)


@dataclass(frozen=True, slots=True)
class JsonLdLicence:
    value: str  # URL (string, @id or url) or, failing that, the name
    node_type: str | None  # the @type of the node carrying "license", e.g. "ImageObject"
    scope: str  # "page" | "image" | "media"
    path: str  # JSON-pointer-like location, e.g. "[0]/@graph/1/image/license"
    name: str | None = None
    block: int = 0  # which ld+json script (0-based)


@dataclass(frozen=True, slots=True)
class HtmlHead:
    ok: bool
    truncated: bool = False
    problems: tuple[str, ...] = ()
    robots: RobotsDirectives = field(default_factory=RobotsDirectives)
    tdm: TdmValue = field(default_factory=TdmValue)
    licences: tuple[LinkLicence, ...] = ()
    rsl_scripts: tuple[str, ...] = ()
    jsonld_licences: tuple[JsonLdLicence, ...] = ()
    dc_licences: tuple[tuple[str, str], ...] = ()
    content_signal: str | None = None
    content_usage: UsagePrefs | None = None
    ignored_body_meta: tuple[str, ...] = ()
    #: <meta name=tdm-*> present at all (a policy-only meta still layers over the header)
    has_tdm_meta: bool = False


#: lexbor's tree builder is quadratic in the depth of unclosed block elements (100k nested
#: <div> take tens of seconds), so a hostile document is cut where its nesting gets absurd.
MAX_NESTING = 2000
#: Possessive quantifiers: the name and the attributes are each taken whole, never re-split,
#: so a tag without its ">" (``<a`` and 40,000 letters) fails in one pass instead of trying
#: every split of name and attributes (quadratic).
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*+)([^<>]*+)>")
_NOT_NESTING = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr", "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th",
        "tbody", "thead", "tfoot", "colgroup", "rb", "rt", "rp", "param", "keygen",
    }
)  # fmt: skip


def _cut_deep_nesting(text: str) -> tuple[str, bool]:
    depth = 0
    for m in _TAG_RE.finditer(text):
        name = m.group(2).lower()
        if name in _NOT_NESTING or m.group(3).endswith("/"):
            continue
        if m.group(1):
            depth = max(0, depth - 1)
            continue
        depth += 1
        if depth > MAX_NESTING:
            return text[: m.start()], True
    return text, False


def _resolve(name: str | None) -> str | None:
    if not name:
        return None
    from w3lib.encoding import resolve_encoding

    enc = resolve_encoding(name)
    if enc is None:
        return None
    # WHATWG: the "utf-16" label is UTF-16LE (Python's codec would guess the byte order).
    return "utf-16-le" if enc.replace("_", "-") == "utf-16" else enc


def _decode(data: bytes, content_type: str | None = None) -> tuple[str, list[str]]:
    """HTML bytes to text by the WHATWG order: BOM, then the Content-Type charset, then the
    ``<meta>`` prescan (w3lib), then UTF-8 if the bytes are UTF-8, else windows-1252."""
    from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

    problems: list[str] = []
    bom_enc, bom = read_bom(data)
    if bom_enc is not None:
        return data[len(bom) :].decode(bom_enc, "replace"), problems
    enc = None
    if content_type:
        declared = http_content_type_encoding(content_type)
        enc = _resolve(declared)
        if declared and enc is None:
            problems.append(f"unknown charset {declared!r} in Content-Type")
    if enc is None:
        declared = html_body_declared_encoding(data[:4096])
        enc = _resolve(declared)
        if enc is not None and enc.startswith("utf-16"):
            # WHATWG prescan: a document that could read its own <meta> is not UTF-16.
            enc = "utf-8"
        elif declared and enc is None:
            problems.append(f"unknown charset {declared!r}")
    if enc is not None:
        try:
            return data.decode(enc, "replace"), problems
        except LookupError:
            problems.append(f"unknown charset {enc!r}")
    try:
        return data.decode("utf-8"), problems
    except UnicodeDecodeError as exc:
        # A cut in the middle of a multi-byte character at the cap is not an encoding error.
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8", "replace"), problems
    problems.append("not UTF-8: decoded as windows-1252")
    return data.decode("cp1252", "replace"), problems


def _attr(node: Any, name: str) -> str | None:
    try:
        v = node.attributes.get(name)
    except Exception:
        return None
    return v if isinstance(v, str) else None


def _meta_repr(name: str, content: str | None) -> str:
    return f'<meta name="{name}" content="{(content or "")[:200]}">'


def _split_directives(content: str) -> list[str]:
    return [d for d in (_directive(x) for x in content.split(",")) if d]


def _is_robots_content(directives: list[str]) -> bool:
    return any(d.split(":", 1)[0] in KNOWN_DIRECTIVES for d in directives)


def _scope_for(node_type: str | None, via: str | None, parent_scope: str) -> str:
    types = {t.lower() for t in (node_type or "").split(",") if t}
    if types & _IMAGE_TYPES:
        return "image"
    if types & _MEDIA_TYPES:
        return "media"
    if via in ("image", "logo", "thumbnail", "photo", "primaryimageofpage"):
        return "image"
    if via in ("video", "audio", "associatedmedia", "encoding"):
        return "media"
    return parent_scope


def _type_of(node: dict[str, Any]) -> str | None:
    t = node.get("@type")
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        parts = [x for x in t if isinstance(x, str)]
        return ",".join(parts) or None
    return None


def _licence_values(v: Any) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    items = v if isinstance(v, list) else [v]
    for it in items[:100]:
        if isinstance(it, str) and it.strip():
            out.append((it.strip(), None))
        elif isinstance(it, dict):
            url = it.get("@id") or it.get("url") or it.get("sameAs")
            name = it.get("name")
            name = name.strip() if isinstance(name, str) and name.strip() else None
            if isinstance(url, list):
                url = next((u for u in url if isinstance(u, str)), None)
            if isinstance(url, str) and url.strip():
                out.append((url.strip(), name))
            elif name:
                out.append((name, name))
    return out


def _walk_jsonld(doc: Any, block: int, problems: list[str]) -> list[JsonLdLicence]:
    out: list[JsonLdLicence] = []
    # Iterative walk: hostile JSON may be nested thousands deep.
    stack: list[tuple[Any, str, str | None, str, int]] = [(doc, f"[{block}]", None, "page", 0)]
    seen = 0
    while stack:
        node, path, via, scope, depth = stack.pop()
        seen += 1
        if seen > MAX_JSONLD_NODES:
            problems.append(f"ld+json block {block}: too many nodes, walk stopped")
            break
        if depth > MAX_JSONLD_DEPTH:
            problems.append(f"ld+json block {block}: nesting deeper than {MAX_JSONLD_DEPTH}")
            continue
        if isinstance(node, list):
            for i in range(len(node) - 1, -1, -1):
                stack.append((node[i], f"{path}/{i}", via, scope, depth + 1))
            continue
        if not isinstance(node, dict):
            continue
        ntype = _type_of(node)
        nscope = _scope_for(ntype, via, scope)
        for key in ("license", "schema:license", "http://schema.org/license"):
            if key in node:
                for value, name in _licence_values(node[key]):
                    out.append(JsonLdLicence(value, ntype, nscope, f"{path}/{key}", name, block))
        for k in reversed(list(node.keys())):
            if k in ("license", "@context"):
                continue
            v = node[k]
            if isinstance(v, (dict, list)):
                kl = k.lower().rsplit(":", 1)[-1].rsplit("/", 1)[-1]
                child_via = kl if kl not in ("@graph",) else via
                stack.append((v, f"{path}/{k}", child_via, nscope, depth + 1))
    return out


def _jsonld(tree: LexborHTMLParser, problems: list[str]) -> list[JsonLdLicence]:
    out: list[JsonLdLicence] = []
    block = -1
    for node in tree.css("script"):
        typ = (_attr(node, "type") or "").strip().lower()
        if typ != "application/ld+json":
            continue
        block += 1
        if block >= MAX_JSONLD_BLOCKS:
            problems.append("too many ld+json blocks: the rest ignored")
            break
        text = node.text(deep=True) or ""
        if len(text) > MAX_JSONLD_BYTES:
            problems.append(f"ld+json block {block} larger than {MAX_JSONLD_BYTES}: ignored")
            continue
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            problems.append(f"ld+json block {block}: not valid JSON")
            continue
        out.extend(_walk_jsonld(doc, block, problems))
    return out


def _dc_field(name: str) -> bool:
    n = name.lower()
    for p in _DC_PREFIXES:
        if n.startswith(p):
            return n[len(p) :] in _DC_FIELDS
    return False


def parse_html_head(
    body: bytes | str | None,
    *,
    max_bytes: int = HEAD_MAX_BYTES,
    content_type: str | None = None,
) -> HtmlHead:
    """Read the signals of an HTML document. Never raises.

    ``content_type``: the response's Content-Type, whose charset outranks ``<meta charset>``.
    """
    try:
        return _parse(body, max_bytes, content_type)
    except Exception as exc:  # the C parser or a hostile document: record, never raise
        return HtmlHead(ok=False, problems=(f"HTML parse failed: {type(exc).__name__}",))


def _parse(body: bytes | str | None, max_bytes: int, content_type: str | None = None) -> HtmlHead:
    if body is None:
        return HtmlHead(ok=False, problems=("no body",))
    problems: list[str] = []
    truncated = False
    if isinstance(body, str):
        if len(body) > max_bytes:
            body, truncated = body[:max_bytes], True
        text = body.encode("utf-8", "replace").decode("utf-8")
    elif isinstance(body, (bytes, bytearray, memoryview)):
        data = bytes(body)
        if len(data) > max_bytes:
            data, truncated = data[:max_bytes], True
        text, problems = _decode(data, content_type)
    else:
        return HtmlHead(ok=False, problems=(f"unsupported body type {type(body).__name__}",))
    if truncated:
        problems.append(f"document cut at {max_bytes} bytes")
    text = text.replace("\x00", "\ufffd")
    text, cut = _cut_deep_nesting(text)
    if cut:
        truncated = True
        problems.append(f"elements nested deeper than {MAX_NESTING}: document cut there")
    tree = LexborHTMLParser(text)
    head = tree.head
    bodyn = tree.body

    robots = _Builder()
    licences: list[LinkLicence] = []
    rsl_scripts: list[str] = []
    dc: list[tuple[str, str]] = []
    ignored: list[str] = []
    tdm_res: list[str] = []
    tdm_pol: list[str] = []
    content_signal: str | None = None
    cu_values: list[str] = []

    def meta_name(node: Any) -> tuple[str, str, str | None]:
        name = (_attr(node, "name") or "").strip()
        return name, name.lower(), _attr(node, "content")

    if head is not None:
        for node in head.css("meta"):
            name, lname, content = meta_name(node)
            if not name:
                prop = (_attr(node, "property") or "").strip()
                if prop and _dc_field(prop) and content:
                    dc.append((prop, content.strip()))
                continue
            if content is None:
                continue
            if lname == "robots":
                robots.sources.append(("meta name=robots", content))
                for d in _split_directives(content):
                    robots.add(None, d)
            elif lname == "tdm-reservation":
                tdm_res.append(content)
            elif lname == "tdm-policy":
                tdm_pol.append(content)
            elif lname == "content-signal":
                content_signal = (
                    content if content_signal is None else f"{content_signal}, {content}"
                )
            elif lname == "content-usage":
                cu_values.append(content)
            elif _dc_field(name):
                dc.append((name, content.strip()))
            elif lname not in _NON_ROBOT_META:
                tok = product_token(name)
                ds = _split_directives(content)
                if tok and tok != "*" and is_valid_token(name.strip()) and _is_robots_content(ds):
                    robots.sources.append((f"meta name={name}", content))
                    for d in ds:
                        robots.add(tok, d)
        for node in head.css("link, a, area"):
            href = _attr(node, "href")
            rel = _attr(node, "rel")
            rels = rel_tokens(rel)
            if href is None:
                continue
            if "license" in rels:
                typ = _attr(node, "type")
                rsl = bool(typ) and typ.strip().lower() == RSL_MEDIA_TYPE
                licences.append(LinkLicence(href.strip(), typ, rsl, f"html {node.tag}"))
            for r in (rel or "").split():
                if _dc_field(r):
                    dc.append((r, href.strip()))
        for node in head.css("script"):
            typ = (_attr(node, "type") or "").strip().lower()
            if typ == RSL_MEDIA_TYPE:
                rsl_scripts.append(node.text(deep=True) or "")
    else:
        problems.append("no <head>")

    if bodyn is not None:
        for node in bodyn.css("meta"):
            name, lname, content = meta_name(node)
            if not name:
                continue
            if lname in ("robots", "tdm-reservation", "tdm-policy") or (
                lname not in _NON_ROBOT_META
                and is_valid_token(name)
                and _is_robots_content(_split_directives(content or ""))
            ):
                ignored.append(_meta_repr(name, content))
        for node in bodyn.css("a, area"):
            href = _attr(node, "href")
            if href is not None and "license" in rel_tokens(_attr(node, "rel")):
                licences.append(
                    LinkLicence(href.strip(), _attr(node, "type"), False, f"html {node.tag} (body)")
                )
        for node in bodyn.css("script"):
            typ = (_attr(node, "type") or "").strip().lower()
            if typ == RSL_MEDIA_TYPE:
                problems.append("RSL script in <body>: scoped to its parent element, not read")
    # Microdata licence (itemprop="license") anywhere: inventory only.
    for node in tree.css("[itemprop]"):
        if "license" in (_attr(node, "itemprop") or "").lower().split():
            v = _attr(node, "href") or _attr(node, "content") or _attr(node, "src")
            if v:
                licences.append(LinkLicence(v.strip(), None, False, "html itemprop"))
    jsonld = _jsonld(tree, problems)

    tdm = tdm_value(", ".join(tdm_res) if tdm_res else None, tdm_pol[0] if tdm_pol else None)
    if len(tdm_pol) > 1:
        problems.append("several tdm-policy metas: the first is used")
    content_usage = parse_content_usage(cu_values) if cu_values else None
    if content_usage is not None:
        problems.append("non-standard <meta name=content-usage> recorded")
    return HtmlHead(
        ok=True,
        truncated=truncated,
        problems=tuple(problems),
        robots=robots.build(),
        tdm=tdm,
        licences=tuple(licences),
        rsl_scripts=tuple(rsl_scripts),
        jsonld_licences=tuple(jsonld),
        dc_licences=tuple(dc),
        content_signal=content_signal,
        content_usage=content_usage,
        ignored_body_meta=tuple(ignored),
        has_tdm_meta=bool(tdm_res or tdm_pol),
    )
