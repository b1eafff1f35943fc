"""Recording a stream of decisions: each distinct origin fetch once, then the decisions.

Used by the Scanner (``Scanner(ledger=...)``) and by every integration (Scrapy, datatrove,
WARC), so "which origin files have already been written" is decided in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..types import Decision, Fetched, SiteFiles


class SiteRecorder:
    """Hands each distinct fetch of an origin's files to a ledger writer exactly once.

    Decisions only reference the robots.txt they rest on by hash; the fetch rows and
    snapshots written here are the evidence itself. A re-fetch after the cache TTL is a new
    fetch and is recorded again.
    """

    def __init__(self, writer: Any, max_keys: int = 1_000_000) -> None:
        self.writer = writer
        self._seen: set[tuple[Any, ...]] = set()
        self._max = max_keys

    def _first_time(self, key: tuple[Any, ...]) -> bool:
        if key in self._seen:
            return False
        if len(self._seen) >= self._max:  # bounded memory on internet-scale runs
            self._seen.clear()
        self._seen.add(key)
        return True

    def add(
        self,
        files: SiteFiles | None,
        extra: Mapping[str, Fetched] | None = None,
        *,
        archived: bool = False,
    ) -> None:
        """Record the origin files (and ``extra`` documents such as RSL licences, by URL);
        ``archived``: the files are archived copies (WARC records), not live fetches."""
        if files is None or self.writer is None:
            return
        key = (
            files.origin,
            files.fetched_at,
            *(
                (f.sha256, f.status, f.error) if f is not None else None
                for f in (files.robots, files.tdmrep, files.ai_txt, files.terms)
            ),
        )
        if not self._first_time(key):
            return
        if archived:
            self.writer.add_site(files, archived=True)
        else:
            self.writer.add_site(files)
        for url, f in (extra or {}).items():
            if self._first_time(("rsl", url, f.fetched_at, f.sha256)):
                self.writer.add_fetch(f, "rsl", files.origin)

    def add_page(self, page: Fetched, origin: str) -> None:
        """A page head fetched by a deep check (its headers and ``<head>`` are evidence)."""
        if self.writer is not None and self._first_time(("page", page.url, page.fetched_at)):
            self.writer.add_fetch(page, "page", origin)

    def record(
        self,
        decisions: Sequence[Decision],
        files: SiteFiles | None,
        ctx: Any = None,
        extra: Mapping[str, Fetched] | None = None,
        page: Fetched | None = None,
    ) -> None:
        """The origin files first (evidence before the rows that cite it), then the rows."""
        self.add(files, extra)
        if page is not None:
            self.add_page(page, files.origin if files is not None else "")
        if self.writer is not None and decisions:
            self.writer.add_many(decisions, ctx)
