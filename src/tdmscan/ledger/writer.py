"""The buffered, crash-safe ledger writer.

Rows are buffered per decision shard and turned into Arrow arrays column by column at flush
time (list comprehensions over the buffered objects, never per-row dicts: building rows in
Python dominated the measured cost, benchmarks/bench_ledger.py). A shard is flushed as one
segment when it holds ``flush_rows`` rows, and every buffer is flushed when
``flush_seconds`` have passed since the last flush (a background thread, so an idle crawler
still persists its rows), on :meth:`LedgerWriter.flush` and on close. Before any decision
segment is written, pending snapshots and fetches are written first, so every persisted
decision's evidence is on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from itertools import accumulate
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyarrow as pa

from .._version import __version__
from ..types import Decision, Fetched, SiteFiles
from . import schema as S
from .domains import PSL_VERSION, registrable_domain, shard_of
from .segments import segment_name

if TYPE_CHECKING:
    from .core import Ledger

SOURCE_KINDS: tuple[str, ...] = ("own_crawl", "manifest_audit", "warc", "recheck")
FETCH_KINDS: tuple[str, ...] = ("robots", "tdmrep", "ai-txt", "page", "rsl", "terms")
_WELL_KNOWN = {"robots": "/robots.txt", "tdmrep": "/.well-known/tdmrep.json", "ai-txt": "/ai.txt"}
_SELECTED_HEADERS = (
    "content-type",
    "content-length",
    "content-encoding",
    "last-modified",
    "etag",
    "cache-control",
    "date",
)

#: Snapshot bodies are flushed once this many bytes are pending (bodies are up to 500 KiB).
SNAPSHOT_FLUSH_BYTES = 32 << 20

#: sha256 keys a writer remembers to store each body once (about 20 MB): an LRU, warmed with
#: the ledger's newest keys. A body seen longer ago than that may be stored again; the
#: ``snapshots`` view keeps one row per sha256, so readers never see the difference.
SNAPSHOT_CACHE_KEYS = 131_072


class LRUKeys:
    """A set of at most ``capacity`` keys that forgets the least recently used one."""

    __slots__ = ("_d", "capacity")

    def __init__(self, capacity: int, keys: Iterable[str] = ()) -> None:
        self.capacity = max(1, capacity)
        self._d: OrderedDict[str, None] = OrderedDict()
        for k in keys:
            self.add(k)

    def __contains__(self, key: object) -> bool:
        if key in self._d:
            self._d.move_to_end(key)  # type: ignore[arg-type]
            return True
        return False

    def __len__(self) -> int:
        return len(self._d)

    def add(self, key: str) -> None:
        self._d[key] = None
        self._d.move_to_end(key)
        if len(self._d) > self.capacity:
            self._d.popitem(last=False)


def new_run_id() -> str:
    """Sortable, filesystem- and hive-safe: ``20260102T030405Z-1a2b3c4d``."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def derived_run_id(input_sha256: str, config: Mapping[str, Any], salt: str | None = None) -> str:
    """A run id every job of a job array computes alike, with no coordination.

    Derived from the input's identity (the manifest's sha256) and the settings that change
    decisions (``config``, without the shard index): N independent shard jobs given the same
    manifest and flags name the same run. ``salt`` (``--rerun LABEL``) derives a fresh id for
    a deliberate second audit of the same input.
    """
    ident = {"input_sha256": input_sha256, "config": config, "salt": salt}
    return "d-" + config_hash(ident)[:24]


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 of the configuration as canonical JSON (sorted keys, no whitespace)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class RunInfo:
    """What a run is. ``kind``: audit | scan | warc | recheck | licence-import | ... (free text)."""

    kind: str = "audit"
    run_id: str = field(default_factory=new_run_id)
    agents: Sequence[str] = ()
    user_agent: str | None = None
    mode: str = "conservative"
    purpose: str = "train-ai"
    config: Mapping[str, Any] = field(default_factory=dict)
    input_description: str | None = None
    input_sha256: str | None = None
    dataset_id: str | None = None
    tool_version: str = __version__
    started_at: datetime | None = None
    #: ``(k, n)`` when this writer records shard k of n of a run that several writers share
    #: (``tdmscan audit --shard K/N``, a Ray partition); None for a run-level writer.
    shard: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not self.run_id or any(c in self.run_id for c in "/\\=") or self.run_id[0] in "._":
            raise ValueError(f"run id {self.run_id!r}: must not contain / \\ = or start with . _")
        if self.shard is not None:
            k, n = (int(x) for x in self.shard)
            if n < 1 or not 0 <= k < n:
                raise ValueError(f"shard {k}/{n} out of range")
            self.shard = (k, n)

    @property
    def config_json(self) -> str:
        return json.dumps(self.config, sort_keys=True, separators=(",", ":"), default=str)

    @property
    def config_sha256(self) -> str:
        return config_hash(self.config)


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """Per-decision facts the :class:`Decision` itself does not carry."""

    source_kind: str = "own_crawl"
    content_size: int | None = None
    dataset_id: str | None = None
    snapshot_id: str | None = None
    input_row: int | None = None
    final_url: str | None = None  # overrides Decision.final_url when given
    warc_file: str | None = None
    warc_record_id: str | None = None
    warc_offset: int | None = None
    checked_at: datetime | None = None  # default: when the writer received the decision
    #: When the content was collected (manifest capture time, WARC-Date), if known.
    captured_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.source_kind not in SOURCE_KINDS:
            raise ValueError(f"source_kind {self.source_kind!r} not in {SOURCE_KINDS}")


