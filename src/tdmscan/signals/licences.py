"""Licence URLs to SPDX ids: Creative Commons and Open Data Commons.

A CC port (``/licenses/by/3.0/fr/``) is never collapsed into the unported licence: when SPDX
has no id for it, a ``LicenseRef-CC-...`` id is emitted with the jurisdiction kept apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: SPDX license-list-XML snapshot 2026-07-16: CC ports that have their own id.
SPDX_CC_PORTS: frozenset[str] = frozenset(
    {
        "CC-BY-2.5-AU",
        "CC-BY-3.0-AT",
        "CC-BY-3.0-AU",
        "CC-BY-3.0-DE",
        "CC-BY-3.0-IGO",
        "CC-BY-3.0-NL",
        "CC-BY-3.0-US",
        "CC-BY-NC-3.0-DE",
        "CC-BY-NC-3.0-IGO",
        "CC-BY-NC-ND-3.0-DE",
        "CC-BY-NC-ND-3.0-IGO",
        "CC-BY-NC-SA-2.0-DE",
        "CC-BY-NC-SA-2.0-FR",
        "CC-BY-NC-SA-2.0-UK",
        "CC-BY-NC-SA-3.0-DE",
        "CC-BY-NC-SA-3.0-IGO",
        "CC-BY-ND-3.0-DE",
        "CC-BY-SA-2.0-UK",
        "CC-BY-SA-2.1-JP",
        "CC-BY-SA-3.0-AT",
        "CC-BY-SA-3.0-DE",
        "CC-BY-SA-3.0-IGO",
    }
)
_SPDX_CODES = frozenset({"by", "by-sa", "by-nd", "by-nc", "by-nc-sa", "by-nc-nd"})
_SPDX_VERSIONS = frozenset({"1.0", "2.0", "2.5", "3.0", "4.0"})
_CC_VERSIONS = frozenset({"1.0", "2.0", "2.1", "2.5", "3.0", "4.0"})
#: Codes as written in URLs -> canonical element order (1.0 wrote by-nd-nc, nd-nc).
_CC_CODES = {
    "by": "by",
    "by-sa": "by-sa",
    "by-nd": "by-nd",
    "by-nc": "by-nc",
    "by-nc-sa": "by-nc-sa",
    "by-nc-nd": "by-nc-nd",
    "by-nd-nc": "by-nc-nd",
    "nd": "nd",
    "nc": "nc",
    "sa": "sa",
    "nd-nc": "nc-nd",
    "nc-nd": "nc-nd",
    "nc-sa": "nc-sa",
    "sampling": "sampling",
    "sampling+": "sampling-plus",
    "nc-sampling+": "nc-sampling-plus",
    "devnations": "devnations",
    "gpl": "gpl",
    "lgpl": "lgpl",
    "bsd": "bsd",
}
_SUFFIX_RE = re.compile(
    r"^(deed(\.[a-z0-9_@-]+)?|legalcode(\.[a-z0-9_@-]+)?(\.txt)?|rdf|index\.html?)$"
)
_JUR_RE = re.compile(r"^[a-z]{2,10}$")


@dataclass(frozen=True, slots=True)
class LicenceId:
    spdx: str  # an SPDX id, or "LicenseRef-..." when SPDX has none
    family: str  # e.g. "CC-BY-NC-ND", "CC0", "ODbL"
    version: str | None
    jurisdiction: str | None  # upper-case port code, e.g. "FR", "IGO"
    url: str  # canonical https URL
    is_spdx: bool
    hint: bool = False  # from a badge image URL rather than a licence link


def _segments(url: str) -> tuple[str, list[str]] | None:
    u = url.strip().lower()
    u = re.split(r"[?#]", u, maxsplit=1)[0]
    m = re.match(r"^(?:https?:)?//([^/]+)(/.*)?$", u)
    if not m:
        return None
    host = m.group(1).rsplit("@", 1)[-1]
    host = re.sub(r":\d*$", "", host).rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    path = m.group(2) or "/"
    return host, [s for s in path.split("/") if s]


def _cc(segs: list[str], hint: bool) -> LicenceId | None:
    if not segs:
        return None
    head, rest = segs[0], segs[1:]
    if rest and _SUFFIX_RE.match(rest[-1]):
        rest = rest[:-1]
    if head == "publicdomain" and len(rest) >= 1:
        kind = rest[0]
        ver = rest[1] if len(rest) > 1 else "1.0"
        if kind == "zero" and ver == "1.0":
            return LicenceId(
                "CC0-1.0",
                "CC0",
                "1.0",
                None,
                "https://creativecommons.org/publicdomain/zero/1.0/",
                True,
                hint,
            )
        if kind == "mark" and ver == "1.0":
            return LicenceId(
                "CC-PDM-1.0",
                "CC-PDM",
                "1.0",
                None,
                "https://creativecommons.org/publicdomain/mark/1.0/",
                True,
                hint,
            )
        return None
    if head == "licenses" and rest == ["publicdomain"]:
        return LicenceId(
            "CC-PDDC",
            "CC-PDDC",
            None,
            None,
            "https://creativecommons.org/licenses/publicdomain/",
            True,
            hint,
        )
    # Badge images: i.creativecommons.org/l/by/4.0/88x31.png, /p/zero/1.0/88x31.png
    if hint and head in ("l", "p"):
        rest = [s for s in rest if not s.endswith((".png", ".svg", ".gif", ".jpg"))]
        if head == "p":
            return _cc(["publicdomain", *rest], hint)
        head = "licenses"
    if head != "licenses" or len(rest) < 2:
        return None
    code_raw, version = rest[0], rest[1]
    jur = rest[2] if len(rest) > 2 else None
    if len(rest) > 3 or version not in _CC_VERSIONS:
        return None
    if jur is not None and not _JUR_RE.match(jur):
        return None
    code = _CC_CODES.get(code_raw)
    if code is None:
        return None
    family = "CC-" + code.upper()
    canon = f"https://creativecommons.org/licenses/{code_raw}/{version}/" + (
        f"{jur}/" if jur else ""
    )
    jur_up = jur.upper() if jur else None
    if jur_up:
        candidate = f"{family}-{version}-{jur_up}"
        is_spdx = candidate in SPDX_CC_PORTS
    else:
        candidate = f"{family}-{version}"
        is_spdx = (code in _SPDX_CODES and version in _SPDX_VERSIONS) or candidate == "CC-SA-1.0"
    spdx = candidate if is_spdx else f"LicenseRef-{candidate}"
    return LicenceId(spdx, family, version, jur_up, canon, is_spdx, hint)


_ODC = {
    "odbl": ("ODbL-1.0", "ODbL", "https://opendatacommons.org/licenses/odbl/1-0/"),
    "by": ("ODC-By-1.0", "ODC-By", "https://opendatacommons.org/licenses/by/1-0/"),
    "odc-by": ("ODC-By-1.0", "ODC-By", "https://opendatacommons.org/licenses/by/1-0/"),
    "pddl": ("PDDL-1.0", "PDDL", "https://opendatacommons.org/licenses/pddl/1-0/"),
}


def _odc(segs: list[str]) -> LicenceId | None:
    if len(segs) < 2 or segs[0] != "licenses" or segs[1] not in _ODC:
        return None
    version = segs[2] if len(segs) > 2 else None
    # Only 1.0 exists; the summary page and index pages name it too.
    if version not in (None, "1.0", "1-0", "summary", "index.html", "odbl-10.txt"):
        return None
    spdx, family, url = _ODC[segs[1]]
    return LicenceId(spdx, family, "1.0", None, url, True)


def licence_from_url(url: str) -> LicenceId | None:
    """Map a licence URL to an SPDX id (or LicenseRef); None when it is not one we know."""
    if not isinstance(url, str) or len(url) > 2048:
        return None
    parsed = _segments(url)
    if parsed is None:
        return None
    host, segs = parsed
    if host == "creativecommons.org":
        return _cc(segs, hint=False)
    if host in ("i.creativecommons.org", "licensebuttons.net", "mirrors.creativecommons.org"):
        return _cc(segs, hint=True)
    if host == "opendatacommons.org":
        return _odc(segs)
    return None


_URL_IN_TEXT_RE = re.compile(
    r"(?:https?:)?//(?:www\.)?(?:creativecommons\.org|opendatacommons\.org)/[^\s\"'<>)\]]*",
    re.I,
)


def licences_in_text(text: str) -> tuple[LicenceId, ...]:
    """Licence URLs mentioned in free text (``dc.rights``, copyright notices)."""
    if not isinstance(text, str):
        return ()
    out: list[LicenceId] = []
    for m in _URL_IN_TEXT_RE.finditer(text[:100_000]):
        lid = licence_from_url(m.group(0).rstrip(".,;"))
        if lid is not None and lid not in out:
            out.append(lid)
    return tuple(out)
