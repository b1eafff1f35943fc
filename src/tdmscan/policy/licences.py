"""Licence metadata (information only): rel=license, Link, XMP, JSON-LD, Dublin Core."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..signals import licences
from ._core import Collector, Context

if TYPE_CHECKING:
    from .page import PageSignals


def _licences(c: Collector, page: PageSignals | None) -> None:
    if page is None:
        return
    candidates: list[tuple[str, str]] = [
        (ll.url, ll.source) for ll in page.link_licences if not ll.rsl
    ]
    if page.embedded is not None:
        candidates += [(u, f"XMP {prop}") for prop, u in page.embedded.licence_urls]
    if page.head is not None:
        candidates += [(ll.url, ll.source) for ll in page.head.licences if not ll.rsl]
        candidates += [
            (j.url, f"json-ld {j.scope}")
            for j in page.head.jsonld_licences
            if getattr(j, "url", None)
        ]
        candidates += [(v, f"dublin core {k}") for k, v in page.head.dc_licences]
    for url, source in candidates:
        lic = licences.licence_from_url(url)
        if lic is None:
            continue
        c.add_licence(lic.spdx)
        c.note(
            "licence",
            source,
            url,
            reason=f"licence:{lic.spdx}",
            strength="licence",
            source_url=page.fetched.url,
        )


def apply(c: Collector, ctx: Context) -> None:
    _licences(c, ctx.page)
