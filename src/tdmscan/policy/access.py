"""The page's own answer: a page that could not be fetched is not known to be allowed."""

from __future__ import annotations

from ._core import Collector, Context


def apply(c: Collector, ctx: Context) -> None:
    page = ctx.page
    if page is not None and page.fetched.unreachable:
        c.error(
            "page:unreachable",
            "page",
            "response",
            f"status {page.fetched.status}"
            if page.fetched.status
            else (page.fetched.error or "error"),
            page.fetched.url,
        )
