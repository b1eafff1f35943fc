"""Pieces of RFC 9309 that other protocols reuse: the path-pattern engine and product tokens.

robots.txt rules, TDMRep locations, RSL ``<content url>``, ai.txt rules and robots.txt
``Content-Usage`` paths all borrow the robots.txt pattern language, so every one of them is
compiled here by :func:`path_pattern` and matched against a path in the form :func:`canon`
gives. One engine means one answer to "does this pattern cover this URL", whatever the
protocol.

Matching is linear in pattern x path: no backtracking regex is ever built. Patterns without
``%2A``/``%24`` escapes are a chain of leftmost ``str.find`` calls (the leftmost occurrence of
a ``*``-separated segment is never worse for the segments after it); patterns with escapes run
a small set-of-states simulation whose work is bounded by (pattern atoms) x (path length).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ..urls import normalise_path, utf8

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


# --------------------------------------------------------------------------- canonical form


def priority(pattern: str) -> int:
    """Octets of the pattern once non-ASCII is percent-encoded: the reference's priority
    (RFC 9309 section 2.2.2 "most octets")."""
    if pattern.isascii():
        return len(pattern)
    raw = utf8(pattern)
    return len(raw) + 2 * sum(1 for b in raw if b >= 0x80)


# Characters RFC 3986 allows in no URI component: written raw or escaped they name the same
# octet, so both sides carry them escaped (the reference matcher agrees).
_CANON_NEEDS_RE = re.compile(r'[^\x21-\x7e]|[%"<>\\^`{|}]')
_ILLEGAL_RE = re.compile(r'[\x00-\x20\x7f"<>\\^`{|}]')
_STRAY_PCT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_URI_ILLEGAL = frozenset('"<>\\^`{|}')


@lru_cache(maxsize=8192)
def _canon_slow(text: str) -> str:
    text = _STRAY_PCT_RE.sub("%25", text)
    if text.isascii():
        text = _ILLEGAL_RE.sub(lambda m: f"%{ord(m.group(0)):02X}", text)
    else:
        text = "".join(
            chr(b) if 0x21 <= b <= 0x7E and chr(b) not in _URI_ILLEGAL else f"%{b:02X}"
            for b in utf8(text)
        )
    # Upper-case the hex and decode unreserved escapes (RFC 9309 section 2.2.2).
    return normalise_path(text)


def canon(text: str) -> str:
    """RFC 9309 section 2.2.2 canonical form shared by patterns and paths.

    A superset of :func:`tdmscan.urls.normalise_path` (idempotent on its output) that also
    escapes the characters no URI may hold raw and a ``%`` that starts no escape. Undecodable
    input (lone surrogates from ``surrogateescape``, raw 0x80-0xFF octets) is escaped byte for
    byte, identically for a URL and for a rule.
    """
    if _CANON_NEEDS_RE.search(text) is None:
        return text
    return _canon_slow(text)


def canon_path(path_query: object) -> str:
    """The canonical form of a path (plus query) as patterns are matched against it."""
    if not isinstance(path_query, str) or not path_query:
        return "/"
    return canon(path_query)


# --------------------------------------------------------------------------- patterns


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A compiled robots-style path pattern (``*`` any run, trailing ``$`` end of URL,
    ``%2A``/``%24`` a literal ``*``/``$``, a non-final ``$`` a literal ``$``).

    A literal ``*`` or ``$`` matches the character raw or percent-encoded in the path, as
    Google's matcher does.
    """

    raw: str  # as written in the source
    canonical: str  # RFC 9309 canonical form (leading "/" added when root_relative)
    length: int  # priority for longest match: octets with non-ASCII percent-encoded
    #: The canonical text when the pattern is a plain prefix (no wildcard, anchor or escape):
    #: callers may index such patterns instead of calling ``matches``.
    literal: str | None
    #: ``matches(canonical_path)``: True when the pattern covers the path.
    matches: Callable[[str], bool]


def _never(_path: str) -> bool:
    return False


_ESCAPES = {"%2A": ("*", "%2A"), "%24": ("$", "%24")}