_NO_CTX = DecisionContext()


def _us(dt: datetime | None) -> int | None:
    """Microseconds since the epoch, UTC; a naive datetime is taken to be UTC already."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _ONE_US


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


def status_line(status: int) -> str:
    """``200 OK``: the reason phrase is reconstructed (Fetched keeps only the code)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _T(name: str) -> pa.DataType:
    return S.DECISIONS.field(name).type


_TDM_COLS = ("tdm_reservation", "tdm_source", "tdm_policy", "tdmrep_sha256")


@dataclass(slots=True)
class _Templated:
    """One add_templated() call, kept as lists until its shard is flushed."""

    info: tuple[str | None, str | None, str | None, int]
    now: int
    templates: Sequence[Decision]  # by reference: append-only (see add_templated)
    index: list[int]
    urls: list[str]
    source_kind: str
    input_row: list[int | None] | None
    content_size: list[int | None] | None
    dataset_id: list[str | None] | None
    captured_at: list[int | None] | None = None  # microseconds since the epoch, UTC


def _by_identity(objs: list[Any]) -> tuple[list[Any], pa.Array]:
    """Distinct objects (by identity) and the take() indices that rebuild ``objs``."""
    slot: dict[int, int] = {}
    uniq: list[Any] = []
    idx = []
    for o in objs:
        k = slot.get(id(o))
        if k is None:
            k = slot[id(o)] = len(uniq)
            uniq.append(o)
        idx.append(k)
    return uniq, pa.array(idx, pa.int32())


def _list_column(values: list[tuple[str, ...]], typ: pa.DataType) -> pa.Array:
    """list<string> from tuples; converting each distinct tuple once is ~3x faster."""
    slot: dict[tuple[str, ...], int] = {}
    try:
        idx = [slot.setdefault(v, len(slot)) for v in values]
    except TypeError:  # a caller passed lists: convert them as they are
        return pa.array(values, typ)
    return pa.array(list(slot), typ).take(pa.array(idx, pa.int32()))


