"""Pieces of RFC 9309 that other protocols reuse: path patterns and product tokens.

TDMRep locations, RSL ``<content url>``, ai.txt rules and robots.txt ``Content-Usage`` paths
all borrow the robots.txt pattern language, so they share this one matcher.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ..urls import normalise_path

_TOKEN_RE = re.compile(r"[A-Za-z_-]+")


def product_token(value: str) -> str:
    """Google's user-agent line rule: cut at the first character outside ``[A-Za-z_-]``.

    ``CCBot/2.0`` -> ``ccbot``, ``Foo Bar`` -> ``foo``, ``* anything`` -> ``*``. The result is
    lower-cased because group matching is case-insensitive (RFC 9309 section 2.2.1). An empty
    string means the line names no usable token.
    """
    value = value.strip()
    if value.startswith("*"):
        return "*"
    m = _TOKEN_RE.match(value)
    return m.group(0).lower() if m else ""


def is_valid_token(value: str) -> bool:
    """RFC 9309: a token a crawler may obey is ``[A-Za-z_-]+`` (no digits, no ``/``)."""
    return bool(value) and _TOKEN_RE.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled robots-style path pattern (``*`` any run, trailing ``$`` end of URL)."""

    raw: str  # as written in the source
    normalised: str
    length: int  # octets of the pattern as written, for longest-match (RFC 9309 2.2.2)
    _match: Callable[[str], bool]

    def matches(self, path_query: str) -> bool:
        return self._match(path_query)


@lru_cache(maxsize=65536)
def compile_pattern(raw: str) -> Pattern:
    """Compile a pattern. Never raises; an empty pattern matches nothing.

    A pattern without a leading ``/`` (``open/``, ``*.jpg``) is read as if it had one: the
    author's intent is clear, and ``*`` matches ``/`` anyway.
    """
    pat = raw.strip()
    if not pat:
        return Pattern(raw, "", 0, lambda _p: False)
    norm = normalise_path(pat)
    body = norm
    if not body.startswith("/") and not body.startswith("*"):
        body = "/" + body
    anchored = body.endswith("$")
    if anchored:
        body = body[:-1]
    if "*" not in body and not anchored:
        prefix = body
        return Pattern(raw, norm, len(pat), lambda p: p.startswith(prefix))
    # A non-final "$" is literal (Google's behaviour), so only the trailing one anchors.
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    compiled = re.compile(regex + ("\\Z" if anchored else ""), re.DOTALL)
    return Pattern(raw, norm, len(pat), lambda p: compiled.match(p) is not None)
