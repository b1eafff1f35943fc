"""Page-level signals: what one response says about itself."""

from __future__ import annotations

from dataclasses import dataclass

from ..signals import aipref, c2pa, embedded, epub, headers, html, tdmrep
from ..types import Fetched
from ._core import IMAGE_EXT


@dataclass(frozen=True, slots=True)
class PageSignals:
    fetched: Fetched
    robots_header: headers.RobotsDirectives
    head: html.HtmlHead | None
    tdm_header: tdmrep.TdmValue
    usage_header: aipref.UsagePrefs | None
    link_licences: tuple[headers.LinkLicence, ...]
    content_signal_header: str | None
    is_image: bool
    is_html: bool
    #: XMP packets of a non-HTML body (IPTC DataMining, licences, TDMRep in XMP).
    embedded: embedded.EmbeddedMetadata | None = None
    #: TDMRep in an EPUB package document.
    epub: epub.EpubTdm | None = None
    #: A C2PA manifest store passed in explicitly (no JUMBF parsing here).
    c2pa: c2pa.C2paResult | None = None


def _looks_html(f: Fetched) -> bool:
    ct = (f.content_type or "").lower()
    if "html" in ct:
        return True
    if ct and not ct.startswith("text/plain") and "xml" not in ct:
        return False
    head = f.body[:2048]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # A UTF-16 page with a BOM: look at its text, not its bytes.
        head = head.decode("utf-16", "replace").encode("utf-8", "replace")
    head = head.lower()
    return b"<html" in head or b"<head" in head


def parse_page(page: Fetched, url: str = "", *, c2pa_manifest: object | None = None) -> PageSignals:
    ct = (page.content_type or "").lower()
    path = url.split("?", 1)[0].lower()
    is_image = ct.startswith("image/") or (not ct and path.endswith(IMAGE_EXT))
    is_html = not is_image and _looks_html(page)
    usage_lines = page.header_values("content-usage")
    emb = epub_tdm = None
    if not is_html and page.body:
        # Media, PDF, EPUB or unknown binary: what the file says about itself.
        emb = embedded.parse_xmp(page.body)
        if epub.looks_like_epub(page.body, ct, path):
            epub_tdm = epub.parse_epub(page.body)
    return PageSignals(
        fetched=page,
        robots_header=headers.parse_robots_tag(page.headers),
        head=html.parse_html_head(page.body, content_type=page.content_type) if is_html else None,
        tdm_header=tdmrep.tdm_from_headers(page.headers),
        usage_header=aipref.parse_content_usage(usage_lines) if usage_lines else None,
        link_licences=headers.link_licences(page.headers),
        content_signal_header=page.header("content-signal"),
        is_image=is_image,
        is_html=is_html,
        embedded=emb,
        epub=epub_tdm,
        c2pa=c2pa.parse_manifest_store(c2pa_manifest) if c2pa_manifest is not None else None,
    )