def _find_chain(canonical: str) -> Callable[[str], bool]:
    anchored = canonical.endswith("$")
    parts = (canonical[:-1] if anchored else canonical).split("*")
    first = parts[0]
    start = len(first)
    if anchored:
        if len(parts) == 1:
            return first.__eq__
        last = parts[-1]
        middle = tuple(p for p in parts[1:-1] if p)
        tail = len(last)

        def match_anchored(path: str) -> bool:
            if not path.startswith(first):
                return False
            pos = start
            for seg in middle:
                pos = path.find(seg, pos)
                if pos < 0:
                    return False
                pos += len(seg)
            return len(path) - tail >= pos and path.endswith(last)

        return match_anchored
    rest = tuple(p for p in parts[1:] if p)
    if not rest:
        return lambda path: path.startswith(first)

    def match_open(path: str) -> bool:
        if not path.startswith(first):
            return False
        pos = start
        for seg in rest:
            pos = path.find(seg, pos)
            if pos < 0:
                return False
            pos += len(seg)
        return True

    return match_open


def _atoms(canonical: str) -> tuple[tuple[tuple[str, ...] | None, ...], bool]:
    """The pattern as a sequence of atoms: None for ``*``, else the alternatives one atom may
    match (``%2A`` stands for a literal ``*`` and, as in the reference matcher, the escape
    itself)."""
    anchored = canonical.endswith("$")
    body = canonical[:-1] if anchored else canonical
    out: list[tuple[str, ...] | None] = []
    i = 0
    n = len(body)
    while i < n:
        ch = body[i]
        if ch == "*":
            if not out or out[-1] is not None:
                out.append(None)
            i += 1
        elif ch == "%" and body[i : i + 3] in _ESCAPES:
            out.append(_ESCAPES[body[i : i + 3]])
            i += 3
        elif ch == "$":
            # A "$" before the end is no anchor; the reference matches it like "%24".
            out.append(_ESCAPES["%24"])
            i += 1
        else:
            out.append((ch,))
            i += 1
    return tuple(out), anchored


def _simulate(canonical: str) -> Callable[[str], bool]:
    """A set-of-states matcher: every (atom, path position) pair is visited at most once."""
    atoms, anchored = _atoms(canonical)
    m = len(atoms)
    # closure[s]: states reachable from s without consuming input (a "*" may match nothing).
    closure: list[frozenset[int]] = []
    for s in range(m + 1):
        reach = {s}
        t = s
        while t < m and atoms[t] is None:
            t += 1
            reach.add(t)
        closure.append(frozenset(reach))

    def match(path: str) -> bool:
        n = len(path)
        pending: dict[int, set[int]] = {0: set(closure[0])}
        for pos in range(n + 1):
            states = pending.pop(pos, None)
            if states is None:
                if not pending:
                    return False
                continue
            if m in states and (not anchored or pos == n):
                return True
            if pos == n:
                break
            for s in states:
                if s == m:
                    continue
                atom = atoms[s]
                if atom is None:
                    pending.setdefault(pos + 1, set()).update(closure[s])
                    continue
                for alt in atom:
                    if path.startswith(alt, pos):
                        pending.setdefault(pos + len(alt), set()).update(closure[s + 1])
        return False

    return match


def compile_canonical(canonical: str) -> Callable[[str], bool]:
    """The matcher for a pattern already in canonical form."""
    if not canonical:
        return _never
    if "%2A" in canonical or "%24" in canonical or "$" in canonical[:-1]:
        return _simulate(canonical)
    return _find_chain(canonical)


def is_plain(canonical: str) -> bool:
    """True when the canonical pattern is a plain prefix (no wildcard, anchor or escape)."""
    return not ("*" in canonical or "$" in canonical or "%2A" in canonical or "%24" in canonical)


@lru_cache(maxsize=65536)
def path_pattern(raw: str, *, root_relative: bool = True) -> PathPattern:
    """Compile a pattern. Never raises; an empty pattern matches nothing.

    ``root_relative``: a pattern without a leading ``/`` or ``*`` (``open/``, ``images/``) is
    read as if it had one, which is what its author meant (TDMRep, RSL, ai.txt, Content-Usage).
    robots.txt passes False, as Google's matcher does: such a rule then matches nothing.
    """
    # ASCII whitespace only: Google keeps U+00A0 and friends as part of the pattern.
    pat = raw.strip(" \t\n\v\f\r") if isinstance(raw, str) else ""
    if not pat:
        return PathPattern(raw, "", 0, None, _never)
    if root_relative and pat[0] not in "/*":
        pat = "/" + pat
    canonical = canon(pat)
    literal = canonical if is_plain(canonical) else None
    return PathPattern(raw, canonical, priority(pat), literal, compile_canonical(canonical))
