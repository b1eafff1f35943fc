"""datatrove filter: drop documents whose source URL is reserved from AI training.

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from tdmscan.integrations.datatrove import TdmscanFilter

    LocalPipelineExecutor(pipeline=[
        JsonlReader("in/"),
        TdmscanFilter(agents=["MyBot"], ledger="ledger/",
                      exclusion_writer=JsonlWriter("excluded/")),
        JsonlWriter("out/"),
    ], tasks=4).run()

For each document the URL comes from ``doc.metadata["url"]`` (``url_key``), as datatrove's
WARC and Common Crawl readers set it. When the document also carries the response it came
from (``headers_key``, ``html_key``, ``status_key``; or ``text_as_html=True`` when the text
is the raw HTML), page-level signals are evaluated too (``X-Robots-Tag: noai``,
``tdm-reservation`` meta, ...). Origin signals (robots.txt, tdmrep.json, ai.txt) are fetched
once per origin by a :class:`~tdmscan.scanner.Scanner` running on its own event loop in a
background thread for the whole task, so the cache spans batches.

Kept: ``allowed`` documents. Dropped with reason ``"<verdict>:<reason codes>"`` (e.g.
``reserved:robots:disallow``): ``reserved``, ``unknown`` (retry later, never ingest) and
``invalid`` (no usable URL). Every document gets ``doc.metadata["tdmscan"]`` (``verdict``,
``reasons``, ``agent``) unless ``annotate_key=None``. With ``ledger``, every decision (one per
agent) is written to the ledger; each task (rank) writes its own run, ``<run id>-r<rank>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from ..types import Decision, Fetched, SiteFiles
from ..urls import InvalidURL, parse_url
from . import ScannerThread, SiteRecorder, combine, split_agents

__all__ = ["TdmscanFilter"]

NOT_CHECKED = "robots:not-checked"


def _headers(value: Any) -> list[tuple[str, str]]:
    """Stored response headers: a mapping, a list of pairs, or a raw header block."""
    if not value:
        return []
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        out = []
        for line in value.splitlines():
            name, colon, v = line.partition(":")
            if colon and not name.startswith("HTTP/") and name.strip():
                out.append((name.strip(), v.strip()))
        return out
    if isinstance(value, Mapping):
        pairs: list[tuple[str, str]] = []
        for k, v in value.items():
            for item in v if isinstance(v, list | tuple) else [v]:
                pairs.append((str(k), str(item)))
        return pairs
    return [(str(k), str(v)) for k, v in value]


class TdmscanFilter(BaseFilter):
    """Keep only documents whose URL may be used for ``purpose`` (see the module docstring)."""

    name = "🛡 tdmscan"
    _requires_dependencies = ["selectolax"]

    def __init__(
        self,
        agents: Sequence[str] | str = ("tdmscan",),
        *,
        ledger: str | None = None,
        url_key: str = "url",
        headers_key: str | None = "headers",
        html_key: str | None = "html",
        status_key: str | None = "status",
        text_as_html: bool = False,
        fetch: bool = True,
        include_training_agents: bool = True,
        strict_any: bool = False,
        mode: str = "conservative",
        purpose: str = "train-ai",
        allow_private: bool = False,
        terms: bool = False,
        exclude_lists: Sequence[str] = (),
        scanner_options: Mapping[str, Any] | None = None,
        source_kind: str = "manifest_audit",
        dataset_id: str | None = None,
        annotate_key: str | None = "tdmscan",
        exclusion_writer: DiskWriter | None = None,
        batch_size: int = 64,
    ) -> None:
        super().__init__(exclusion_writer=exclusion_writer, batch_size=batch_size)
        self.agents = split_agents(agents) or ["tdmscan"]
        self.ledger = None if ledger is None else str(ledger)
        self.url_key = url_key
        self.headers_key = headers_key
        self.html_key = html_key
        self.status_key = status_key
        self.text_as_html = text_as_html
        self.fetch = fetch
        self.include_training_agents = include_training_agents
        self.strict_any = strict_any
        self.mode = mode
        self.purpose = purpose
        self.scanner_options = dict(scanner_options or {})
        self.scanner_options.setdefault("allow_private", allow_private)
        self.scanner_options.setdefault("terms", terms)
        if exclude_lists:
            from ..signals.exclusions import load_exclusion_list

            # Loaded here, in the parent: a bad file fails before any task starts.
            self.scanner_options.setdefault(
                "exclude_lists", [load_exclusion_list(p) for p in exclude_lists]
            )
        self.source_kind = source_kind
        self.dataset_id = dataset_id
        self.annotate_key = annotate_key
        from ..ledger import new_run_id

        # Chosen here, in the parent, so every task's run shares one prefix.
        self.run_id = new_run_id()
        # Per task, created in run(): threads and writers must not be pickled to workers.
        self._runner: ScannerThread | None = None
        self._writer: Any = None
        self._sites: SiteRecorder | None = None
        self._all_agents: list[str] = list(self.agents)

    # ------------------------------------------------------------------ lifecycle

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._open(rank, world_size)
        error: BaseException | None = None
        try:
            yield from super().run(data, rank, world_size)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._close(error)

    def _open(self, rank: int, world_size: int) -> None:
        from .warc import expand_agents

        if self.fetch:
            self._runner = ScannerThread(
                agents=self.agents,
                mode=self.mode,
                purpose=self.purpose,
                strict_any=self.strict_any,
                include_training_agents=self.include_training_agents,
                **self.scanner_options,
            )
            self._all_agents = list(self._runner.scanner.agents)
        else:
            self._all_agents = expand_agents(self.agents, self.include_training_agents)
        if self.ledger is not None:
            from ..ledger import Ledger, RunInfo

            run = RunInfo(
                kind="datatrove",
                run_id=f"{self.run_id}-r{rank:05d}",
                agents=self._all_agents,
                mode=self.mode,
                purpose=self.purpose,
                config={
                    "rank": rank,
                    "world_size": world_size,
                    "url_key": self.url_key,
                    "fetch": self.fetch,
                    "strict_any": self.strict_any,
                },
                dataset_id=self.dataset_id,
                input_description=f"datatrove task {rank}/{world_size}",
            )
            self._writer = Ledger(self.ledger).writer(run)
            self._sites = SiteRecorder(self._writer)

    def _close(self, error: BaseException | None) -> None:
        try:
            if self._runner is not None:
                self._runner.close()
        finally:
            self._runner = None
            if self._writer is not None:
                self._writer.close(error)
                self._writer = None
                self._sites = None

    # ------------------------------------------------------------------ filtering

    def _page(self, doc: Document) -> Fetched | None:
        meta = doc.metadata
        headers = meta.get(self.headers_key) if self.headers_key else None
        html = meta.get(self.html_key) if self.html_key else None
        if html is None and self.text_as_html:
            html = doc.text
        if headers is None and html is None:
            return None
        status = meta.get(self.status_key) if self.status_key else None
        try:
            status = int(status) if status is not None else 200
        except (TypeError, ValueError):
            status = 200
        return Fetched(
            status=status, headers=_headers(headers), body=html or b"", url=meta.get(self.url_key)
        )

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        items = [(str(doc.metadata.get(self.url_key) or ""), self._page(doc)) for doc in batch]
        if self._runner is not None:
            every = self._writer is not None or self.strict_any
            checked = self._runner.gather([(_check, (*item, every)) for item in items])
            results = [ds for ds, _ in checked]
            if self._sites is not None:
                for _, files in checked:
                    self._sites.add(files)
        else:
            results = [self._offline(url, page) for url, page in items]
        return [self._verdict(doc, ds) for doc, ds in zip(batch, results, strict=True)]

    def _offline(self, url: str, page: Fetched | None) -> list[Decision]:
        from dataclasses import replace

        from ..policy import decide

        out = []
        for d in decide(url, self._all_agents, None, page, purpose=self.purpose, mode=self.mode):
            # Without the origin files nothing can be called allowed (robots absent is not
            # robots allowing); a page-level reservation still stands.
            if d.verdict == "allowed":
                d = replace(d, verdict="unknown", reasons=(*d.reasons, NOT_CHECKED))
            out.append(d)
        return out

    def _verdict(self, doc: Document, decisions: list[Decision]) -> bool | tuple[bool, str]:
        if self.strict_any:
            governing = combine(decisions) or decisions[0]
            keep = all(d.ingest for d in decisions)
        else:
            governing = decisions[0]
            keep = governing.ingest
        self.stat_update(f"verdict_{governing.verdict}")
        for code in governing.reasons:
            self.stat_update(f"reason_{code}")
        if self.annotate_key:
            doc.metadata[self.annotate_key] = {
                "verdict": governing.verdict,
                "reasons": list(governing.reasons),
                "agent": governing.agent,
                "run_id": self._writer.run.run_id if self._writer is not None else None,
            }
        if self._writer is not None:
            from ..ledger import DecisionContext

            doc_id = str(doc.id) if doc.id is not None else ""
            ctx = DecisionContext(
                source_kind=self.source_kind,
                dataset_id=self.dataset_id,
                content_size=len(doc.text.encode("utf-8")) if doc.text else 0,
                warc_record_id=doc_id if doc_id.startswith("<urn:") else None,
            )
            self._writer.add_many(decisions, ctx)
        if keep:
            return True
        return False, ":".join((governing.verdict, *governing.reasons))


async def _check(
    scanner: Any, url: str, page: Fetched | None, every: bool
) -> tuple[list[Decision], SiteFiles | None]:
    if page is None:
        decisions = list(await scanner.check_all(url)) if every else [await scanner.check(url)]
    else:
        got = await scanner.check_response(
            url, page.status, page.headers, page.body, all_agents=every
        )
        decisions = list(got) if isinstance(got, list) else [got]
    try:
        origin = parse_url(url).origin
    except InvalidURL:
        return decisions, None
    # A cache hit: the files the decision just used, recorded as its evidence.
    return decisions, (await scanner.site(origin)).files
