"""W3C TDMRep, CG-FINAL-tdmrep-20240510: tdmrep.json, headers, meta, layering.

Strict vs lenient: values the spec calls a protocol error (``"1"`` as a JSON string, ``true``,
``1.0``, ``.*`` regex-style locations, an object instead of an array, conflicting header
values) are still read when their intent is unambiguous, but the rule/value is flagged
``lenient``; strict evaluation (``strict=True`` or the policy's strict mode) treats a lenient
value as unset. Values with no clear intent (``2``, ``"yes"``, ``null``) are unset in both.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from .headers import header_lines
from .matching import PathPattern, canon_path, path_pattern

SPEC_VERSION = "CG-FINAL-tdmrep-20240510"

#: Refuse absurd files before JSON decoding; a real tdmrep.json is a few KiB.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_RULES = 10_000


@dataclass(frozen=True, slots=True)
class TdmRule:
    index: int
    location: str  # as written
    reservation: int | None
    policy: str | None
    lenient: bool
    raw: str
    pattern: str = ""  # the robots-style pattern actually matched (lenient rewrite applied)
    problems: tuple[str, ...] = ()
    raw_reservation: str | None = None  # the JSON text of the value, e.g. '"1"' or 'true'

    def _compiled(self, strict: bool) -> PathPattern:
        return path_pattern(self.location if strict else self.pattern)


@dataclass(frozen=True, slots=True)
class TdmValue:
    reservation: int | None = None
    policy: str | None = None
    raw_reservation: str | None = None
    values: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    lenient: bool = False
    raw_policy: str | None = None

    def strict(self) -> TdmValue:
        """The same value read strictly: a lenient reservation becomes unset."""
        if not self.lenient:
            return self
        return TdmValue(
            reservation=None,
            policy=self.policy,
            raw_reservation=self.raw_reservation,
            values=self.values,
            problems=(*self.problems, "strict: lenient value treated as unset"),
            lenient=False,
            raw_policy=self.raw_policy,
        )


@dataclass(frozen=True, slots=True)
class TdmMatch:
    rule: TdmRule | None
    shadowed: bool = False
    #: The longest matching rule (robots-style), recorded when it differs from ``rule``.
    longest: TdmRule | None = None
    strict: bool = False

    @property
    def value(self) -> TdmValue | None:
        """The matched rule as a :class:`TdmValue` for :func:`layer` (None: no match)."""
        r = self.rule
        if r is None:
            return None
        lenient = r.lenient
        reservation = r.reservation
        if self.strict and lenient:
            reservation, lenient = None, False
        return TdmValue(
            reservation=reservation,
            policy=r.policy,
            raw_reservation=r.raw_reservation,
            values=(r.raw_reservation,) if r.raw_reservation is not None else (),
            problems=r.problems,
            lenient=lenient,
            raw_policy=r.policy,
        )


@dataclass(frozen=True, slots=True)
class TdmRepFile:
    ok: bool
    rules: tuple[TdmRule, ...] = ()
    lenient: bool = False
    problems: tuple[str, ...] = ()
    sha256: str = ""

    def match(self, path_query: str, *, strict: bool = False) -> TdmMatch:
        """First matching rule in array order (the spec's rule), flagging longer later rules."""
        if not isinstance(path_query, str):
            return TdmMatch(None, strict=strict)
        pq = canon_path(path_query)
        if not pq.startswith("/"):
            pq = "/" + pq
        first: TdmRule | None = None
        longest: TdmRule | None = None
        longest_len = -1
        for rule in self.rules:
            if strict and rule.location != rule.pattern and rule.lenient:
                pat = rule._compiled(True)
            else:
                pat = rule._compiled(strict=False)
            if not pat.matches(pq):
                continue
            if first is None:
                first = rule
            if pat.length > longest_len:
                longest, longest_len = rule, pat.length
        if first is None:
            return TdmMatch(None, strict=strict)
        shadowed = longest is not first and longest is not None
        shadowed = shadowed and longest.reservation != first.reservation  # type: ignore[union-attr]
        return TdmMatch(first, shadowed, longest if longest is not first else None, strict)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _reservation(value: Any) -> tuple[int | None, bool, str | None]:
    """-> (reservation, lenient, problem)."""
    if isinstance(value, bool):
        return (1 if value else 0), True, f"tdm-reservation is a JSON boolean ({value!r})"
    if isinstance(value, int):
        if value in (0, 1):
            return value, False, None
        return None, False, f"tdm-reservation {value} is not 0/1 -> unset"
    if isinstance(value, float):
        if value in (0.0, 1.0):
            return int(value), True, f"tdm-reservation is a JSON number {value!r}"
        return None, False, f"tdm-reservation {value!r} is not 0/1 -> unset"
    if isinstance(value, str):
        s = value.strip()
        if s in ("0", "1"):
            return int(s), True, f"tdm-reservation is a JSON string {value!r}"
        return None, False, f"tdm-reservation {value[:40]!r} is not 0/1 -> unset"
    if value is None:
        return None, False, "tdm-reservation missing or null -> unset"
    return None, False, f"tdm-reservation of type {type(value).__name__} -> unset"


_URL_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*")


def _location(loc: str) -> tuple[str, bool, list[str]]:
    """Robots-style pattern for a location, with lenient rewrites recorded."""
    problems: list[str] = []
    lenient = False
    pat = loc.strip()
    m = _URL_PREFIX_RE.match(pat)
    if m:
        pat = pat[m.end() :] or "/"
        lenient = True
        problems.append(f"location {loc[:80]!r} is a full URL; its path is used")
    if ".*" in pat:
        # Immolare/tdmrep writes regex-style ".*"; the spec reads "." literally.
        pat = pat.replace(".*", "*")
        lenient = True
        problems.append(f"location {loc[:80]!r} uses regex '.*', read as '*'")
    if pat and not pat.startswith(("/", "*")):
        lenient = True
        problems.append(f"location {loc[:80]!r} lacks a leading '/'")
        pat = "/" + pat
    return pat, lenient, problems


def _rule(index: int, obj: Any) -> tuple[TdmRule | None, list[str]]:
    where = f"[{index}]"
    if not isinstance(obj, dict):
        return None, [f"{where}: not an object -> ignored"]
    loc = obj.get("location")
    if not isinstance(loc, str) or not loc.strip():
        return None, [f"{where}: no usable location -> ignored"]
    problems: list[str] = []
    pattern, lenient, lp = _location(loc)
    problems += [f"{where}: {p}" for p in lp]
    has_res = "tdm-reservation" in obj
    res, res_lenient, rp = _reservation(obj.get("tdm-reservation"))
    if not has_res:
        rp = "tdm-reservation missing -> unset"
    if rp:
        problems.append(f"{where}: {rp}")
    lenient = lenient or res_lenient
    pol_raw = obj.get("tdm-policy")
    policy: str | None = None
    if isinstance(pol_raw, str) and pol_raw.strip():
        policy = pol_raw.strip()
    elif pol_raw is not None:
        problems.append(f"{where}: tdm-policy is not a non-empty string -> ignored")
    raw_res = obj.get("tdm-reservation")
    try:
        raw = json.dumps(obj, ensure_ascii=False)[:2000]
        raw_res_text = None if raw_res is None else json.dumps(raw_res)[:200]
    except (TypeError, ValueError, RecursionError):
        raw = repr(obj)[:2000]
        raw_res_text = repr(raw_res)[:200]
    return (
        TdmRule(
            index=index,
            location=loc,
            reservation=res,
            policy=policy,
            lenient=lenient,
            raw=raw,
            pattern=pattern,
            problems=tuple(problems),
            raw_reservation=raw_res_text,
        ),
        problems,
    )


def parse_tdmrep_json(data: bytes | str | None) -> TdmRepFile:
    """Parse ``/.well-known/tdmrep.json``. Never raises; problems are recorded."""
    if data is None:
        return TdmRepFile(ok=False, problems=("no tdmrep.json",))
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        return TdmRepFile(ok=False, problems=(f"unsupported input type {type(data).__name__}",))
    sha = _sha(raw)
    problems: list[str] = []
    if len(raw) > MAX_FILE_BYTES:
        return TdmRepFile(
            ok=False, problems=(f"file larger than {MAX_FILE_BYTES} bytes",), sha256=sha
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("utf-8-sig", "replace")
        problems.append("not valid UTF-8; undecodable bytes replaced")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        msg = str(exc)[:120] if not isinstance(exc, RecursionError) else "nesting too deep"
        return TdmRepFile(ok=False, problems=(*problems, f"not JSON: {msg}"), sha256=sha)
    lenient = False
    if isinstance(doc, dict):
        # Brackets are mandatory, but a lone rule object has only one meaning.
        if "location" in doc:
            lenient = True
            problems.append("top level is an object, not an array: read as a one-rule array")
            doc = [doc]
        else:
            return TdmRepFile(
                ok=False,
                problems=(*problems, "top level is an object without a location: no rules"),
                sha256=sha,
            )
    if not isinstance(doc, list):
        return TdmRepFile(
            ok=False,
            problems=(*problems, f"top level is a JSON {type(doc).__name__}, not an array"),
            sha256=sha,
        )
    rules: list[TdmRule] = []
    if len(doc) > MAX_RULES:
        problems.append(f"more than {MAX_RULES} rules: the rest ignored")
        doc = doc[:MAX_RULES]
    for i, obj in enumerate(doc):
        rule, rp = _rule(i, obj)
        problems += rp
        if rule is not None:
            rules.append(rule)
            lenient = lenient or rule.lenient
    if not doc:
        problems.append("empty array: no rules")
    return TdmRepFile(
        ok=True, rules=tuple(rules), lenient=lenient, problems=tuple(problems), sha256=sha
    )


# --- headers, meta, and layering ------------------------------------------------------------


def _split_values(raw: str | None) -> list[str]:
    if raw is None:
        return []
    return [v.strip() for v in raw.split(",") if v.strip()]


def tdm_value(reservation_raw: str | None, policy_raw: str | None) -> TdmValue:
    """Normalise raw ``tdm-reservation`` / ``tdm-policy`` text (header lines or meta content).

    Several comma-separated reservation values (``1, 0``: two header lines combined) are a
    protocol error; leniently the most restrictive present value (1) is kept, flagged.
    """
    problems: list[str] = []
    lenient = False
    reservation: int | None = None
    values: tuple[str, ...] = ()
    if reservation_raw is not None and not isinstance(reservation_raw, str):
        problems.append("tdm-reservation is not text")
        reservation_raw = None
    if policy_raw is not None and not isinstance(policy_raw, str):
        problems.append("tdm-policy is not text")
        policy_raw = None
    if reservation_raw is not None:
        values = tuple(_split_values(reservation_raw))
        parsed: list[int] = []
        for v in values:
            s = v
            if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
                s = s[1:-1].strip()
                if s in ("0", "1"):
                    lenient = True
                    problems.append(f"tdm-reservation {v!r} is quoted")
            if s in ("0", "1"):
                parsed.append(int(s))
            else:
                problems.append(f"tdm-reservation {v[:40]!r} is not 0/1 -> ignored")
        if not values:
            problems.append("tdm-reservation is empty -> unset")
        distinct = set(parsed)
        if len(distinct) == 1:
            reservation = parsed[0]
            if len(parsed) > 1:
                problems.append("tdm-reservation given more than once (same value)")
        elif len(distinct) > 1:
            reservation = 1
            lenient = True
            problems.append("conflicting tdm-reservation values: 1 kept (most restrictive)")
        if reservation is not None and len(parsed) != len(values):
            lenient = True
    policy: str | None = None
    if policy_raw is not None:
        p = policy_raw.strip()
        if p:
            policy = p
        else:
            problems.append("tdm-policy is empty -> unset")
    return TdmValue(
        reservation=reservation,
        policy=policy,
        raw_reservation=reservation_raw,
        values=values,
        problems=tuple(problems),
        lenient=lenient,
        raw_policy=policy_raw,
    )


def tdm_from_headers(headers: Any) -> TdmValue:
    """``tdm-reservation`` / ``tdm-policy`` response fields (any case, several lines)."""
    res_lines = header_lines(headers, "tdm-reservation")
    pol_lines = [ln.strip() for ln in header_lines(headers, "tdm-policy") if ln.strip()]
    res_raw = ", ".join(res_lines) if res_lines else None
    pol_raw: str | None = None
    extra: tuple[str, ...] = ()
    if pol_lines:
        # A URL may contain commas, so lines are not split; differing lines keep the first.
        pol_raw = pol_lines[0]
        if len(set(pol_lines)) > 1:
            extra = (f"{len(set(pol_lines))} different tdm-policy lines: the first is used",)
    elif header_lines(headers, "tdm-policy"):
        pol_raw = ""
    v = tdm_value(res_raw, pol_raw)
    if extra:
        return TdmValue(
            reservation=v.reservation,
            policy=v.policy,
            raw_reservation=v.raw_reservation,
            values=v.values,
            problems=(*v.problems, *extra),
            lenient=v.lenient,
            raw_policy=v.raw_policy,
        )
    return v


@dataclass(frozen=True, slots=True)
class TdmResult:
    reservation: int | None = None
    policy: str | None = None
    source: str | None = None  # "file" | "header" | "meta" | "embedded" | None
    policy_source: str | None = None
    lenient: bool = False
    problems: tuple[str, ...] = ()
    #: A policy that was layered in but does not apply because the reservation is not 1.
    ignored_policy: str | None = None


def layer(
    file: TdmValue | None,
    header: TdmValue | None,
    meta: TdmValue | None,
    *,
    embedded: TdmValue | None = None,
    strict: bool = False,
) -> TdmResult:
    """Spec precedence (§2.7): header supersedes file, meta supersedes both; absent never resets.

    The policy layers the same way but only applies when the final reservation is 1 (with 0 the
    spec says it SHOULD NOT be processed).
    """
    reservation: int | None = None
    source: str | None = None
    policy: str | None = None
    policy_source: str | None = None
    lenient = False
    problems: list[str] = []
    levels = (("file", file), ("header", header), ("meta", meta), ("embedded", embedded))
    for name, val in levels:
        if val is None:
            continue
        if strict:
            val = val.strict()
        problems.extend(f"{name}: {p}" for p in val.problems)
        if val.reservation is not None:
            reservation, source, lenient = val.reservation, name, val.lenient
        if val.policy is not None:
            policy, policy_source = val.policy, name
    ignored = None
    if reservation != 1 and policy is not None:
        ignored, policy, policy_source = policy, None, None
    return TdmResult(
        reservation=reservation,
        policy=policy,
        source=source,
        policy_source=policy_source,
        lenient=lenient,
        problems=tuple(problems),
        ignored_policy=ignored,
    )


# --- embedded: PDF XMP packet (§2.6) ---------------------------------------------------------

#: The spec's PDF namespace ends in "/"; EPUB's (and some PDF writers') in "#": read both.
XMP_NAMESPACES = ("http://www.w3.org/ns/tdmrep/", "http://www.w3.org/ns/tdmrep#")
_XMP_PACKETS = ((b"<x:xmpmeta", b"</x:xmpmeta>"), (b"<rdf:RDF", b"</rdf:RDF>"))
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _first_xmp_packet(raw: bytes) -> bytes | None:
    """The leftmost ``<x:xmpmeta ...</x:xmpmeta>`` or ``<rdf:RDF ...</rdf:RDF>`` (shortest).

    What ``re.search(rb"<x:xmpmeta\b.*?</x:xmpmeta>|<rdf:RDF\b.*?</rdf:RDF>", re.S)`` finds,
    in linear time: that regex retries the lazy scan from every opening tag, so thousands of
    ``<rdf:RDF`` without a close were quadratic. If the first close after an opening tag does
    not exist, no later opening tag has one either, so one ``find`` per kind suffices.
    """
    best: tuple[int, int] | None = None
    for open_tag, close_tag in _XMP_PACKETS:
        i = raw.find(open_tag)
        while i >= 0:
            after = i + len(open_tag)
            if after >= len(raw) or raw[after] not in _WORD:  # the regex's \b
                break
            i = raw.find(open_tag, after)
        if i < 0:
            continue
        end = raw.find(close_tag, i + len(open_tag))
        if end >= 0 and (best is None or i < best[0]):
            best = (i, end + len(close_tag))
    return raw[best[0] : best[1]] if best is not None else None


def tdm_from_xmp(data: bytes | str | None) -> TdmValue:
    """``tdm:reservation`` / ``tdm:policy`` from an XMP packet (or a PDF holding one)."""
    import xml.etree.ElementTree as ET

    if data is None:
        return TdmValue()
    if isinstance(data, str):
        raw = data.encode("utf-8", "replace")
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
    else:
        return TdmValue(problems=(f"unsupported input type {type(data).__name__}",))
    packet = _first_xmp_packet(raw[:MAX_FILE_BYTES])
    if packet is None:
        return TdmValue()
    if re.search(rb"<!\s*(DOCTYPE|ENTITY)", packet, re.I):
        return TdmValue(problems=("XMP with DTD/entity declaration refused",))
    if packet.startswith(b"<rdf:RDF") and b"xmlns:rdf" not in packet:
        return TdmValue(problems=("XMP fragment without namespace declarations",))
    try:
        root = ET.fromstring(packet)
    except Exception as exc:  # hostile XML: record, never raise
        return TdmValue(problems=(f"XMP not well-formed: {type(exc).__name__}",))
    found: dict[str, str] = {}
    ns_used: set[str] = set()
    for el in root.iter():
        for ns in XMP_NAMESPACES:
            for prop in ("reservation", "policy"):
                key = f"{{{ns}}}{prop}"
                val = el.get(key)
                if val is None and el.tag == key:
                    val = "".join(el.itertext())
                if val is not None and prop not in found:
                    found[prop] = val.strip()
                    ns_used.add(ns)
    v = tdm_value(found.get("reservation"), found.get("policy"))
    if XMP_NAMESPACES[1] in ns_used:
        return TdmValue(
            reservation=v.reservation,
            policy=v.policy,
            raw_reservation=v.raw_reservation,
            values=v.values,
            problems=(*v.problems, "XMP uses the '#' namespace (EPUB spelling) in a PDF"),
            lenient=v.lenient,
            raw_policy=v.raw_policy,
        )
    return v
