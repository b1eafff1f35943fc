"""Embedded signals: XMP (IPTC DataMining, licences, TDMRep), EPUB OPF, C2PA/CAWG, and the
referring page's noai/noimageai (TDMRep in EPUB/PDF, IPTC data mining, CAWG, inherited noai)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tdmscan
from tdmscan import Fetched
from tdmscan.policy import decide, parse_page, parse_site
from tdmscan.signals import c2pa, embedded, epub, tdmrep
from tdmscan.types import SiteFiles

IMG = "https://example.com/img/photo.jpg"
PAGE = "https://example.com/gallery/work.html"
VOCAB = "http://ns.useplus.org/ldf/vocab/"
PURPOSES = ("train-ai", "search", "ai-input", "tdm")


def xmp(desc_attrs: str = "", body: str = "", extra_ns: str = "") -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/"'
        ' xmlns:cc="http://creativecommons.org/ns#"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"'
        f" {extra_ns} {desc_attrs}>{body}</rdf:Description></rdf:RDF></x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()


def jpeg(packet: bytes) -> bytes:
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        b"\xff\xe1\x10\x00http://ns.adobe.com/xap/1.0/\x00" + packet + b"\xff\xdb\x00\x43" * 50
    )


def dmi(value: str) -> bytes:
    return jpeg(xmp(body=f"<plus:DataMining>{value}</plus:DataMining>"))


def image(body: bytes, headers=(), url: str = IMG, ctype: str = "image/jpeg") -> Fetched:
    return Fetched(status=200, headers=[("Content-Type", ctype), *headers], body=body, url=url)


def html_page(head: str, headers=()) -> Fetched:
    body = f"<html><head>{head}</head><body><img src='/img/photo.jpg'></body></html>".encode()
    return Fetched(
        status=200, headers=[("Content-Type", "text/html"), *headers], body=body, url=PAGE
    )


# --------------------------------------------------------------------------- IPTC DataMining

# (value as written, code, purposes reserved, strength)
DMI_CASES = [
    (VOCAB + "DMI-UNSPECIFIED", "DMI-UNSPECIFIED", set(), None),
    (VOCAB + "DMI-ALLOWED", "DMI-ALLOWED", set(), None),
    (
        VOCAB + "DMI-PROHIBITED-AIMLTRAINING",
        "DMI-PROHIBITED-AIMLTRAINING",
        {"train-ai"},
        "explicit",
    ),
    (
        VOCAB + "DMI-PROHIBITED-GENAIMLTRAINING",
        "DMI-PROHIBITED-GENAIMLTRAINING",
        {"train-ai"},
        "explicit",
    ),
    (
        VOCAB + "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
        "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
        {"train-ai", "ai-input", "tdm"},
        "explicit",
    ),
    (VOCAB + "DMI-PROHIBITED", "DMI-PROHIBITED", set(PURPOSES), "explicit"),
    (
        VOCAB + "DMI-PROHIBITED-SEECONSTRAINT",
        "DMI-PROHIBITED-SEECONSTRAINT",
        {"train-ai", "ai-input", "tdm"},
        "inferred",
    ),
    (
        VOCAB + "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR",
        "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR",
        {"train-ai", "ai-input", "tdm"},
        "inferred",
    ),
    (
        VOCAB + "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
        "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
        {"train-ai", "ai-input", "tdm"},
        "inferred",
    ),
    # ExifTool human labels
    ("Unspecified - no prohibition defined", "DMI-UNSPECIFIED", set(), None),
    ("Allowed", "DMI-ALLOWED", set(), None),
    ("Prohibited for AI/ML training", "DMI-PROHIBITED-AIMLTRAINING", {"train-ai"}, "explicit"),
    (
        "Prohibited for Generative AI/ML training",
        "DMI-PROHIBITED-GENAIMLTRAINING",
        {"train-ai"},
        "explicit",
    ),
    (
        "Prohibited except for search engine indexing",
        "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING",
        {"train-ai", "ai-input", "tdm"},
        "explicit",
    ),
    ("Prohibited", "DMI-PROHIBITED", set(PURPOSES), "explicit"),
    (
        "Prohibited, see plus:OtherConstraints",
        "DMI-PROHIBITED-SEECONSTRAINT",
        {"train-ai", "ai-input", "tdm"},
        "inferred",
    ),
    (
        "Prohibited, see iptcExt:EmbdEncRightsExpr",
        "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR",
        {"train-ai", "ai-input", "tdm"},
        "inferred",
    ),
    (
        "Prohibited, see iptcExt:LinkedEncRightsExpr",
        "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
        {"train-ai", "ai-input", "tdm"},
        "inferred",
    ),
    # bare codes and https
    ("DMI-PROHIBITED-AIMLTRAINING", "DMI-PROHIBITED-AIMLTRAINING", {"train-ai"}, "explicit"),
    (
        "https://ns.useplus.org/ldf/vocab/DMI-PROHIBITED",
        "DMI-PROHIBITED",
        set(PURPOSES),
        "explicit",
    ),
]


@pytest.mark.parametrize(("value", "code", "reserved", "strength"), DMI_CASES)
def test_dmi_code_and_parser(value, code, reserved, strength):
    assert embedded.dmi_code(value) == code
    meta = embedded.parse_xmp(dmi(value))
    assert meta.packets == 1
    assert meta.data_mining == (code,)
    assert meta.data_mining_raw == (value,)
    for purpose in PURPOSES:
        how = embedded.dmi_applies(code, purpose)
        if purpose in reserved:
            assert how == strength
        else:
            assert how == ("allowed" if code == "DMI-ALLOWED" else None)


@pytest.mark.parametrize(("value", "code", "reserved", "strength"), DMI_CASES)
@pytest.mark.parametrize("purpose", PURPOSES)
def test_dmi_through_evaluate(value, code, reserved, strength, purpose):
    for mode in ("conservative", "strict"):
        d = tdmscan.evaluate(IMG, "MyBot", response=image(dmi(value)), purpose=purpose, mode=mode)
        ev = [e for e in d.evidence if e.protocol == "iptc"]
        assert len(ev) == 1 and ev[0].raw == value and ev[0].locator == "XMP plus:DataMining"
        if purpose in reserved:
            assert ev[0].reason == "iptc:dmi-prohibited"
            assert ev[0].interpretation == "reserved" and ev[0].strength == strength
            decisive = strength == "explicit" or mode == "conservative"
            assert ev[0].decisive == decisive
            assert d.verdict == ("reserved" if decisive else "allowed")
            assert d.reasons == (("iptc:dmi-prohibited",) if decisive else ())
        elif code == "DMI-ALLOWED":
            assert d.verdict == "allowed" and d.reasons == ()
            assert ev[0].interpretation == "allowed" and ev[0].reason == "iptc:dmi-allowed"
        else:
            assert d.verdict == "allowed" and d.reasons == ()
            assert ev[0].interpretation == "info" and ev[0].reason == f"iptc:{code}"


def test_dmi_attribute_form_resource_form_and_other_constraints():
    body = jpeg(
        xmp(
            desc_attrs=f'plus:DataMining="{VOCAB}DMI-PROHIBITED-SEECONSTRAINT"',
            body="<plus:OtherConstraints><rdf:Alt><rdf:li xml:lang='x-default'>"
            "No training without a licence</rdf:li></rdf:Alt></plus:OtherConstraints>",
        )
    )
    meta = embedded.parse_xmp(body)
    assert meta.data_mining == ("DMI-PROHIBITED-SEECONSTRAINT",)
    assert meta.other_constraints == ("No training without a licence",)
    d = tdmscan.evaluate(IMG, response=image(body))
    assert d.reasons == ("iptc:dmi-prohibited",)
    assert any(e.reason == "iptc:other-constraints" for e in d.evidence)
    res = jpeg(xmp(body=f'<plus:DataMining rdf:resource="{VOCAB}DMI-PROHIBITED"/>'))
    assert embedded.parse_xmp(res).data_mining == ("DMI-PROHIBITED",)


def test_unknown_dmi_value_is_a_problem_not_a_reservation():
    meta = embedded.parse_xmp(dmi("maybe later"))
    assert meta.data_mining == () and meta.data_mining_raw == ("maybe later",)
    assert any("unknown plus:DataMining" in p for p in meta.problems)
    d = tdmscan.evaluate(IMG, response=image(dmi("maybe later")))
    assert d.verdict == "allowed"
    assert any(e.reason == "xmp:problem" for e in d.evidence)


def test_dmi_from_pdf_and_video_and_unknown_binary():
    body = b"%PDF-1.7\n1 0 obj<</Type/Metadata/Subtype/XML>>stream\n" + xmp(
        body=f"<plus:DataMining>{VOCAB}DMI-PROHIBITED-AIMLTRAINING</plus:DataMining>"
    )
    for ctype in ("application/pdf", "video/mp4", "application/octet-stream", ""):
        f = Fetched(
            status=200,
            headers=[("Content-Type", ctype)] if ctype else [],
            body=body,
            url="https://example.com/doc",
        )
        d = tdmscan.evaluate("https://example.com/doc", response=f)
        assert d.verdict == "reserved" and d.reasons == ("iptc:dmi-prohibited",), ctype


def test_html_body_is_not_scanned_for_xmp():
    body = b"<html><head></head><body><pre>" + dmi(VOCAB + "DMI-PROHIBITED") + b"</pre></body>"
    d = tdmscan.evaluate(
        PAGE, response=Fetched(status=200, headers=[("Content-Type", "text/html")], body=body)
    )
    assert d.verdict == "allowed"
    assert not any(e.protocol == "iptc" for e in d.evidence)


def test_dmi_allowed_never_cancels_another_reservation():
    d = tdmscan.evaluate(
        IMG, response=image(dmi(VOCAB + "DMI-ALLOWED"), headers=[("X-Robots-Tag", "noai")])
    )
    assert d.verdict == "reserved" and d.reasons == ("header:noai",)


# --------------------------------------------------------------------------- XMP licences


def test_xmp_cc_license_and_webstatement():
    body = jpeg(
        xmp(
            body='<cc:license rdf:resource="https://creativecommons.org/licenses/by-nc/4.0/"/>'
            "<xmpRights:WebStatement>https://creativecommons.org/publicdomain/zero/1.0/"
            "</xmpRights:WebStatement><xmpRights:Marked>True</xmpRights:Marked>"
            "<dc:rights><rdf:Alt><rdf:li xml:lang='x-default'>(c) Jo</rdf:li></rdf:Alt></dc:rights>"
        )
    )
    meta = embedded.parse_xmp(body)
    assert meta.licence_urls == (
        ("cc:license", "https://creativecommons.org/licenses/by-nc/4.0/"),
        ("xmpRights:WebStatement", "https://creativecommons.org/publicdomain/zero/1.0/"),
    )
    assert meta.marked is True and meta.rights == ("(c) Jo",)
    d = tdmscan.evaluate(IMG, response=image(body))
    assert d.verdict == "allowed"  # a licence is not a reservation
    assert d.licences == ("CC-BY-NC-4.0", "CC0-1.0")
    locs = {e.locator for e in d.evidence if e.protocol == "licence"}
    assert locs == {"XMP cc:license", "XMP xmpRights:WebStatement"}


# --------------------------------------------------------------------------- TDMRep in XMP / EPUB


def tdm_xmp(ns: str, reservation: str = "1", policy: str | None = None) -> bytes:
    pol = f"<tdm:policy>{policy}</tdm:policy>" if policy else ""
    return xmp(
        body=f"<tdm:reservation>{reservation}</tdm:reservation>{pol}",
        extra_ns=f'xmlns:tdm="{ns}"',
    )


def pdf(packet: bytes) -> bytes:
    return (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n3 0 obj\n<</Type/Metadata>>stream\n"
        + packet
        + b"\nendstream"
    )


@pytest.mark.parametrize("ns", tdmrep.XMP_NAMESPACES)
def test_pdf_xmp_tdmrep_both_namespaces(ns):
    body = pdf(tdm_xmp(ns, "1", "https://pub.example/tdm/policy.json"))
    meta = embedded.parse_xmp(body)
    assert meta.tdm is not None and meta.tdm.reservation == 1
    assert meta.tdm.policy == "https://pub.example/tdm/policy.json"
    assert ("'#' namespace" in " ".join(meta.tdm.problems)) == ns.endswith("#")
    f = Fetched(status=200, headers=[("Content-Type", "application/pdf")], body=body, url=IMG)
    d = tdmscan.evaluate("https://example.com/papers/a.pdf", response=f)
    assert d.verdict == "reserved" and d.reasons == ("tdmrep:reserved",)
    assert d.tdm_source == "embedded" and d.tdm_reservation == 1
    assert d.tdm_policy == "https://pub.example/tdm/policy.json"
    ev = next(e for e in d.evidence if e.reason == "tdmrep:reserved")
    assert ev.locator == "XMP tdm:reservation"


def test_pdf_xmp_supersedes_file_and_header_2_7():
    # file 1, header 1, embedded 0 -> 0 (most specific wins within TDMRep)
    body = pdf(tdm_xmp(tdmrep.XMP_NAMESPACES[1], "0"))
    f = Fetched(
        status=200,
        headers=[("Content-Type", "application/pdf"), ("tdm-reservation", "1")],
        body=body,
    )
    d = tdmscan.evaluate(
        "https://example.com/papers/a.pdf",
        tdmrep_json=b'[{"location": "/", "tdm-reservation": 1}]',
        response=f,
    )
    assert d.verdict == "allowed" and d.tdm_reservation == 0 and d.tdm_source == "embedded"
    # embedded with only a policy does not reset the header's 1
    body = pdf(
        xmp(
            body="<tdm:policy>https://p.example/x</tdm:policy>",
            extra_ns=f'xmlns:tdm="{tdmrep.XMP_NAMESPACES[0]}"',
        )
    )
    f = Fetched(
        status=200,
        headers=[("Content-Type", "application/pdf"), ("tdm-reservation", "1")],
        body=body,
    )
    d = tdmscan.evaluate("https://example.com/a.pdf", response=f)
    assert d.verdict == "reserved" and d.tdm_source == "header"
    assert d.tdm_policy == "https://p.example/x"


def test_tdmrep_embedded_does_not_reserve_search():
    body = pdf(tdm_xmp(tdmrep.XMP_NAMESPACES[0]))
    f = Fetched(status=200, headers=[("Content-Type", "application/pdf")], body=body)
    d = tdmscan.evaluate("https://example.com/a.pdf", response=f, purpose="search")
    assert d.verdict == "allowed" and d.tdm_reservation == 1


def opf2(res: str = "1", policy: str | None = "https://pub.example/tdm") -> bytes:
    pol = f'<meta name="tdm:policy" content="{policy}"/>' if policy else ""
    return (
        '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="2.0">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>T</dc:title>'
        f'<meta name="tdm:reservation" content="{res}"/>{pol}</metadata></package>'
    ).encode()


def opf3(res: str = "1", prefix: str = 'prefix="tdm: http://www.w3.org/ns/tdmrep#"') -> bytes:
    return (
        f'<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
        f'{prefix}><metadata><meta property="tdm:reservation">{res}</meta>'
        '<meta property="tdm:policy">https://pub.example/tdm3</meta></metadata></package>'
    ).encode()


def epub_zip(opf: bytes | None, container: bytes | None = None, opf_path="OEBPS/content.opf"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/epub+zip")
        if container is None:
            container = (
                '<?xml version="1.0"?><container version="1.0" '
                'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                f'<rootfile full-path="{opf_path}" media-type="application/oebps-package+xml"/>'
                "</rootfiles></container>"
            ).encode()
        z.writestr("META-INF/container.xml", container, zipfile.ZIP_DEFLATED)
        if opf is not None:
            z.writestr(opf_path, opf, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("opf", "policy"),
    [(opf2(), "https://pub.example/tdm"), (opf3(), "https://pub.example/tdm3")],
    ids=["epub2", "epub3"],
)
def test_epub_tdmrep(opf, policy):
    data = epub_zip(opf)
    e = epub.parse_epub(data)
    assert e.ok and e.opf_path == "OEBPS/content.opf"
    assert e.tdm.reservation == 1 and e.tdm.policy == policy
    f = Fetched(status=200, headers=[("Content-Type", "application/epub+zip")], body=data)
    d = tdmscan.evaluate("https://example.com/books/b.epub", response=f)
    assert d.verdict == "reserved" and d.reasons == ("tdmrep:reserved",)
    assert d.tdm_source == "embedded" and d.tdm_policy == policy
    ev = next(e for e in d.evidence if e.reason == "tdmrep:reserved")
    assert ev.locator == "EPUB OPF OEBPS/content.opf meta tdm:reservation"
    # sniffed without a content type
    d = tdmscan.evaluate(
        "https://example.com/books/b.epub", response=Fetched(status=200, body=data)
    )
    assert d.verdict == "reserved" and d.tdm_source == "embedded"


def test_epub_zero_and_other_prefix_and_undeclared_prefix():
    e = epub.parse_epub(epub_zip(opf2("0", None)))
    assert e.tdm.reservation == 0
    e = epub.parse_epub(
        epub_zip(opf3("1", 'prefix="t: http://www.w3.org/ns/tdmrep#"').replace(b"tdm:", b"t:"))
    )
    assert e.tdm is not None and e.tdm.reservation == 1
    e = epub.parse_epub(epub_zip(opf3("1", "")))
    assert e.tdm.reservation == 1 and any("without a package@prefix" in p for p in e.problems)
    e = epub.parse_epub(epub_zip(opf3("yes")))
    assert e.tdm.reservation is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not a zip"),
        (b"PK\x03\x04garbage", "EPUB unreadable"),
        (None, "not bytes"),
    ],
)
def test_epub_hostile(data, problem):
    e = epub.parse_epub(data)
    assert not e.ok and e.tdm is None and problem in " ".join(e.problems)


def test_epub_missing_parts_and_doctype_and_bomb():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
    assert epub.parse_epub(buf.getvalue()).problems == ("no META-INF/container.xml",)
    assert "missing" in epub.parse_epub(epub_zip(None)).problems[0]
    ent = b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "b">]><package/>'
    assert "refused" in epub.parse_epub(epub_zip(ent)).problems[0]
    # a highly compressible OPF above the cap is refused without inflating it all
    bomb = b"<package>" + b" " * (epub.MAX_OPF_BYTES + 10) + b"</package>"
    assert epub.parse_epub(epub_zip(bomb)).problems == ("OPF too large",)


# --------------------------------------------------------------------------- C2PA / CAWG

EXAMPLE_ASSERTION = {
    "label": "cawg.training-mining",
    "data": {
        "entries": {
            "cawg.ai_generative_training": {"use": "notAllowed"},
            "cawg.data_mining": {"use": "constrained", "constraint_info": "https://ex.com/tdm"},
        }
    },
}


def store(*assertions, validation=None, ingredients_manifest=None, active="urn:uuid:a"):
    manifests = {active: {"claim_generator": "t", "assertions": list(assertions)}}
    if ingredients_manifest is not None:
        manifests["urn:uuid:i"] = {"assertions": [ingredients_manifest]}
        manifests[active]["ingredients"] = [{"title": "i", "active_manifest": "urn:uuid:i"}]
    s = {"active_manifest": active, "manifests": manifests}
    if validation is not None:
        s["validation_status"] = validation
    return s


C2PA_OUTCOMES = {
    "train-ai": ("reserved", "cawg.ai_generative_training"),
    "tdm": ("reserved", "cawg.data_mining"),
    "ai-input": ("allowed", None),
    "search": ("allowed", None),
}


@pytest.mark.parametrize("purpose", PURPOSES)
def test_c2pa_example_payload(purpose):
    s = store(EXAMPLE_ASSERTION)
    r = c2pa.parse_manifest_store(s)
    assert r.ok and r.active_manifest == "urn:uuid:a" and not r.ingredient_only
    assert [e.key for e in r.active[0].entries] == [
        "cawg.ai_generative_training",
        "cawg.data_mining",
    ]
    assert r.active[0].entries[1].constraint_info == "https://ex.com/tdm"
    verdict, key = C2PA_OUTCOMES[purpose]
    for manifest in (s, json.dumps(s).encode(), json.dumps(s)):
        d = tdmscan.evaluate(
            IMG, response=image(b"\xff\xd8"), purpose=purpose, c2pa_manifest=manifest
        )
        assert d.verdict == verdict
        if key:
            assert d.reasons == ("c2pa:not-allowed",)
            ev = next(e for e in d.evidence if e.reason == "c2pa:not-allowed")
            assert ev.locator.endswith(key) and ev.strength == "explicit" and ev.decisive
        else:
            assert d.reasons == ()


def test_c2pa_without_response_and_ai_inference_and_allowed():
    s = store(
        {
            "label": "c2pa.training-mining",
            "data": {
                "entries": {
                    "c2pa.ai_inference": {"use": "notAllowed"},
                    "c2pa.ai_training": {"use": "allowed"},
                }
            },
        }
    )
    d = tdmscan.evaluate(IMG, purpose="ai-input", c2pa_manifest=s)
    assert d.verdict == "reserved" and d.reasons == ("c2pa:not-allowed",)
    d = tdmscan.evaluate(IMG, purpose="train-ai", c2pa_manifest=s)
    assert d.verdict == "allowed"
    assert any(e.reason == "c2pa:allowed" and e.interpretation == "allowed" for e in d.evidence)


@pytest.mark.parametrize("label", ["cawg.training-mining.v2", "c2pa.training-mining.v1"])
def test_c2pa_versioned_label(label):
    s = store({**EXAMPLE_ASSERTION, "label": label})
    assert c2pa.parse_manifest_store(s).active[0].label == label
    assert tdmscan.evaluate(IMG, c2pa_manifest=s).reasons == ("c2pa:not-allowed",)


def test_c2pa_early_top_level_entries_and_constraints_info():
    s = store(
        {
            "label": "c2pa.training-mining",
            "data": {
                "c2pa.ai_generative_training": {"use": "allowed"},
                "c2pa.data_mining": {"use": "constrained", "constraints_info": "ask first"},
            },
        }
    )
    r = c2pa.parse_manifest_store(s)
    assert r.active[0].top_level
    assert r.active[0].entries[1].constraint_info == "ask first"
    assert tdmscan.evaluate(IMG, purpose="train-ai", c2pa_manifest=s).verdict == "allowed"
    d = tdmscan.evaluate(IMG, purpose="tdm", c2pa_manifest=s)
    assert d.verdict == "reserved" and d.reasons == ("c2pa:not-allowed",)
    ev = next(e for e in d.evidence if e.reason == "c2pa:not-allowed")
    assert "constraint_info=ask first" in ev.raw


def test_c2pa_untrusted_signature_keeps_not_allowed():
    s = store(EXAMPLE_ASSERTION, validation=[{"code": "signingCredential.untrusted"}])
    r = c2pa.parse_manifest_store(s)
    assert r.signature == "untrusted"
    d = tdmscan.evaluate(IMG, c2pa_manifest=s)
    assert d.verdict == "reserved" and d.reasons == ("c2pa:not-allowed",)
    assert any(e.reason == "c2pa:signature-untrusted" for e in d.evidence)
    ev = next(e for e in d.evidence if e.reason == "c2pa:not-allowed")
    assert "signature untrusted" in ev.raw


def test_c2pa_ingredient_only_8_6_3():
    other = {
        "label": "cawg.training-mining",
        "data": {"entries": {"cawg.ai_generative_training": {"use": "notAllowed"}}},
    }
    s = store({"label": "c2pa.actions", "data": {"actions": []}}, ingredients_manifest=other)
    r = c2pa.parse_manifest_store(s)
    assert r.ingredient_only and r.active == () and r.ingredients[0].manifest == "urn:uuid:i"
    d = tdmscan.evaluate(IMG, response=image(b"\xff\xd8"), c2pa_manifest=s)
    assert d.verdict == "allowed" and d.reasons == ()
    ev = [e for e in d.evidence if e.reason == "c2pa:ingredient-only"]
    assert len(ev) == 1 and ev[0].raw.startswith("ingredient-only: ") and not ev[0].decisive
    # when the active manifest has its own assertion, the ingredient is just "ingredient"
    s2 = store(EXAMPLE_ASSERTION, ingredients_manifest=other)
    d = tdmscan.evaluate(IMG, c2pa_manifest=s2)
    assert d.reasons == ("c2pa:not-allowed",)
    assert any(e.reason == "c2pa:ingredient" for e in d.evidence)


def test_c2pa_no_active_manifest_decides_nothing():
    s = {"manifests": {"urn:uuid:a": {"assertions": [EXAMPLE_ASSERTION]}}}
    r = c2pa.parse_manifest_store(s)
    assert r.active == () and r.ingredient_only
    assert tdmscan.evaluate(IMG, c2pa_manifest=s).verdict == "allowed"
    bare = {"assertions": [EXAMPLE_ASSERTION]}
    assert tdmscan.evaluate(IMG, c2pa_manifest=bare).reasons == ("c2pa:not-allowed",)


@pytest.mark.parametrize("bad", [b"not json", b"[]", b"{}", "[" * 100000, {"manifests": 3}])
def test_c2pa_garbage(bad):
    r = c2pa.parse_manifest_store(bad)
    assert not r.ok and r.problems
    d = tdmscan.evaluate(IMG, c2pa_manifest=bad)
    assert d.verdict == "allowed"
    assert [e.reason for e in d.evidence if e.protocol == "c2pa"] == ["c2pa:unparsable"]


# --------------------------------------------------------------------------- 7.5-1 referrer


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        ('<meta name="robots" content="noimageai">', "meta:noimageai"),
        ('<meta name="robots" content="noai">', "meta:noai"),
        ('<meta name="MyBot" content="NoImageAI">', "meta:noimageai"),
    ],
)
def test_referring_page_noimageai_inherited(head, reason):
    ref = html_page(head)
    for mode, verdict in (("conservative", "reserved"), ("strict", "allowed")):
        d = tdmscan.evaluate(IMG, "MyBot", response=image(b"\xff\xd8"), referrer=ref, mode=mode)
        assert d.verdict == verdict
        ev = [e for e in d.evidence if e.reason == reason]
        assert len(ev) == 1
        assert ev[0].locator == f"inherited from referring page {PAGE}"
        assert ev[0].strength == "inferred" and ev[0].source_url == PAGE
    # without a response the URL's extension says it is an image
    d = tdmscan.evaluate(IMG, "MyBot", referrer=ref)
    assert d.reasons == (reason,)


def test_referrer_other_agent_search_and_html_target_not_inherited():
    ref = html_page('<meta name="OtherBot" content="noimageai">')
    assert tdmscan.evaluate(IMG, "MyBot", referrer=ref).verdict == "allowed"
    ref = html_page('<meta name="robots" content="noimageai">')
    assert tdmscan.evaluate(IMG, "MyBot", referrer=ref, purpose="search").verdict == "allowed"
    d = tdmscan.evaluate("https://example.com/other.html", "MyBot", referrer=ref)
    assert d.verdict == "allowed"
    # noimageai does not reach a video, noai does
    vid = image(b"\x00\x00\x00\x18ftypmp42", ctype="video/mp4", url="https://example.com/v.mp4")
    assert tdmscan.evaluate("https://example.com/v.mp4", response=vid, referrer=ref).reasons == ()
    ref = html_page('<meta name="robots" content="noai">')
    d = tdmscan.evaluate("https://example.com/v.mp4", response=vid, referrer=ref)
    assert d.reasons == ("meta:noai",)


def test_image_own_header_and_inherited_both_recorded():
    ref = html_page('<meta name="robots" content="noimageai">')
    img = image(b"\xff\xd8", headers=[("X-Robots-Tag", "noai")])
    d = tdmscan.evaluate(IMG, "MyBot", response=img, referrer=ref)
    assert d.reasons == ("header:noai", "meta:noimageai")


def test_decide_accepts_referrer_keyword():
    site = parse_site(SiteFiles(origin="https://example.com"))
    ref = html_page('<meta name="robots" content="noimageai">')
    out = decide(IMG, ["A", "B"], site, image(b"\xff\xd8"), referrer=ref)
    assert [d.reasons for d in out] == [("meta:noimageai",), ("meta:noimageai",)]
    # a pre-parsed referrer works too
    out = decide(IMG, ["A"], site, None, referrer=parse_page(ref, "/gallery/work.html"))
    assert out[0].reasons == ("meta:noimageai",)


# --------------------------------------------------------------------------- 8.6-2 scopes


def test_page_cc_by_vs_image_iptc_prohibited_each_at_own_scope():
    ref = html_page('<link rel="license" href="https://creativecommons.org/licenses/by/4.0/">')
    page_d = tdmscan.evaluate(PAGE, response=ref)
    assert page_d.verdict == "allowed" and page_d.licences == ("CC-BY-4.0",)
    img = image(dmi(VOCAB + "DMI-PROHIBITED"))
    d = tdmscan.evaluate(IMG, response=img, referrer=ref)
    assert d.verdict == "reserved" and d.reasons == ("iptc:dmi-prohibited",)
    assert d.licences == ()  # the page's licence is not the image's
    lic = [e for e in d.evidence if e.protocol == "licence"]
    assert len(lic) == 1 and lic[0].reason == "licence:CC-BY-4.0"
    assert lic[0].locator.startswith(f"referring page {PAGE}")


# --------------------------------------------------------------------------- robustness


def test_packet_finder_limits_and_forms():
    assert embedded.find_xmp_packets(b"") == []
    assert embedded.find_xmp_packets(b"<x:xmpmeta no end") == []
    two = dmi(VOCAB + "DMI-ALLOWED") + dmi(VOCAB + "DMI-PROHIBITED")
    meta = embedded.parse_xmp(two)
    assert meta.packets == 2 and meta.data_mining == ("DMI-ALLOWED", "DMI-PROHIBITED")
    assert any("both allowed and prohibited" in p for p in meta.problems)
    many = dmi("Prohibited") * (embedded.MAX_PACKETS + 5)
    assert embedded.parse_xmp(many).packets == embedded.MAX_PACKETS
    # bare xpacket region with rdf:RDF only
    bare = (
        b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
        b'plus:DataMining="Prohibited"/></rdf:RDF><?xpacket end="w"?>'
    )
    assert embedded.parse_xmp(bare).data_mining == ("DMI-PROHIBITED",)


def test_xmp_doctype_and_entities_refused():
    evil = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><!DOCTYPE x [<!ENTITY a "aaaa">]>&a;</x:xmpmeta>'
    meta = embedded.parse_xmp(evil)
    assert meta.data_mining == () and "refused" in meta.problems[0]
    assert embedded.parse_xmp(b"<x:xmpmeta><unclosed></x:xmpmeta>").problems


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=4096))
def test_parsers_never_raise_on_bytes(data):
    embedded.parse_xmp(data)
    embedded.parse_xmp(b"<x:xmpmeta" + data + b"</x:xmpmeta>")
    epub.parse_epub(data)
    epub.parse_epub(b"PK\x03\x04" + data)
    epub.tdm_from_opf(data)
    c2pa.parse_manifest_store(data)
    f = Fetched(status=200, headers=[("Content-Type", "application/octet-stream")], body=data)
    d = tdmscan.evaluate(IMG, response=f, c2pa_manifest=data)
    assert d.verdict in ("allowed", "reserved", "unknown")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda ch: st.lists(ch, max_size=4) | st.dictionaries(st.text(max_size=30), ch, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(json_values, st.sampled_from(["cawg.training-mining", "c2pa.training-mining.v3", "x"]))
def test_c2pa_never_raises_on_structures(data, label):
    c2pa.parse_manifest_store(data)
    c2pa.parse_manifest_store(
        {
            "active_manifest": "a",
            "manifests": {"a": {"assertions": [{"label": label, "data": data}]}},
        }
    )
    c2pa.parse_manifest_store({"active_manifest": "a", "manifests": {"a": data}})


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=200))
def test_epub_never_raises_on_opf_text(text):
    epub.parse_epub(epub_zip(text.encode("utf-8", "surrogatepass")))
    embedded.parse_xmp(xmp(body=f"<plus:DataMining>{text}</plus:DataMining>"))