class LedgerWriter:
    """Use through :meth:`Ledger.writer` as a context manager."""

    def __init__(
        self,
        ledger: Ledger,
        run: RunInfo,
        *,
        shards: int = 16,
        flush_rows: int = 10_000,
        flush_seconds: float | None = 10.0,
    ) -> None:
        if shards < 1 or flush_rows < 1:
            raise ValueError("shards and flush_rows must be positive")
        if run.shard is not None and shards != run.shard[1]:
            # A shard's row counts the decisions under its own shard=<k> directory, which
            # holds exactly its rows only when the directories are cut the same way.
            raise ValueError(f"a writer for shard {run.shard[0]}/{run.shard[1]} needs shards=N")
        self.ledger = ledger
        self.run = run
        self.shards = shards
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._lock = threading.RLock()
        self._bufs: list[list[tuple[Any, ...]]] = [[] for _ in range(shards)]
        # add_templated() chunks per shard, and their row count (flush thresholds count both).
        self._tbufs: list[list[_Templated]] = [[] for _ in range(shards)]
        self._tcount: list[int] = [0] * shards
        self._buffered = 0
        self._hosts: dict[str, tuple[str | None, str | None, str | None, int]] = {}
        self._fetch_rows: list[dict[str, Any]] = []
        self._snap_rows: list[dict[str, Any]] = []
        self._snap_bytes = 0
        self._known_snapshots: LRUKeys | None = None
        r = secrets.token_hex(10)
        # UUID version 8 (RFC 9562 custom): 74 random bits per writer + a 48-bit counter, so
        # ids are unique without a per-row uuid4() call.
        self._id_base = f"{r[:8]}-{r[8:12]}-8{r[12:15]}-{'89ab'[int(r[15], 16) & 3]}{r[16:19]}"
        self._id_counter = 0
        self._fetch_counter = 0
        self.counts: dict[str, int] = dict.fromkeys(S.VERDICT_COUNTS.names, 0)
        self.decisions_written = 0
        self.fetches_written = 0
        self.snapshots_written = 0
        self.segments_written = 0
        self._started_at = run.started_at or datetime.now(UTC)
        self._last_flush = time.monotonic()
        self._closed = False
        self._bg_error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._const: dict[str, Any] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> LedgerWriter:
        self.ledger.recover()  # finishing interrupted commits first: they are not damage
        self.ledger.check_writable()
        self._write_run_row("running")
        if self.flush_seconds:
            self._thread = threading.Thread(
                target=self._timer, name="tdmscan-ledger-flush", daemon=True
            )
            self._thread.start()
        return self

    def __enter__(self) -> LedgerWriter:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.close(error=exc)

    def close(self, error: BaseException | None = None) -> None:
        """Flush everything and write the final ``runs`` row (finished, or interrupted)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._flush_all()
        bg = self._bg_error
        if error is None and bg is not None:
            error = bg
        status = "finished" if error is None else "interrupted"
        msg = None if error is None else f"{type(error).__name__}: {error}"
        self._write_rollup()
        self._write_run_row(status, error=msg)
        if bg is not None and error is bg:
            raise bg

    def _timer(self) -> None:
        assert self.flush_seconds
        interval = max(0.05, min(1.0, self.flush_seconds / 4))
        while not self._stop.wait(interval):
            if time.monotonic() - self._last_flush < self.flush_seconds:
                continue
            try:
                with self._lock:
                    if self._buffered or self._fetch_rows or self._snap_rows:
                        self._flush_all()
                    else:
                        self._last_flush = time.monotonic()
            except BaseException as exc:  # surfaced on the next add() or close()
                self._bg_error = exc
                return

    def _check(self) -> None:
        if self._bg_error is not None:
            raise RuntimeError("ledger background flush failed") from self._bg_error
        if self._closed:
            raise RuntimeError("ledger writer is closed")

    # -- decisions -------------------------------------------------------------------------

    def _host_info(self, prefix: str) -> tuple[str | None, str | None, str | None, int]:
        info = self._hosts.get(prefix)
        if info is not None:
            return info
        try:
            parts = urlsplit(prefix)
            host = parts.hostname
            port = parts.port
        except ValueError:
            host = None
            port = None
        scheme = parts.scheme.lower() if host else ""
        if host and scheme in ("http", "https"):
            if ":" in host:
                host = f"[{host}]"
            default = 443 if scheme == "https" else 80
            origin = f"{scheme}://{host}" + (f":{port}" if port and port != default else "")
            domain = registrable_domain(host)
        else:
            origin = host = domain = None
        info = (origin, host, domain, shard_of(domain, self.shards))
        if len(self._hosts) > 1_000_000:  # bounded memory on internet-scale runs
            self._hosts.clear()
        self._hosts[prefix] = info
        return info

    def add(self, decision: Decision, ctx: DecisionContext | None = None) -> None:
        """Buffer one decision; host, origin, registrable domain and shard come from its URL."""
        self._add_chunk((decision,), ctx, None)

    def add_many(
        self,
        decisions: Iterable[Decision],
        ctx: DecisionContext | Sequence[DecisionContext | None] | None = None,
    ) -> None:
        """Buffer many decisions with one shared context or one context per decision.

        Rows of one call that arrive within the same chunk share ``checked_at`` (the moment
        the writer received them), which is what that column means.
        """
        shared = ctx is None or isinstance(ctx, DecisionContext)
        chunk: list[Decision] = []
        ctxs: list[DecisionContext | None] = []
        it = iter(ctx) if not shared else None  # type: ignore[arg-type]
        for d in decisions:
            chunk.append(d)
            if it is not None:
                try:
                    ctxs.append(next(it))
                except StopIteration:
                    raise ValueError("fewer contexts than decisions") from None
            if len(chunk) >= 4096:
                self._add_chunk(chunk, ctx if shared else None, ctxs if not shared else None)  # type: ignore[arg-type]
                chunk, ctxs = [], []
        if chunk:
            self._add_chunk(chunk, ctx if shared else None, ctxs if not shared else None)  # type: ignore[arg-type]
        if it is not None and next(it, None) is not None:
            raise ValueError("more contexts than decisions")

    def _add_chunk(
        self,
        decisions: Sequence[Decision],
        ctx: DecisionContext | None,
        ctxs: Sequence[DecisionContext | None] | None,
    ) -> None:
        if self._bg_error is not None or self._closed:
            self._check()
        hosts = self._hosts
        host_info = self._host_info
        now = time.time_ns() // 1000
        shared = ctx or _NO_CTX
        done = 0
        with self._lock:
            bufs = self._bufs
            limit = self.flush_rows
            for i, d in enumerate(decisions):
                url = d.url
                # Cache key "scheme://netloc": one find instead of parsing every URL.
                j = url.find("//")
                cut = url.find("/", j + 2) if j >= 0 else -1
                prefix = url if cut < 0 else url[:cut]
                info = hosts.get(prefix) or host_info(prefix)
                c = shared if ctxs is None else (ctxs[i] or _NO_CTX)
                buf = bufs[info[3]]
                buf.append((d, c, info, now))
                if len(buf) >= limit:
                    self._buffered += i + 1 - done
                    done = i + 1
                    self._flush_snapshots_and_fetches()
                    self._flush_shard(info[3])
            self._buffered += len(decisions) - done

    def add_templated(
        self,
        origin: str,
        templates: Sequence[Decision],
        index: Sequence[int],
        urls: Sequence[str],
        *,
        source_kind: str = "manifest_audit",
        input_row: Sequence[int | None] | None = None,
        content_size: Sequence[int | None] | None = None,
        dataset_id: Sequence[str | None] | None = None,
        captured_at: Sequence[datetime | int | None] | None = None,
    ) -> None:
        """Buffer many decisions of one origin that share a few outcomes (the audit's path).

        Row ``i`` is ``templates[index[i]]`` with its ``url`` replaced by ``urls[i]``; every
        URL must belong to ``origin`` (``scheme://host[:port]``), which gives host, registrable
        domain and shard once for the whole call. The optional sequences are per row
        (``captured_at``: datetimes, or microseconds since the epoch UTC). Rows
        become Arrow columns at flush, with the templates' columns built once and taken per
        row: a decision costs a list slot here instead of a Python object per column.

        ``templates`` is kept by reference until the rows are flushed, so one origin's calls
        can pass the same growing list (built once per flush): append to it, never change
        or remove an entry.
        """
        n = len(urls)
        if len(index) != n:
            raise ValueError("index and urls differ in length")
        for name, seq in (
            ("input_row", input_row),
            ("content_size", content_size),
            ("dataset_id", dataset_id),
            ("captured_at", captured_at),
        ):
            if seq is not None and len(seq) != n:
                raise ValueError(f"{name} and urls differ in length")
        if source_kind not in SOURCE_KINDS:
            raise ValueError(f"source_kind {source_kind!r} not in {SOURCE_KINDS}")
        if n == 0:
            return
        if self._bg_error is not None or self._closed:
            self._check()
        prefix = origin.rstrip("/")
        info = self._hosts.get(prefix) or self._host_info(prefix)
        chunk = _Templated(
            info,
            time.time_ns() // 1000,
            templates,  # type: ignore[arg-type]
            list(index),
            list(urls),
            source_kind,
            None if input_row is None else list(input_row),
            None if content_size is None else list(content_size),
            None if dataset_id is None else list(dataset_id),
            None if captured_at is None else [v if type(v) is int else _us(v) for v in captured_at],  # type: ignore[arg-type]
        )
        k = info[3]
        with self._lock:
            self._tbufs[k].append(chunk)
            self._tcount[k] += n
            self._buffered += n
            if len(self._bufs[k]) + self._tcount[k] >= self.flush_rows:
                self._flush_snapshots_and_fetches()
                self._flush_shard(k)

    def _flush_shard(self, k: int) -> None:
        rows = self._bufs[k]
        chunks = self._tbufs[k]
        if not rows and not chunks:
            return
        n_t = self._tcount[k]
        self._bufs[k] = []
        self._tbufs[k] = []
        self._tcount[k] = 0
        self._buffered -= len(rows) + n_t
        table = self._decisions_table(rows, chunks)
        self.ledger.write_segment(
            "decisions",
            f"decisions/run={self.run.run_id}/shard={k}",
            table,
            name=segment_name(self.run.run_id),
            run_id=self.run.run_id,
        )
        self.segments_written += 1
        self.decisions_written += table.num_rows
        counts = self.counts
        for item in table.column("verdict").value_counts().to_pylist():
            if item["values"] in counts:
                counts[item["values"]] += item["counts"]

    def _const_array(self, name: str, value: Any, n: int, typ: pa.DataType) -> pa.Array:
        return pa.nulls(n, typ) if value is None else pa.repeat(pa.scalar(value, typ), n)

    def _decisions_table(
        self, rows: list[tuple[Any, ...]], chunks: Sequence[_Templated] = ()
    ) -> pa.Table:
        """One Arrow table from per-decision rows and templated chunks, rows first."""
        # Per-row columns as Python lists (rows, then each chunk's rows), Decision-derived ones
        # through the distinct Decision objects: templated rows share a few per origin.
        ds: list[Decision] = [r[0] for r in rows]
        urls = [d.url for d in ds]
        cs: list[DecisionContext] = [r[1] for r in rows]
        infos = [r[2] for r in rows]
        checked = [r[3] if r[1].checked_at is None else _us(r[1].checked_at) for r in rows]
        any_ctx = any(c is not _NO_CTX for c in cs)
        final_urls = [c.final_url or d.final_url for c, d in zip(cs, ds, strict=True)]
        n_rows = len(rows)

        def ctx(attr: str) -> list[Any]:
            return [getattr(c, attr) for c in cs] if any_ctx else [None] * n_rows

        source_kind = [c.source_kind for c in cs] if any_ctx else ["own_crawl"] * n_rows
        input_row, content_size = ctx("input_row"), ctx("content_size")
        run_dataset = self.run.dataset_id
        dataset_id = (
            [c.dataset_id or run_dataset for c in cs] if any_ctx else [run_dataset] * n_rows
        )
        snapshot_id, warc_file = ctx("snapshot_id"), ctx("warc_file")
        warc_record_id, warc_offset = ctx("warc_record_id"), ctx("warc_offset")
        captured_at = [_us(v) for v in ctx("captured_at")]
        # Templated chunks: one template list per origin (shared by that origin's chunks),
        # so a row's Decision is an offset into the concatenated lists, never an object.
        uniq_d, take_d = _by_identity(ds)
        uniq_i, take_i = _by_identity(infos)
        if chunks:
            take_d = take_d.to_pylist()
            take_i = take_i.to_pylist()
            offsets: dict[int, int] = {}
            for ch in chunks:
                m = len(ch.urls)
                tmpl = ch.templates
                off = offsets.get(id(tmpl))
                if off is None:
                    off = offsets[id(tmpl)] = len(uniq_d)
                    uniq_d += tmpl
                take_d += [off + i for i in ch.index] if off else ch.index
                take_i += [len(uniq_i)] * m
                uniq_i.append(ch.info)
                urls += ch.urls
                checked += [ch.now] * m
                final_urls += [tmpl[i].final_url for i in ch.index]
                source_kind += [ch.source_kind] * m
                input_row += ch.input_row if ch.input_row is not None else [None] * m
                content_size += ch.content_size if ch.content_size is not None else [None] * m
                dataset_id += (
                    [v or run_dataset for v in ch.dataset_id]
                    if ch.dataset_id is not None
                    else [run_dataset] * m
                )
                captured_at += ch.captured_at if ch.captured_at is not None else [None] * m
            take_d = pa.array(take_d, pa.int32())
            take_i = pa.array(take_i, pa.int32())
        n = len(urls)
        if chunks:  # columns templated rows never set
            pad = [None] * (n - n_rows)
            snapshot_id += pad
            warc_file += pad
            warc_record_id += pad
            warc_offset += pad
        start = self._id_counter
        self._id_counter += n
        base = self._id_base
        ids = [f"{base}-{c:012x}" for c in range(start, start + n)]
        # Without chunks and with every Decision distinct, take_d is the identity.
        identity = not chunks and len(uniq_d) == n
        dcols = self._decision_columns(uniq_d, None if identity else take_d)
        hinfo, htake = uniq_i, take_i
        run = self.run
        cols: dict[str, Any] = {
            "decision_id": ids,
            "run_id": self._const_array("run_id", run.run_id, n, pa.string()),
            "url": urls,
            "final_url": final_urls,
            "origin": pa.array([i[0] for i in hinfo], S.S).take(htake),
            "host": pa.array([i[1] for i in hinfo], S.S).take(htake),
            "registrable_domain": pa.array([i[2] for i in hinfo], S.S).take(htake),
            **{k: dcols[k] for k in ("agent", "purpose", "mode", "verdict", "reasons")},
            "checked_at": checked,
            **{k: v for k, v in dcols.items() if k.startswith("robots_")},
            **{k: dcols[k] for k in _TDM_COLS},
            "evidence": dcols["evidence"],
            "licences": dcols["licences"],
            "content_size": content_size,
            "source_kind": source_kind,
            "dataset_id": dataset_id,
            "snapshot_id": snapshot_id,
            "tool_version": self._const_array("tool_version", run.tool_version, n, pa.string()),
            "config_sha256": self._const_array("config_sha256", run.config_sha256, n, pa.string()),
            "errors": dcols["errors"],
            "warc_file": warc_file,
            "warc_record_id": warc_record_id,
            "warc_offset": warc_offset,
            "input_row": input_row,
            "page_checked": dcols["page_checked"],
            "captured_at": captured_at,
        }
        arrays = [
            v if isinstance(v, pa.Array) else pa.array(v, f.type)
            for f, v in zip(S.DECISIONS, cols.values(), strict=True)
        ]
        return pa.Table.from_arrays(
            arrays, schema=S.with_metadata("decisions", S.DECISIONS, run.tool_version)
        )

    def _decision_columns(self, uniq: list[Decision], take: pa.Array | None) -> dict[str, pa.Array]:
        """The columns that come from the Decision alone: built for the distinct ``uniq`` and
        taken per row by ``take`` (None: one row per element of ``uniq``)."""
        shared = take is not None
        # Decisions of one origin and agent share one RobotsOutcome object.
        robs, rtake = _by_identity([d.robots for d in uniq])

        def rob(attr: str, typ: pa.DataType, conv: Any = None) -> pa.Array:
            vals = [None if r is None else getattr(r, attr) for r in robs]
            if conv is not None:
                vals = [conv(v) for v in vals]
            return pa.array(vals, typ).take(rtake)

        evs = [d.evidence for d in uniq]
        offsets = pa.array([0, *accumulate(len(e) for e in evs)], pa.int32())
        flat = [e for ev in evs for e in ev]
        ev_struct = pa.StructArray.from_arrays(
            [
                pa.array([getattr(e, f) for e in flat], S.EVIDENCE.field(f).type)
                for f in S.EVIDENCE_FIELDS
            ],
            fields=list(S.EVIDENCE),
        )
        cols: dict[str, pa.Array] = {
            "agent": pa.array([d.agent for d in uniq], _T("agent")),
            "purpose": pa.array([d.purpose for d in uniq], _T("purpose")),
            "mode": pa.array([d.mode for d in uniq], _T("mode")),
            "verdict": pa.array([d.verdict for d in uniq], _T("verdict")),
            "reasons": _list_column([d.reasons for d in uniq], S.LS),
            "robots_url": rob("url", S.S),
            "robots_sha256": rob("sha256", S.S),
            "robots_fetched_at": rob("fetched_at", S.TS, _us),
            "robots_status": rob("status", S.I16),
            "robots_branch": rob("branch", S.S),
            "robots_verdict": rob("verdict", S.S),
            "robots_matched_rule": rob("matched_rule", S.S),
            "robots_matched_line": rob("matched_line", S.I32),
            "robots_group": rob("group", S.S),
            "robots_truncated": rob("truncated", S.B),
            "robots_error": rob("error", S.S),
            **{c: pa.array([getattr(d, c) for d in uniq], _T(c)) for c in _TDM_COLS},
            "evidence": pa.ListArray.from_arrays(offsets, ev_struct),
            "licences": _list_column([d.licences for d in uniq], S.LS),
            "errors": _list_column([d.errors for d in uniq], S.LS),
            "page_checked": pa.array([d.page_checked for d in uniq], S.B),
        }
        if shared:
            cols = {k: v.take(take) for k, v in cols.items()}
        return cols

    # -- fetches and snapshots -------------------------------------------------------------

    def add_site(self, site: SiteFiles, *, archived: bool = False) -> None:
        """Fetch rows and snapshots for an origin's robots.txt, tdmrep.json, ai.txt and the
        terms page when one was fetched.

        ``archived``: the files are archived copies (WARC records), each ``fetched_at`` the
        archive's capture time, recorded as ``archived_at`` too.
        """
        for kind, f in (
            ("robots", site.robots),
            ("tdmrep", site.tdmrep),
            ("ai-txt", site.ai_txt),
            ("terms", site.terms),
        ):
            if f is not None:
                self.add_fetch(f, kind, site.origin, archived_at=f.fetched_at if archived else None)

    def add_fetch(
        self, fetched: Fetched, kind: str, origin: str, *, archived_at: datetime | None = None
    ) -> None:
        """One signal-file fetch (kind: robots, tdmrep, ai-txt, page, rsl) and its body.

        A body is stored once per ledger: a snapshot is written only for a response that
        arrived (status set) whose sha256 the ledger does not hold yet. ``archived_at``
        marks the response as an archived copy captured then (not a live fetch).
        """
        self._check()
        if kind not in FETCH_KINDS:
            raise ValueError(f"fetch kind {kind!r} not in {FETCH_KINDS}")
        url = fetched.url or (
            origin.rstrip("/") + _WELL_KNOWN[kind] if kind in _WELL_KNOWN else None
        )
        fetched_at = fetched.fetched_at or datetime.now(UTC)
        lower = {}
        for k, v in fetched.headers:
            lk = k.lower()
            if lk in _SELECTED_HEADERS:
                lower[lk] = f"{lower[lk]}, {v}" if lk in lower else v
        has_body = fetched.status is not None
        row = {
            "fetch_id": f"{self._id_base}-f{self._next_fetch():011x}",
            "run_id": self.run.run_id,
            "origin": origin,
            "kind": kind,
            "url": url,
            "final_url": fetched.final_url,
            "redirects": list(fetched.redirects),
            "status": fetched.status,
            "content_type": lower.get("content-type"),
            "content_length": lower.get("content-length"),
            "content_encoding": lower.get("content-encoding"),
            "last_modified": lower.get("last-modified"),
            "etag": lower.get("etag"),
            "cache_control": lower.get("cache-control"),
            "date": lower.get("date"),
            "headers": [{"name": k, "value": v} for k, v in fetched.headers],
            "error": fetched.error,
            "elapsed_s": fetched.elapsed,
            "fetched_at": fetched_at,
            "sha256": fetched.sha256 if has_body else None,
            "size": len(fetched.body) if has_body else None,
            "truncated": fetched.truncated,
            "stale": fetched.stale,
            "archived_at": archived_at,
        }
        with self._lock:
            self._fetch_rows.append(row)
            if has_body and fetched.sha256 not in self._snapshot_keys():
                self._known_snapshots.add(fetched.sha256)  # type: ignore[union-attr]
                self._snap_rows.append(
                    {
                        "sha256": fetched.sha256,
                        "size": len(fetched.body),
                        "body": fetched.body,
                        "url": fetched.final_url or url,
                        "kind": kind,
                        "status": fetched.status,
                        "headers": [{"name": k, "value": v} for k, v in fetched.headers],
                        "fetched_at": fetched_at,
                        "run_id": self.run.run_id,
                    }
                )
                self._snap_bytes += len(fetched.body)
            if (
                len(self._fetch_rows) >= self.flush_rows
                or len(self._snap_rows) >= self.flush_rows
                or self._snap_bytes >= SNAPSHOT_FLUSH_BYTES
            ):
                self._flush_snapshots_and_fetches()

    def _next_fetch(self) -> int:
        self._fetch_counter += 1
        return self._fetch_counter

    def _snapshot_keys(self) -> LRUKeys:
        if self._known_snapshots is None:
            newest = self.ledger.snapshot_keys(limit=SNAPSHOT_CACHE_KEYS)
            self._known_snapshots = LRUKeys(SNAPSHOT_CACHE_KEYS, reversed(newest))
        return self._known_snapshots

    def _flush_snapshots_and_fetches(self) -> None:
        tv = self.run.tool_version
        if self._snap_rows:
            rows, self._snap_rows, self._snap_bytes = self._snap_rows, [], 0
            t = pa.Table.from_pylist(rows, schema=S.with_metadata("snapshots", S.SNAPSHOTS, tv))
            self.ledger.write_segment(
                "snapshots",
                "snapshots",
                t,
                name=segment_name(self.run.run_id),
                run_id=self.run.run_id,
            )
            self.snapshots_written += len(rows)
            self.segments_written += 1
        if self._fetch_rows:
            rows, self._fetch_rows = self._fetch_rows, []
            t = pa.Table.from_pylist(rows, schema=S.with_metadata("fetches", S.FETCHES, tv))
            self.ledger.write_segment(
                "fetches",
                f"fetches/run={self.run.run_id}",
                t,
                name=segment_name(self.run.run_id),
                run_id=self.run.run_id,
            )
            self.fetches_written += len(rows)
            self.segments_written += 1

    # -- licences --------------------------------------------------------------------------

    def add_licences(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append licence-inventory records (public-summary template section 2.2) as one segment.

        Keys that match a ``licences`` column are stored there; any other key goes into
        ``extra_json`` so nothing an import supplies is dropped. Returns the rows written.
        """
        self._check()
        names = set(S.LICENCES.names)
        now = datetime.now(UTC)
        rows = []
        for rec in records:
            row = {k: v for k, v in rec.items() if k in names}
            extra = {k: v for k, v in rec.items() if k not in names}
            if extra:
                row["extra_json"] = json.dumps(extra, sort_keys=True, default=str)
            row.setdefault("licence_record_id", f"{self._id_base}-l{self._next_fetch():011x}")
            row["run_id"] = self.run.run_id
            row.setdefault("recorded_at", now)
            rows.append(row)
        if not rows:
            return 0
        t = pa.Table.from_pylist(
            rows, schema=S.with_metadata("licences", S.LICENCES, self.run.tool_version)
        )
        with self._lock:
            self.ledger.write_segment(
                "licences",
                f"licences/run={self.run.run_id}",
                t,
                name=segment_name(self.run.run_id),
                run_id=self.run.run_id,
            )
            self.segments_written += 1
        return len(rows)

    # -- seals -----------------------------------------------------------------------------

    def add_seal(self, row: Mapping[str, Any]) -> None:
        """Store one RFC 3161 seal over the chain head (see :mod:`tdmscan.ledger.seal`)."""
        self._check()
        rec = {**row, "run_id": self.run.run_id}
        rec.setdefault("recorded_at", datetime.now(UTC))
        t = pa.Table.from_pylist(
            [rec], schema=S.with_metadata("seals", S.SEALS, self.run.tool_version)
        )
        with self._lock:
            self.ledger.write_segment(
                "seals",
                f"seals/run={self.run.run_id}",
                t,
                name=segment_name(self.run.run_id),
                run_id=self.run.run_id,
            )
            self.segments_written += 1

    # -- complaints ------------------------------------------------------------------------

    def add_complaint_events(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Append complaint events (``complaints`` columns) as one segment; returns the rows."""
        self._check()
        names = set(S.COMPLAINTS.names)
        now = datetime.now(UTC)
        rows = []
        for ev in events:
            unknown = set(ev) - names
            if unknown:
                raise ValueError(f"not complaints columns: {sorted(unknown)}")
            row = dict(ev)
            row["run_id"] = self.run.run_id
            row.setdefault("recorded_at", now)
            rows.append(row)
        if not rows:
            return 0
        t = pa.Table.from_pylist(
            rows, schema=S.with_metadata("complaints", S.COMPLAINTS, self.run.tool_version)
        )
        with self._lock:
            self.ledger.write_segment(
                "complaints",
                f"complaints/run={self.run.run_id}",
                t,
                name=segment_name(self.run.run_id),
                run_id=self.run.run_id,
            )
            self.segments_written += 1
        return len(rows)

    # -- flushing --------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every buffered row now (segments may be small; prefer the automatic flush)."""
        self._check()
        with self._lock:
            self._flush_all()

    def _flush_all(self) -> None:
        self._flush_snapshots_and_fetches()
        for k in range(self.shards):
            self._flush_shard(k)
        self._last_flush = time.monotonic()

    # -- rollups ---------------------------------------------------------------------------

    def _write_rollup(self) -> None:
        """This run's (or shard's) compact counts, from what is on disk, as one segment."""
        shard_k = None if self.run.shard is None else self.run.shard[0]
        if not self.decisions_written:
            return
        t = self.ledger.rollup_table(self.run.run_id, shard_k)
        if t.num_rows:
            self.ledger.write_segment(
                "rollups",
                f"rollups/run={self.run.run_id}",
                t,
                name=segment_name(self.run.run_id),
                run_id=self.run.run_id,
            )
            self.segments_written += 1

    # -- runs ------------------------------------------------------------------------------

    def _write_run_row(self, status: str, error: str | None = None) -> None:
        run = self.run
        now = datetime.now(UTC)
        finished = status != "running"
        # A shard's row counts its own decisions (its shard=<k> directory) so that the runs
        # view can sum the shards; fetches are not partitioned, so they are the run's total.
        shard_k = None if run.shard is None else run.shard[0]
        counts = self.ledger.run_counts(run.run_id, shard=shard_k) if finished else {}
        verdicts = counts.get("verdicts") or dict.fromkeys(S.VERDICT_COUNTS.names, 0)
        row = {
            "run_id": run.run_id,
            "kind": run.kind,
            "status": status,
            "started_at": self._started_at,
            "finished_at": now if finished else None,
            "updated_at": now,
            "tool_version": run.tool_version,
            "agents": list(run.agents),
            "user_agent": run.user_agent,
            "mode": run.mode,
            "purpose": run.purpose,
            "config_json": run.config_json,
            "config_sha256": run.config_sha256,
            "input_description": run.input_description,
            "input_sha256": run.input_sha256,
            "dataset_id": run.dataset_id,
            "decisions": counts.get("decisions", 0),
            "verdict_counts": {k: verdicts.get(k, 0) for k in S.VERDICT_COUNTS.names},
            "fetches": counts.get("fetches", 0),
            "snapshots_new": self.snapshots_written,
            "shards": self.shards,
            "psl_version": PSL_VERSION,
            "schema_versions": {t: S.SCHEMA_VERSIONS[t] for t in S.RUN_VERSIONED_TABLES},
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "error": error,
            "shard_k": shard_k,
            "shard_n": None if run.shard is None else run.shard[1],
        }
        t = pa.Table.from_pylist([row], schema=S.with_metadata("runs", S.RUNS, run.tool_version))
        self.ledger.write_segment(
            "runs",
            f"runs/run={run.run_id}",
            t,
            name=segment_name(run.run_id),
            run_id=run.run_id,
        )
