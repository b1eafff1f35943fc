"""Embedded metadata in media bodies: XMP packets found in any bytes.

From each XMP packet (``<x:xmpmeta>`` … ``</x:xmpmeta>``, or the ``<?xpacket begin`` …
``<?xpacket end`` region) this reads:

* IPTC / PLUS ``plus:DataMining`` (URI, bare code or an ExifTool human label) and
  ``plus:OtherConstraints``;
* licence and rights fields: ``cc:license``, ``xmpRights:WebStatement``, ``xmpRights:Marked``,
  ``xmpRights:UsageTerms``, ``dc:rights``;
* TDMRep ``tdm:reservation`` / ``tdm:policy`` (both namespace spellings) via
  :func:`tdmrep.tdm_from_xmp`.

Sans-I/O and total: hostile input gives ``problems``, never an exception. Work is capped: the
scan looks at the first :data:`MAX_SCAN_BYTES` bytes and at most :data:`MAX_PACKETS` packets of
at most :data:`MAX_PACKET_BYTES` each. XMP inside compressed PDF streams or compressed PNG
``iTXt`` chunks is not seen.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from . import tdmrep

MAX_SCAN_BYTES = 64 * 1024 * 1024
MAX_PACKET_BYTES = 2 * 1024 * 1024
MAX_PACKETS = 16
MAX_VALUES = 64

NS_PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
NS_CC = "http://creativecommons.org/ns#"
NS_XMPRIGHTS = "http://ns.adobe.com/xap/1.0/rights/"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"

DMI_VOCAB = "http://ns.useplus.org/ldf/vocab/"

#: Every PLUS DataMining code (IPTC Photo Metadata 2023.1 / Video Metadata Hub 1.5).
DMI_CODES = (
    "DMI-UNSPECIFIED",
    "DMI-ALLOWED",
    "DMI-PROHIBITED-AIMLTRAINING",
    "DMI-PROHIBITED-GENAIMLTRAINING",
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
    "DMI-PROHIBITED",
    "DMI-PROHIBITED-SEECONSTRAINT",
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR",
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
)

#: ExifTool's print conversions (lower-cased, whitespace collapsed) -> code.
_EXIFTOOL_LABELS = {
    "unspecified - no prohibition defined": "DMI-UNSPECIFIED",
    "unspecified": "DMI-UNSPECIFIED",
    "allowed": "DMI-ALLOWED",
    "prohibited for ai/ml training": "DMI-PROHIBITED-AIMLTRAINING",
    "prohibited for generative ai/ml training": "DMI-PROHIBITED-GENAIMLTRAINING",
    "prohibited except for search engine indexing": "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
    "prohibited": "DMI-PROHIBITED",
    "prohibited, see plus:otherconstraints": "DMI-PROHIBITED-SEECONSTRAINT",
    "prohibited, see iptcext:embdencrightsexpr": "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR",
    "prohibited, see iptcext:linkedencrightsexpr": "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
}

_ALL = frozenset({"train-ai", "search", "ai-input", "tdm"})
_NOT_SEARCH = frozenset({"train-ai", "ai-input", "tdm"})

#: code -> (purposes it reserves, strength). DMI-ALLOWED / UNSPECIFIED reserve nothing.
DMI_SCOPE: dict[str, tuple[frozenset[str], str]] = {
    "DMI-PROHIBITED": (_ALL, "explicit"),
    "DMI-PROHIBITED-AIMLTRAINING": (frozenset({"train-ai"}), "explicit"),
    "DMI-PROHIBITED-GENAIMLTRAINING": (frozenset({"train-ai"}), "explicit"),
    "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING": (_NOT_SEARCH, "explicit"),
    # "Prohibited, see <other field>": a reservation whose exact scope lives elsewhere.
    "DMI-PROHIBITED-SEECONSTRAINT": (_NOT_SEARCH, "inferred"),
    "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR": (_NOT_SEARCH, "inferred"),
    "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR": (_NOT_SEARCH, "inferred"),
}

_DOCTYPE_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)


def dmi_code(value: object) -> str | None:
    """Normalise a ``plus:DataMining`` value (URI, bare code, ExifTool label) to its code."""
    if not isinstance(value, str):
        return None
    v = " ".join(value.split())
    if not v or len(v) > 300:
        return None
    low = v.lower()
    if low.startswith(("http://", "https://")):
        low = low.split("://", 1)[1]
        if not low.startswith("ns.useplus.org/ldf/vocab/"):
            return None
        low = low.rsplit("/", 1)[-1]
    up = low.upper()
    if up in DMI_CODES:
        return up
    if "DMI-" + up in DMI_CODES:
        return "DMI-" + up
    return _EXIFTOOL_LABELS.get(low.rstrip("."))


def dmi_applies(code: str, purpose: str) -> str | None:
    """``"explicit"``/``"inferred"`` when ``code`` reserves ``purpose``; ``"allowed"``; None."""
    if code == "DMI-ALLOWED":
        return "allowed"
    scope = DMI_SCOPE.get(code)
    if scope is None or purpose not in scope[0]:
        return None
    return scope[1]


@dataclass(frozen=True, slots=True)
class EmbeddedMetadata:
    """What the XMP packets of one body say (empty tuples / None when silent)."""

    packets: int = 0
    data_mining: tuple[str, ...] = ()  # normalised DMI codes, document order, de-duplicated
    data_mining_raw: tuple[str, ...] = ()  # as written
    other_constraints: tuple[str, ...] = ()
    licence_urls: tuple[tuple[str, str], ...] = ()  # (property, value) for cc:license etc.
    rights: tuple[str, ...] = ()  # dc:rights, xmpRights:UsageTerms text
    marked: bool | None = None  # xmpRights:Marked
    tdm: tdmrep.TdmValue | None = None  # None when no packet carries tdm:* properties
    problems: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.packets > 0


def _as_bytes(data: object) -> bytes | None:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8", "replace")
    return None


def find_xmp_packets(data: object, *, limit: int = MAX_PACKETS) -> list[bytes]:
    """XMP packets in any bytes (JPEG APP1, TIFF, PDF metadata stream, MP4 box, sidecar)."""
    raw = _as_bytes(data)
    if not raw:
        return []
    raw = raw[:MAX_SCAN_BYTES]
    out: list[bytes] = []
    pos = 0
    while len(out) < limit:
        starts = [
            (i, kind)
            for i, kind in (
                (raw.find(b"<x:xmpmeta", pos), "meta"),
                (raw.find(b"<x:xapmeta", pos), "xap"),
                (raw.find(b"<?xpacket begin", pos), "xpacket"),
            )
            if i >= 0
        ]
        if not starts:
            break
        i, kind = min(starts)
        if kind == "xpacket":
            body = raw.find(b"?>", i)
            end = raw.find(b"<?xpacket end", body + 2) if body >= 0 else -1
            if body < 0 or end < 0:
                break
            inner = raw[body + 2 : end].strip()
            tail = raw.find(b"?>", end)
            pos = end + 13 if tail < 0 else tail + 2
            # The region normally holds an x:xmpmeta, which the branch above then finds.
            if b"<x:xmpmeta" in inner or b"<x:xapmeta" in inner:
                pos = body + 2
                continue
        else:
            close = b"</x:xmpmeta>" if kind == "meta" else b"</x:xapmeta>"
            end = raw.find(close, i)
            if end < 0:
                break
            inner = raw[i : end + len(close)]
            pos = end + len(close)
        if inner and len(inner) <= MAX_PACKET_BYTES:
            out.append(inner)
    return out


def _local_values(el: ET.Element) -> list[str]:
    """Values of an XMP property element: rdf:resource, rdf:li items, or its text."""
    res = el.get(f"{{{NS_RDF}}}resource")
    if res is not None:
        return [res.strip()]
    items = [li for li in el.iter(f"{{{NS_RDF}}}li")]
    if items:
        out = []
        for li in items:
            r = li.get(f"{{{NS_RDF}}}resource")
            t = r if r is not None else "".join(li.itertext())
            if t.strip():
                out.append(t.strip())
        return out
    t = "".join(el.itertext()).strip()
    return [t] if t else []


_PROPS = {
    (NS_PLUS, "DataMining"): "dmi",
    (NS_PLUS, "OtherConstraints"): "other",
    (NS_CC, "license"): "cc:license",
    (NS_XMPRIGHTS, "WebStatement"): "xmpRights:WebStatement",
    (NS_XMPRIGHTS, "UsageTerms"): "rights",
    (NS_XMPRIGHTS, "Marked"): "marked",
    (NS_DC, "rights"): "rights",
}


def _packet_props(packet: bytes) -> tuple[list[tuple[str, str]], str | None]:
    if _DOCTYPE_RE.search(packet):
        return [], "XMP with DTD/entity declaration refused"
    try:
        root = ET.fromstring(packet)
    except Exception as exc:  # hostile XML: record, never raise
        return [], f"XMP not well-formed: {type(exc).__name__}"
    found: list[tuple[str, str]] = []
    for el in root.iter():
        if len(found) > 4 * MAX_VALUES:
            break
        # Properties in attribute form: <rdf:Description plus:DataMining="...">
        for key, val in el.attrib.items():
            if key.startswith("{"):
                ns, _, local = key[1:].partition("}")
                kind = _PROPS.get((ns, local))
                if kind is not None and val.strip():
                    found.append((kind, val.strip()))
        tag = el.tag
        if isinstance(tag, str) and tag.startswith("{"):
            ns, _, local = tag[1:].partition("}")
            kind = _PROPS.get((ns, local))
            if kind is not None:
                found.extend((kind, v) for v in _local_values(el))
    return found, None


def _add(seq: list, value: object) -> None:
    if value not in seq and len(seq) < MAX_VALUES:
        seq.append(value)


def parse_xmp(data: object) -> EmbeddedMetadata:
    """Every embedded signal of the XMP packets found in ``data`` (never raises)."""
    try:
        return _parse_xmp(data)
    except Exception as exc:  # defensive: a parser bug must not break a scan
        return EmbeddedMetadata(problems=(f"embedded metadata: {type(exc).__name__}",))


def _parse_xmp(data: object) -> EmbeddedMetadata:
    packets = find_xmp_packets(data)
    if not packets:
        return EmbeddedMetadata()
    dmi: list[str] = []
    dmi_raw: list[str] = []
    other: list[str] = []
    lic: list[tuple[str, str]] = []
    rights: list[str] = []
    marked: bool | None = None
    problems: list[str] = []
    tdm: tdmrep.TdmValue | None = None
    for packet in packets:
        props, problem = _packet_props(packet)
        if problem:
            _add(problems, problem)
            continue
        for kind, value in props:
            if kind == "dmi":
                _add(dmi_raw, value)
                code = dmi_code(value)
                if code is None:
                    _add(problems, f"unknown plus:DataMining value {value[:80]!r}")
                else:
                    _add(dmi, code)
            elif kind == "other":
                _add(other, value)
            elif kind == "rights":
                _add(rights, value)
            elif kind == "marked":
                low = value.strip().lower()
                if low in ("true", "false"):
                    marked = (marked or False) or low == "true"
            else:
                _add(lic, (kind, value))
        v = tdmrep.tdm_from_xmp(packet)
        has_tdm = v.reservation is not None or v.raw_reservation is not None or v.policy
        if has_tdm:
            if tdm is None:
                tdm = v
            elif v.reservation != tdm.reservation:
                _add(problems, "XMP packets disagree on tdm:reservation: the first is used")
    if "DMI-ALLOWED" in dmi and any(c.startswith("DMI-PROHIBITED") for c in dmi):
        _add(problems, "plus:DataMining both allowed and prohibited")
    return EmbeddedMetadata(
        packets=len(packets),
        data_mining=tuple(dmi),
        data_mining_raw=tuple(dmi_raw),
        other_constraints=tuple(other),
        licence_urls=tuple(lic),
        rights=tuple(rights),
        marked=marked,
        tdm=tdm,
        problems=tuple(problems),
    )
