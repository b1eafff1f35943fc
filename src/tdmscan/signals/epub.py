"""TDMRep in EPUB packages (technique D): the OPF package document.

* EPUB 2: ``<meta name="tdm:reservation" content="1"/>``, ``<meta name="tdm:policy" …/>``;
* EPUB 3: ``<package prefix="tdm: http://www.w3.org/ns/tdmrep#">`` and
  ``<meta property="tdm:reservation">1</meta>`` / ``<meta property="tdm:policy">URL</meta>``.

The OPF is located through ``META-INF/container.xml`` (first rootfile of media type
``application/oebps-package+xml``). Sans-I/O over the zip bytes, never raises; reads are capped
by uncompressed byte counts actually produced (not the sizes the zip claims), against zip bombs.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass

from . import tdmrep

MAX_EPUB_BYTES = 512 * 1024 * 1024
MAX_MEMBERS = 20_000
MAX_CONTAINER_BYTES = 256 * 1024
MAX_OPF_BYTES = 4 * 1024 * 1024

NS_CONTAINER = "urn:oasis:names:tc:opendocument:xmlns:container"
OPF_MEDIA_TYPE = "application/oebps-package+xml"

_DOCTYPE_RE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
_PREFIX_RE = re.compile(r"([A-Za-z_][\w.-]*):\s+(\S+)")


@dataclass(frozen=True, slots=True)
class EpubTdm:
    ok: bool = False  # an OPF was found and parsed
    opf_path: str | None = None
    tdm: tdmrep.TdmValue | None = None  # None when the OPF has no tdm:* meta
    version: str | None = None  # the package@version
    problems: tuple[str, ...] = ()


def looks_like_epub(data: bytes, content_type: str | None = None, path: str = "") -> bool:
    ct = (content_type or "").lower()
    if "epub" in ct:
        return True
    if not isinstance(data, bytes) or not data.startswith(b"PK\x03\x04"):
        return False
    return b"application/epub+zip" in data[:256] or path.lower().endswith(".epub")


def _xml(data: bytes, what: str) -> tuple[ET.Element | None, str | None]:
    if _DOCTYPE_RE.search(data):
        return None, f"{what} with DTD/entity declaration refused"
    try:
        return ET.fromstring(data), None
    except Exception as exc:
        return None, f"{what} not well-formed: {type(exc).__name__}"


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def tdm_from_opf(opf: bytes) -> tuple[tdmrep.TdmValue | None, str | None, tuple[str, ...]]:
    """(TDMRep value or None when silent, package version, problems) from OPF bytes."""
    if not isinstance(opf, (bytes, bytearray)):
        return None, None, ("OPF is not bytes",)
    root, problem = _xml(bytes(opf[:MAX_OPF_BYTES]), "OPF")
    if root is None:
        return None, None, (problem or "OPF unreadable",)
    problems: list[str] = []
    version = root.get("version")
    declared: dict[str, str] = {
        m.group(1): m.group(2) for m in _PREFIX_RE.finditer(root.get("prefix") or "")
    }
    tdm_prefixes = {p for p, uri in declared.items() if uri in tdmrep.XMP_NAMESPACES}
    if not tdm_prefixes:
        tdm_prefixes = {"tdm"}
    found: dict[str, str] = {}
    saw_undeclared = False
    for el in root.iter():
        if _local(el.tag) != "meta":
            continue
        name = el.get("name")
        prop = el.get("property")
        if name is not None:  # EPUB 2 form
            pfx, _, local = name.strip().partition(":")
            value = el.get("content")
        elif prop is not None:  # EPUB 3 form
            pfx, _, local = prop.strip().partition(":")
            value = "".join(el.itertext())
        else:
            continue
        if pfx.lower() not in {p.lower() for p in tdm_prefixes} or local not in (
            "reservation",
            "policy",
        ):
            continue
        if prop is not None and pfx not in declared and "tdm" not in declared:
            saw_undeclared = True
        if value is not None and local not in found:
            found[local] = value.strip()
    if not found:
        return None, version, tuple(problems)
    if saw_undeclared:
        problems.append("EPUB 3 tdm: prefix used without a package@prefix declaration")
    v = tdmrep.tdm_value(found.get("reservation"), found.get("policy"))
    return v, version, (*problems, *v.problems)


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes | None:
    with zf.open(info) as fh:
        data = fh.read(cap + 1)
    return None if len(data) > cap else data


def parse_epub(data: object) -> EpubTdm:
    """TDMRep from an EPUB's package document (never raises)."""
    try:
        return _parse_epub(data)
    except Exception as exc:  # zipfile/zlib/lzma errors on hostile archives
        return EpubTdm(problems=(f"EPUB unreadable: {type(exc).__name__}",))


def _parse_epub(data: object) -> EpubTdm:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return EpubTdm(problems=("EPUB body is not bytes",))
    data = bytes(data)
    if len(data) > MAX_EPUB_BYTES:
        return EpubTdm(problems=("EPUB too large",))
    if not data.startswith(b"PK"):
        return EpubTdm(problems=("not a zip archive",))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            return EpubTdm(problems=("too many zip members",))
        by_name = {i.filename: i for i in infos}
        container = by_name.get("META-INF/container.xml")
        if container is None:
            return EpubTdm(problems=("no META-INF/container.xml",))
        cdata = _read_capped(zf, container, MAX_CONTAINER_BYTES)
        if cdata is None:
            return EpubTdm(problems=("container.xml too large",))
        croot, problem = _xml(cdata, "container.xml")
        if croot is None:
            return EpubTdm(problems=(problem or "container.xml unreadable",))
        opf_path = None
        for rf in croot.iter(f"{{{NS_CONTAINER}}}rootfile"):
            mt = (rf.get("media-type") or "").strip().lower()
            fp = rf.get("full-path")
            if fp and (mt == OPF_MEDIA_TYPE or not mt):
                opf_path = fp.strip()
                break
        if opf_path is None:
            return EpubTdm(problems=("container.xml names no package document",))
        opf = by_name.get(opf_path)
        if opf is None:
            return EpubTdm(opf_path=opf_path, problems=(f"OPF {opf_path[:100]!r} missing",))
        odata = _read_capped(zf, opf, MAX_OPF_BYTES)
        if odata is None:
            return EpubTdm(opf_path=opf_path, problems=("OPF too large",))
    tdm, version, problems = tdm_from_opf(odata)
    ok = not any(p.startswith("OPF ") for p in problems)
    return EpubTdm(ok=ok, opf_path=opf_path, tdm=tdm, version=version, problems=problems)
