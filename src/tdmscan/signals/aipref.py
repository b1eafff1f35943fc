"""IETF AI preferences: draft-ietf-aipref-vocab-08 / draft-ietf-aipref-attach-05.

A usage statement is an RFC 9651 Structured Field Dictionary (``train-ai=n, search=y``). The
draft is strict on purpose: any dictionary parse failure makes the whole statement unknown, and
only the Token values ``y``/``n`` carry meaning. The Structured Field parser below is complete
(RFC 9651 section 4.2) because "unknown" must be told apart from "parse failure" exactly.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

SPEC_VERSION = "draft-ietf-aipref-vocab-08; draft-ietf-aipref-attach-05"

#: Labels defined by vocab-08 (AI Training, AI Use, Search; Search overrides the other two
#: for use inside a search application). Everything else is recorded as unknown.
KNOWN_LABELS: frozenset[str] = frozenset({"train-ai", "ai-use", "search"})

#: The drafts that define each label, newest last: evidence names where a label comes from.
LABEL_DRAFTS: Mapping[str, str] = MappingProxyType(
    {
        "train-ai": "draft-ietf-aipref-vocab-02 to -08",
        "ai-use": "draft-ietf-aipref-vocab-02, -08",
        "search": "draft-ietf-aipref-vocab-01 to -08",
        "tdm": "draft-ietf-aipref-vocab-01",
        "ai": "draft-ietf-aipref-vocab-01",
        "genai": "draft-ietf-aipref-vocab-01",
        "inference": "draft-ietf-aipref-vocab-01",
        "all": "draft-ietf-aipref-vocab-02",
        "train-genai": "draft-ietf-aipref-vocab-02 to -03",
        "bots": "draft-ietf-aipref-vocab-03 to -04",
        "ai-output": "draft-ietf-aipref-vocab-04",
    }
)

#: Labels of earlier drafts that each implied a training opt-out when set to ``n`` under the
#: draft that defined them. vocab-08 ignores them; the policy reads them as inferred.
LEGACY_TRAINING_LABELS: frozenset[str] = frozenset(
    {"bots", "all", "tdm", "ai", "genai", "train-genai"}
)

#: Labels of earlier drafts that covered using an asset as input to a model (what vocab-08
#: calls AI Use): ``inference`` (-01) and ``ai-output`` (-04), and the catch-all ones.
LEGACY_INPUT_LABELS: frozenset[str] = frozenset({"inference", "ai-output", "bots", "all", "tdm"})


# --- RFC 9651 Structured Field values -----------------------------------------------------


class Token(str):
    """An sf-token; kept distinct from sf-string because ``y`` and ``"y"`` differ in meaning."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Token({str.__repr__(self)})"


class DisplayString(str):
    __slots__ = ()


class Date(int):
    __slots__ = ()


BareItem = int | float | str | bytes | bool | Token | DisplayString | Date


@dataclass(frozen=True, slots=True)
class Item:
    value: BareItem
    params: Mapping[str, BareItem] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InnerList:
    items: tuple[Item, ...]
    params: Mapping[str, BareItem] = field(default_factory=dict)


class _Fail(Exception):
    pass


_KEY_RE = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN_RE = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_NUM_RE = re.compile(r"-?[0-9]+(\.[0-9]*)?")
_B64_RE = re.compile(r"[A-Za-z0-9+/=]*")


