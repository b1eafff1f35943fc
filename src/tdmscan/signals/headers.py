"""Response header signals: X-Robots-Tag / Robots-Tag, Link rel=license, Content-Usage.

Headers arrive as a :data:`~tdmscan.types.HeaderList` (wire order, repeated fields kept apart),
a mapping, an ``httpx.Headers`` or a :class:`~tdmscan.types.Fetched`; names are matched
case-insensitively and every line is read on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..types import Fetched, HeaderList, _norm_headers
from .aipref import UsagePrefs, parse_content_usage
from .contentsignal import ContentSignal, parse_content_signal
from .matching import product_token

#: Robots directives whose own syntax contains a colon, so ``name: value`` is not a bot prefix.
COLON_DIRECTIVES: frozenset[str] = frozenset(
    {"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"}
)

#: Directive words known from Google, Bing, DeviantArt and others; used to tell a bot-named
#: ``<meta>`` from an unrelated meta that happens to have a token-like name.
KNOWN_DIRECTIVES: frozenset[str] = frozenset(
    {
        "all",
        "none",
        "index",
        "noindex",
        "follow",
        "nofollow",
        "noarchive",
        "nocache",
        "nosnippet",
        "noimageindex",
        "notranslate",
        "noai",
        "noimageai",
        "indexifembedded",
        "noodp",
        "noydir",
        "nositelinkssearchbox",
        "noyaca",
        "unavailable_after",
        "max-snippet",
        "max-image-preview",
        "max-video-preview",
    }
)


def header_lines(headers: Any, name: str) -> list[str]:
    """Every line of one field, case-insensitively, in wire order. Never raises."""
    if isinstance(headers, Fetched):
        items: HeaderList = headers.headers
    else:
        try:
            items = _norm_headers(headers)
        except Exception:  # hostile container types: treat as no headers
            return []
    lname = name.lower()
    return [v for k, v in items if k.strip().lower() == lname]


def _directive(text: str) -> str:
    d = text.strip().lower()
    if ":" in d:
        k, v = d.split(":", 1)
        d = f"{k.strip()}:{v.strip()}"
    return " ".join(d.split())


@dataclass(frozen=True, slots=True)
class RobotsDirectives:
    all: frozenset[str] = frozenset()
    by_agent: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    sources: tuple[tuple[str, str], ...] = ()

    def for_agent(self, agent: str) -> frozenset[str]:
        """Directives addressed to everyone plus those addressed to ``agent`` (whole token)."""
        tok = product_token(agent) if isinstance(agent, str) else ""
        own = self.by_agent.get(tok, frozenset()) if tok and tok != "*" else frozenset()
        return self.all | own

    def __bool__(self) -> bool:
        return bool(self.all or self.by_agent)


class _Builder:
    def __init__(self) -> None:
        self.all: set[str] = set()
        self.by_agent: dict[str, set[str]] = {}
        self.sources: list[tuple[str, str]] = []

    def add(self, agent: str | None, directive: str) -> None:
        d = _directive(directive)
        if not d:
            return
        if agent is None or agent == "*":
            self.all.add(d)
        elif agent:
            self.by_agent.setdefault(agent, set()).add(d)

    def build(self) -> RobotsDirectives:
        return RobotsDirectives(
            all=frozenset(self.all),
            by_agent=MappingProxyType({k: frozenset(v) for k, v in self.by_agent.items()}),
            sources=tuple(self.sources),
        )


def _parse_x_robots_value(b: _Builder, value: str) -> None:
    # Google/MDN: "otherbot: noindex, nofollow" scopes every directive after the prefix (up to
    # the next prefix) to otherbot; splitting on commas first would wrongly globalise nofollow.
    agent: str | None = None
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if ":" in part:
            head, rest = part.split(":", 1)
            if head.strip().lower() not in COLON_DIRECTIVES:
                tok = product_token(head)
                # An unusable prefix still opens a scope, so its directives never leak to all.
                agent = tok if tok and tok != "*" else ("*" if tok == "*" else "")
                part = rest.strip()
                if not part:
                    continue
        b.add(agent, part)


_REPEXT_RE = re.compile(r"^\s*(\*|[A-Za-z_-]+)\s*=")


def _parse_repext_value(b: _Builder, value: str) -> None:
    # draft-illyes-repext: "*=noindex, nosnippet; ExampleBot=;"
    for entry in value.split(";"):
        if not entry.strip():
            continue
        if "=" not in entry:
            _parse_x_robots_value(b, entry)
            continue
        who, rules = entry.split("=", 1)
        tok = product_token(who)
        agent = "*" if tok == "*" else (tok or "")
        for r in rules.split(","):
            b.add(agent, r)


def parse_robots_tag(headers: Any) -> RobotsDirectives:
    """X-Robots-Tag and Robots-Tag lines (any case, any number) -> scoped directives."""
    b = _Builder()
    for name in ("X-Robots-Tag", "Robots-Tag"):
        for value in header_lines(headers, name):
            b.sources.append((f"header {name}", value))
            if name == "Robots-Tag" and _REPEXT_RE.match(value):
                _parse_repext_value(b, value)
            else:
                _parse_x_robots_value(b, value)
    return b.build()


def combine_directives(*items: RobotsDirectives | None) -> RobotsDirectives:
    """Union of several sources (header + meta): the most restrictive reading keeps them all."""
    b = _Builder()
    for it in items:
        if it is None:
            continue
        b.all |= it.all
        for k, v in it.by_agent.items():
            b.by_agent.setdefault(k, set()).update(v)
        b.sources.extend(it.sources)
    return b.build()


# --- Link: <...>; rel="license" -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkLicence:
    url: str
    type: str | None
    rsl: bool
    source: str


RSL_MEDIA_TYPE = "application/rsl+xml"

_PARAM_RE = re.compile(r'\s*;\s*([^\s=;,"]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*))?')


def parse_link_header(value: str) -> list[tuple[str, dict[str, str]]]:
    """RFC 8288 links of one field value: [(target, {param: value})], first param occurrence."""
    out: list[tuple[str, dict[str, str]]] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t,":
            i += 1
        if i >= n:
            break
        if value[i] != "<":
            # Junk: skip to the next comma outside quotes.
            j = value.find(",", i)
            i = n if j < 0 else j + 1
            continue
        end = value.find(">", i + 1)
        if end < 0:
            break
        target = value[i + 1 : end].strip()
        i = end + 1
        params: dict[str, str] = {}
        while True:
            m = _PARAM_RE.match(value, i)
            if not m:
                break
            k = m.group(1).lower().rstrip("*")
            v = m.group(2) or ""
            if v.startswith('"') and v.endswith('"') and len(v) >= 2:
                v = re.sub(r"\\(.)", r"\1", v[1:-1])
            params.setdefault(k, v)
            i = m.end()
        # Anything else up to the next comma is noise.
        while i < n and value[i] != ",":
            i += 1
        out.append((target, params))
    return out


def rel_tokens(rel: str | None) -> frozenset[str]:
    return frozenset(t.lower() for t in (rel or "").split())


def link_licences(headers: Any) -> tuple[LinkLicence, ...]:
    """Every ``Link`` target whose ``rel`` token list contains ``license``."""
    out: list[LinkLicence] = []
    for value in header_lines(headers, "Link"):
        for target, params in parse_link_header(value):
            if "license" not in rel_tokens(params.get("rel")):
                continue
            typ = params.get("type") or None
            rsl = bool(typ) and typ.strip().lower().split(";")[0].strip() == RSL_MEDIA_TYPE
            out.append(LinkLicence(url=target, type=typ, rsl=rsl, source="header Link"))
    return tuple(out)


def content_usage_header(headers: Any) -> UsagePrefs:
    """All ``Content-Usage`` field lines as one Dictionary (aipref-attach-05)."""
    return parse_content_usage(header_lines(headers, "Content-Usage"))


def content_signal_header(headers: Any) -> ContentSignal | None:
    """Non-standard ``Content-Signal`` response header (Cloudflare Markdown for Agents)."""
    lines = header_lines(headers, "Content-Signal")
    if not lines:
        return None
    return parse_content_signal(", ".join(lines))


def iter_header_pairs(headers: Any) -> Iterable[tuple[str, str]]:
    try:
        return _norm_headers(headers.headers if isinstance(headers, Fetched) else headers)
    except Exception:
        return ()


#: Page directives that speak for the media a page embeds.
INHERITED_BY_MEDIA: frozenset[str] = frozenset({"noai", "noimageai"})


def inherited_media_directives(page: RobotsDirectives, agent: str) -> frozenset[str]:
    """Directives of a referring page that carry over to images discovered on it.

    The caller records them as evidence "inherited from referring page", next to whatever the
    image URL's own ``X-Robots-Tag`` says.
    """
    return page.for_agent(agent) & INHERITED_BY_MEDIA
