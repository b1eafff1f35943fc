"""Batch UDFs: one Arrow-in, Arrow-out function for the data platforms' own tables.

:class:`BatchDecider` takes a table with a URL column and returns one row per (input row,
agent): the input row's columns followed by the decision columns (:data:`DECISION_FIELDS`).
It keeps one :class:`~tdmscan.Scanner` (one HTTP pool, one origin cache) for its whole life,
so each origin's robots.txt, tdmrep.json and ai.txt are fetched once per worker however many
batches name it, and optionally records every decision and the origin files it rests on in a
ledger (local or object storage), flushed at the end of every batch so a worker the engine
kills loses nothing already returned.

Thin adapters:

* Ray Data: ``ds.map_batches(BatchDecider, fn_constructor_kwargs={...},
  batch_format="pyarrow", concurrency=N)``: a callable class, one scanner per actor
  (:func:`ray_map_batches` does exactly that).
* Spark: ``df.mapInArrow(spark_udf(...), spark_schema(df.schema))``: one scanner per task.
  Group rows by registrable domain upstream (``repartition`` on it) so each origin is
  fetched by one task only.
* Anything else that hands over Arrow batches: call a :class:`BatchDecider`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa

from .ledger.domains import registrable_domain
from .types import Decision
from .urls import InvalidURL, parse_url

#: Decision columns appended to every input row (one output row per agent).
DECISION_FIELDS = pa.schema(
    [
        ("agent", pa.string()),
        ("verdict", pa.string()),
        ("ingest", pa.bool_()),
        ("reasons", pa.list_(pa.string())),
        ("purpose", pa.string()),
        ("mode", pa.string()),
        ("registrable_domain", pa.string()),
        ("robots_url", pa.string()),
        ("robots_verdict", pa.string()),
        ("robots_matched_rule", pa.string()),
        ("tdm_reservation", pa.int8()),
        ("tdm_policy", pa.string()),
        ("licences", pa.list_(pa.string())),
        ("errors", pa.list_(pa.string())),
    ]
)


def output_schema(input_schema: pa.Schema) -> pa.Schema:
    """The schema :class:`BatchDecider` returns for ``input_schema``."""
    clash = sorted(set(input_schema.names) & set(DECISION_FIELDS.names))
    if clash:
        raise ValueError(f"input columns {clash} clash with the decision columns; rename them")
    return pa.schema(list(input_schema) + list(DECISION_FIELDS))


def _domain(url: str) -> str | None:
    try:
        return registrable_domain(parse_url(url).host)
    except InvalidURL:
        return None


class BatchDecider:
    """Arrow table (or record batch) of URLs in, the same rows with their decisions out.

    ``agents``: product tokens decided for, own token first; ``include_training_agents`` adds
    the catalogue's AI-training tokens. ``ledger`` (a path, URI or Ledger) records each
    decision and its evidence as one ``batch`` run (``run_id``: share one run between
    workers). ``scanner_options`` go to :class:`~tdmscan.Scanner` (``allow_private``,
    ``limits``, ``ttl``, ...).
    """

    def __init__(
        self,
        agents: Sequence[str] = ("tdmscan",),
        *,
        url_column: str = "url",
        mode: str = "conservative",
        purpose: str = "train-ai",
        include_training_agents: bool = False,
        concurrency: int = 64,
        ledger: Any = None,
        run_id: str | None = None,
        scanner_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.agents = tuple(agents)
        self.url_column = url_column
        self.mode = mode
        self.purpose = purpose
        self.include_training_agents = include_training_agents
        self.concurrency = max(1, concurrency)
        self._ledger_arg = ledger
        self._run_id = run_id
        self._scanner_options = dict(scanner_options or {})
        self._loop = asyncio.Runner()
        self._scanner: Any = None
        self._writer: Any = None

    # -- lifecycle -------------------------------------------------------------------------

    async def _open(self) -> Any:
        from .scanner import Scanner

        recorder = None
        if self._ledger_arg is not None:
            from .ledger import Ledger, RunInfo
            from .ledger.recorder import SiteRecorder

            led = (
                self._ledger_arg
                if isinstance(self._ledger_arg, Ledger)
                else Ledger(self._ledger_arg)
            )
            run = RunInfo(
                kind="batch",
                agents=self.agents,
                mode=self.mode,
                purpose=self.purpose,
                config={"agents": list(self.agents), "training": self.include_training_agents},
                **({"run_id": self._run_id} if self._run_id else {}),
            )
            # Flushed at the end of every batch (below), never by a timer thread.
            self._writer = led.writer(run, flush_seconds=None)
            recorder = SiteRecorder(self._writer)
        return Scanner(
            self.agents,
            recorder,
            mode=self.mode,
            purpose=self.purpose,
            include_training_agents=self.include_training_agents,
            **self._scanner_options,
        )

    def close(self) -> None:
        """Close the scanner and finish the ledger run (idempotent)."""
        if self._scanner is not None:
            scanner, self._scanner = self._scanner, None
            self._loop.run(scanner.aclose())
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
        self._loop.close()

    def __enter__(self) -> BatchDecider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # an engine may drop its actor without a close()
        try:
            self.close()
        except Exception:
            pass

    # -- the UDF ---------------------------------------------------------------------------

    async def _decide(self, urls: list[str]) -> dict[str, list[Decision]]:
        if self._scanner is None:
            self._scanner = await self._open()
        scanner = self._scanner
        sem = asyncio.Semaphore(self.concurrency)

        async def one(u: str) -> tuple[str, list[Decision]]:
            async with sem:
                return u, await scanner.check_all(u)

        return dict(await asyncio.gather(*(one(u) for u in dict.fromkeys(urls))))

    def __call__(self, batch: pa.Table | pa.RecordBatch) -> pa.Table:
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        schema = output_schema(table.schema)
        if self.url_column not in table.column_names:
            raise ValueError(f"no {self.url_column!r} column in {table.column_names}")
        urls = [u if isinstance(u, str) else "" for u in table.column(self.url_column).to_pylist()]
        by_url = self._loop.run(self._decide(urls))
        take: list[int] = []
        rows: list[Decision] = []
        domains: dict[str, str | None] = {}
        for i, u in enumerate(urls):
            for d in by_url[u]:
                take.append(i)
                rows.append(d)
            if u not in domains:
                domains[u] = _domain(u)
        if self._writer is not None:
            self._writer.flush()
        out = table.take(pa.array(take, pa.int64()))
        robots = [d.robots for d in rows]
        cols = {
            "agent": [d.agent for d in rows],
            "verdict": [d.verdict for d in rows],
            "ingest": [d.verdict == "allowed" for d in rows],
            "reasons": [list(d.reasons) for d in rows],
            "purpose": [d.purpose for d in rows],
            "mode": [d.mode for d in rows],
            "registrable_domain": [domains[d_url] for d_url in (urls[i] for i in take)],
            "robots_url": [r.url if r else None for r in robots],
            "robots_verdict": [r.verdict if r else None for r in robots],
            "robots_matched_rule": [r.matched_rule if r else None for r in robots],
            "tdm_reservation": [d.tdm_reservation for d in rows],
            "tdm_policy": [d.tdm_policy for d in rows],
            "licences": [list(d.licences) for d in rows],
            "errors": [list(d.errors) for d in rows],
        }
        for f in DECISION_FIELDS:
            out = out.append_column(f, pa.array(cols[f.name], f.type))
        return out.cast(schema)


def decide_table(table: pa.Table, **kwargs: Any) -> pa.Table:
    """One-shot :class:`BatchDecider` over ``table`` (opened and closed here)."""
    with BatchDecider(**kwargs) as decider:
        return decider(table)


# -- Ray Data ----------------------------------------------------------------------------------


def ray_map_batches(dataset: Any, *, concurrency: int = 1, **kwargs: Any) -> Any:
    """``dataset.map_batches`` with one :class:`BatchDecider` per actor (``kwargs`` for it)."""
    return dataset.map_batches(
        BatchDecider,
        fn_constructor_kwargs=kwargs,
        batch_format="pyarrow",
        concurrency=concurrency,
    )


# -- Spark -------------------------------------------------------------------------------------


def spark_udf(**kwargs: Any) -> Any:
    """A function for ``DataFrame.mapInArrow``: one :class:`BatchDecider` per task."""

    def run(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        with BatchDecider(**kwargs) as decider:
            for b in batches:
                if b.num_rows:
                    yield from decider(b).to_batches()

    return run


def spark_schema(input_schema: Any) -> Any:
    """The Spark ``StructType`` that :func:`spark_udf` returns for a DataFrame's schema."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    return from_arrow_schema(output_schema(to_arrow_schema(input_schema)))