class _Parser:
    __slots__ = ("n", "pos", "s")

    def __init__(self, s: str) -> None:
        self.s = s
        self.pos = 0
        self.n = len(s)

    def peek(self) -> str:
        return self.s[self.pos] if self.pos < self.n else ""

    def sp(self) -> None:
        while self.pos < self.n and self.s[self.pos] == " ":
            self.pos += 1

    def ows(self) -> None:
        while self.pos < self.n and self.s[self.pos] in " \t":
            self.pos += 1

    def key(self) -> str:
        m = _KEY_RE.match(self.s, self.pos)
        if not m:
            raise _Fail("key")
        self.pos = m.end()
        return m.group(0)

    def params(self) -> dict[str, BareItem]:
        out: dict[str, BareItem] = {}
        while self.peek() == ";":
            self.pos += 1
            self.sp()
            k = self.key()
            v: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                v = self.bare_item()
            out.pop(k, None)  # a later duplicate wins and takes the later position
            out[k] = v
        return out

    def item(self) -> Item:
        v = self.bare_item()
        return Item(v, self.params())

    def item_or_inner_list(self) -> Item | InnerList:
        if self.peek() == "(":
            return self.inner_list()
        return self.item()

    def inner_list(self) -> InnerList:
        self.pos += 1  # "("
        items: list[Item] = []
        while self.pos < self.n:
            self.sp()
            if self.peek() == ")":
                self.pos += 1
                return InnerList(tuple(items), self.params())
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise _Fail("inner list")
        raise _Fail("unterminated inner list")

    def bare_item(self) -> BareItem:
        c = self.peek()
        if c == "-" or "0" <= c <= "9":
            return self.number()
        if c == '"':
            return self.string()
        if c == "*" or (c.isascii() and c.isalpha()):
            m = _TOKEN_RE.match(self.s, self.pos)
            assert m is not None
            self.pos = m.end()
            return Token(m.group(0))
        if c == ":":
            return self.byte_seq()
        if c == "?":
            if self.s.startswith("?1", self.pos):
                self.pos += 2
                return True
            if self.s.startswith("?0", self.pos):
                self.pos += 2
                return False
            raise _Fail("boolean")
        if c == "@":
            self.pos += 1
            v = self.number()
            if not isinstance(v, int):
                raise _Fail("date")
            return Date(v)
        if c == "%":
            return self.display_string()
        raise _Fail("bare item")

    def number(self) -> int | float:
        m = _NUM_RE.match(self.s, self.pos)
        if not m:
            raise _Fail("number")
        text = m.group(0)
        self.pos = m.end()
        digits = text.lstrip("-")
        if "." not in digits:
            if len(digits) > 15:
                raise _Fail("integer too long")
            return int(text)
        whole, frac = digits.split(".", 1)
        if len(whole) > 12 or not frac or len(frac) > 3:
            raise _Fail("decimal")
        return float(text)

    def string(self) -> str:
        self.pos += 1
        out: list[str] = []
        s = self.s
        while self.pos < self.n:
            c = s[self.pos]
            self.pos += 1
            if c == "\\":
                if self.pos >= self.n or s[self.pos] not in '"\\':
                    raise _Fail("string escape")
                out.append(s[self.pos])
                self.pos += 1
            elif c == '"':
                return "".join(out)
            elif not (" " <= c <= "~"):
                raise _Fail("string char")
            else:
                out.append(c)
        raise _Fail("unterminated string")

    def byte_seq(self) -> bytes:
        self.pos += 1
        m = _B64_RE.match(self.s, self.pos)
        assert m is not None
        end = m.end()
        if end >= self.n or self.s[end] != ":":
            raise _Fail("byte sequence")
        text = m.group(0)
        self.pos = end + 1
        try:
            # RFC 9651 lets parsers accept missing padding; be tolerant here.
            return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _Fail("base64") from exc

    def display_string(self) -> DisplayString:
        if not self.s.startswith('%"', self.pos):
            raise _Fail("display string")
        self.pos += 2
        buf = bytearray()
        s = self.s
        while self.pos < self.n:
            c = s[self.pos]
            self.pos += 1
            if c == "%":
                h = s[self.pos : self.pos + 2]
                if len(h) != 2 or any(x not in "0123456789abcdef" for x in h):
                    raise _Fail("display string escape")
                buf.append(int(h, 16))
                self.pos += 2
            elif c == '"':
                try:
                    return DisplayString(buf.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise _Fail("display string utf-8") from exc
            elif not (" " <= c <= "~"):
                raise _Fail("display string char")
            else:
                buf.append(ord(c))
        raise _Fail("unterminated display string")

    def dictionary(self) -> dict[str, Item | InnerList]:
        out: dict[str, Item | InnerList] = {}
        while self.pos < self.n:
            k = self.key()
            member: Item | InnerList
            if self.peek() == "=":
                self.pos += 1
                member = self.item_or_inner_list()
            else:
                member = Item(True, self.params())
            out.pop(k, None)
            out[k] = member
            self.ows()
            if self.pos >= self.n:
                return out
            if self.peek() != ",":
                raise _Fail("expected comma")
            self.pos += 1
            self.ows()
            if self.pos >= self.n:
                raise _Fail("trailing comma")
        return out


def parse_sf_dictionary(text: str) -> dict[str, object] | None:
    """Parse an RFC 9651 Dictionary; None on any failure. Duplicate keys: the last one wins.

    Values are :class:`Item` (``.value`` a bare item, ``.params``) or :class:`InnerList`.
    """
    if not isinstance(text, str):
        return None
    if not text.isascii():
        return None
    p = _Parser(text.strip(" "))
    try:
        return dict(p.dictionary())
    except (_Fail, ValueError, IndexError, AssertionError, RecursionError):
        return None


# --- Usage preferences --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsagePrefs:
    """One usage statement. ``ok`` False means the dictionary failed to parse: all unknown."""

    raw: str
    ok: bool
    prefs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    problems: tuple[str, ...] = ()
    unknown_labels: tuple[str, ...] = ()
    present: bool = True  # False when no field line / statement was given at all

    def get(self, label: str) -> str | None:
        """``"y"``, ``"n"`` or None (unknown) for a label."""
        if not self.ok:
            return None
        return self.prefs.get(label)

    def legacy_training_optouts(self) -> tuple[str, ...]:
        """Legacy labels set to ``n`` (each once meant a training opt-out); for hint mode."""
        if not self.ok:
            return ()
        return tuple(k for k, v in self.prefs.items() if k in LEGACY_TRAINING_LABELS and v == "n")


def _describe(value: object) -> str:
    if isinstance(value, InnerList):
        return "an Inner List"
    if isinstance(value, Item):
        value = value.value
    if isinstance(value, bool):
        return "a Boolean"
    if isinstance(value, Token):
        return f"Token {value}"
    if isinstance(value, DisplayString):
        return "a Display String"
    if isinstance(value, str):
        return "a String"
    if isinstance(value, bytes):
        return "a Byte Sequence"
    if isinstance(value, Date):
        return "a Date"
    return "a number"


def parse_usage_statement(text: str) -> UsagePrefs:
    """Interpret one already-combined statement (robots.txt rule value or combined field)."""
    if not isinstance(text, str):
        return UsagePrefs(raw=repr(text), ok=False, problems=("not a string",))
    raw = text
    dic = parse_sf_dictionary(text)
    if dic is None:
        return UsagePrefs(
            raw=raw,
            ok=False,
            problems=("not a valid Structured Field Dictionary: whole statement unknown",),
        )
    prefs: dict[str, str] = {}
    problems: list[str] = []
    unknown: list[str] = []
    for label, member in dic.items():
        if label not in KNOWN_LABELS:
            unknown.append(label)
        if (
            isinstance(member, Item)
            and isinstance(member.value, Token)
            and member.value in ("y", "n")
        ):
            prefs[label] = str(member.value)
            continue
        problems.append(f"{label}: value is {_describe(member)}, not Token y/n -> unknown")
    return UsagePrefs(
        raw=raw,
        ok=True,
        prefs=MappingProxyType(prefs),
        problems=tuple(problems),
        unknown_labels=tuple(unknown),
    )


def parse_content_usage(values: str | Iterable[str] | None) -> UsagePrefs:
    """Parse ``Content-Usage`` field line(s); several lines are one comma-joined Dictionary."""
    if values is None:
        return UsagePrefs(raw="", ok=True, present=False)
    if isinstance(values, (bytes, bytearray)):
        values = values.decode("latin-1")
    if isinstance(values, str):
        lines = [values]
    else:
        try:
            lines = [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values]
        except TypeError:
            return UsagePrefs(raw="", ok=False, problems=("field lines not iterable",))
    if not lines:
        return UsagePrefs(raw="", ok=True, present=False)
    kept = [ln for ln in lines if ln.strip(" \t")]
    problems: list[str] = []
    if len(kept) != len(lines):
        problems.append("empty field line ignored")
    joined = ", ".join(ln.strip(" \t") for ln in kept)
    result = parse_usage_statement(joined)
    if problems:
        return UsagePrefs(
            raw=result.raw,
            ok=result.ok,
            prefs=result.prefs,
            problems=tuple(problems) + result.problems,
            unknown_labels=result.unknown_labels,
        )
    return result


def combine(prefs: Iterable[UsagePrefs | None], label: str) -> str | None:
    """Most restrictive across statements: any ``n`` -> n; else any ``y`` -> y; else None."""
    seen_y = False
    for p in prefs:
        if p is None:
            continue
        v = p.get(label)
        if v == "n":
            return "n"
        if v == "y":
            seen_y = True
    return "y" if seen_y else None
