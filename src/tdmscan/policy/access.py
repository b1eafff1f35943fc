"""The page's own answer: a barrier to lawful access, or a page that could not be fetched.

401, 402, 403, 451, a redirect to a login page and schema.org ``isAccessibleForFree: false``
are decisive in every mode (the URL is never ``allowed``): ingesting what sits behind them
would mean getting round the barrier (GPAI Code of Practice, measure 1.2). 429 and 5xx are
``unknown`` (a failed check), not a barrier.
"""

from __future__ import annotations

from ..signals.access import barriers
from ._core import Collector, Context


def apply(c: Collector, ctx: Context) -> None:
    page = ctx.page
    if page is None:
        return
    f = page.fetched
    if f.unreachable:
        c.error(
            "parse:budget-exceeded" if f.error == "parse:budget-exceeded" else "page:unreachable",
            "page",
            "response",
            f"status {f.status}" if f.status else (f.error or "error"),
            f.url,
        )
        return
    for b in barriers(f):
        c.reserve(b.reason, "access", b.locator, b.raw, source_url=f.final_url or f.url)
