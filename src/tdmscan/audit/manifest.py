"""Manifest readers: every supported input format becomes one stream of Arrow batches.

Each batch has the columns of :data:`BATCH_SCHEMA`. ``input_row`` is the row's stable
position in the manifest (see :func:`open_manifest`); ``pre_reason`` is set when the row is
already known to be invalid before URL parsing (bytes that are not UTF-8, a JSONL line that
is not JSON), so the row is still decided (``invalid``) rather than dropped. ``captured_at``
is when the content was collected (see :func:`parse_capture_time`), NULL when the manifest
does not say or the value cannot be read.

Readers never raise on a bad *row*. They raise :class:`ManifestError` (one line, for the CLI
to print) only for a bad *manifest*: missing file, unknown column, unreadable Parquet.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "BATCH_SCHEMA",
    "FORMATS",
    "Manifest",
    "ManifestError",
    "ManifestOptions",
    "detect_format",
    "open_manifest",
    "parse_capture_time",
]

FORMATS: tuple[str, ...] = ("txt", "csv", "tsv", "jsonl", "parquet")

BATCH_SCHEMA = pa.schema(
    [
        ("input_row", pa.int64()),
        ("url", pa.string()),
        ("size", pa.int64()),
        ("dataset", pa.string()),
        ("pre_reason", pa.string()),
        ("captured_at", pa.timestamp("us", tz="UTC")),
    ]
)

#: URL column names tried, in order, when ``--url-column`` is not given.
URL_COLUMN_CANDIDATES = ("url", "URL", "Url", "uri", "target_uri", "WARC-Target-URI", "link")
#: Size columns recognised without ``--size-column`` (the Common Crawl index has both names
#: across its history).
SIZE_COLUMN_CANDIDATES = ("warc_record_length", "content_length")
#: Capture-time columns recognised without ``--captured-at-column``: Common Crawl's CDX index
#: (``timestamp``, 14 digits) and columnar index (``fetch_time``), WARC-derived listings.
CAPTURED_AT_CANDIDATES = ("captured_at", "timestamp", "fetch_time", "WARC-Date", "warc_date")
#: Columns whose presence marks the Common Crawl columnar URL index.
_CC_INDEX_MARKERS = frozenset({"url_surtkey", "url_host_registered_domain", "warc_filename"})

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_PARQUET_MAGIC = b"PAR1"
_BATCH_ROWS = 65_536
# Longer fields are junk, but they are still rows: keep them (truncated parsing is worse).
_CSV_FIELD_LIMIT = 64 * 1024 * 1024


class ManifestError(Exception):
    """A manifest that cannot be read at all; the message is one line meant for the user."""


@dataclass(frozen=True, slots=True)
class ManifestOptions:
    """How to read a manifest; ``None`` means detect or use the default."""

    format: str | None = None
    url_column: str | None = None
    size_column: str | None = None
    dataset_column: str | None = None
    dataset_id: str | None = None
    captured_at_column: str | None = None
    batch_rows: int = _BATCH_ROWS


@dataclass(slots=True)
class Manifest:
    """An opened manifest: its resolved format and columns, and a batch iterator."""

    path: Path
    format: str
    compression: str | None
    url_column: str | None
    size_column: str | None
    dataset_column: str | None
    dataset_id: str | None
    columns: list[str] = field(default_factory=list)
    captured_at_column: str | None = None
    options: ManifestOptions = field(default_factory=ManifestOptions)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Every row of the manifest, in order, as :data:`BATCH_SCHEMA` batches."""
        reader = {
            "txt": _iter_txt,
            "csv": _iter_csv,
            "tsv": _iter_csv,
            "jsonl": _iter_jsonl,
            "parquet": _iter_parquet,
        }[self.format]
        try:
            yield from reader(self)
        except ManifestError:
            raise
        except Exception as exc:
            # Corruption found mid-file (truncated gzip or zstd, a zstd checksum, a bad Parquet
            # page) or anything a reader did not foresee: one line for the CLI, not a
            # traceback. Bad *rows* never get here; they become invalid rows.
            raise ManifestError(
                f"{self.path}: cannot read {self.format} manifest: {_one_line(exc)}"
            ) from exc

    def content_hash(self) -> str:
        """sha256 of the manifest's bytes: the key that matches a rerun to an unfinished run."""
        try:
            return self._content_hash()
        except OSError as exc:
            raise ManifestError(f"{self.path}: cannot read: {_one_line(exc)}") from exc

    def _content_hash(self) -> str:
        h = hashlib.sha256()
        paths = sorted(self.path.rglob("*.parquet")) if self.path.is_dir() else [self.path]
        for p in paths:
            if self.path.is_dir():
                h.update(str(p.relative_to(self.path)).encode() + b"\0")
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        return h.hexdigest()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _sniff_compression(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return None


class _ZstdReader(io.RawIOBase):
    """A zstd stream (one or more frames) as a raw binary file that notices truncation.

    ``zstandard``'s stream reader ends quietly at a frame cut short, so a truncated manifest
    would read as a shorter one; here a stream that ends mid-frame raises ``EOFError`` like
    ``gzip`` does. Input goes to the decompressor 1 KiB at a time, so a decompression bomb
    costs at most one small input's worth of output per read, not the whole file in memory.
    """

    _IN = 1024

    def __init__(self, raw: IO[bytes]) -> None:
        import zstandard

        self._new = zstandard.ZstdDecompressor().decompressobj
        self._raw = raw
        self._d = self._new()
        self._fed = False  # the current frame has input
        self._out = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._out:
            data = self._raw.read(self._IN)
            if not data:
                if self._fed and not self._d.eof:
                    raise EOFError("zstd stream ends mid-frame (truncated file)")
                return 0
            while data:
                if self._d.eof:
                    self._d, self._fed = self._new(), False
                self._fed = True
                self._out += self._d.decompress(data)
                data = self._d.unused_data if self._d.eof else b""
        n = min(len(b), len(self._out))
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open_binary(path: Path, compression: str | None) -> IO[bytes]:
    if compression == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if compression == "zstd":
        raw = open(path, "rb")  # noqa: SIM115 - handed to the reader, closed with it
        return io.BufferedReader(_ZstdReader(raw))  # type: ignore[return-value]
    return open(path, "rb")


def detect_format(path: Path, compression: str | None = None) -> str:
    """The manifest format from the file name (compression suffix ignored), else its content."""
    if path.is_dir():
        return "parquet"
    name = path.name.lower()
    for suffix in (".gz", ".gzip", ".zst", ".zstd"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    ext = name.rsplit(".", 1)[-1] if "." in name else ""
    by_ext = {
        "txt": "txt",
        "urls": "txt",
        "lst": "txt",
        "list": "txt",
        "csv": "csv",
        "tsv": "tsv",
        "tab": "tsv",
        "jsonl": "jsonl",
        "ndjson": "jsonl",
        "json": "jsonl",
        "parquet": "parquet",
        "pq": "parquet",
    }
    if ext in by_ext:
        return by_ext[ext]
    # No telling extension (stdin, "manifest"): look at the bytes.
    with _open_binary(path, compression) as f:
        head = f.read(64 * 1024)
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    for line in head.splitlines():
        s = line.strip()
        if s and not s.startswith(b"#"):
            return "jsonl" if s.startswith(b"{") else "txt"
    return "txt"


def spool_stdin(directory: Path) -> Path:
    """Copy stdin to a file so it can be sniffed, hashed and read like any other manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "stdin.manifest"
    with open(target, "wb") as out:
        shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
    return target


def open_manifest(path: str | Path, options: ManifestOptions | None = None) -> Manifest:
    """Open and validate a manifest (see :func:`_open_manifest`); any failure to read it is
    one :class:`ManifestError` line."""
    try:
        return _open_manifest(path, options)
    except ManifestError:
        raise
    except Exception as exc:
        raise ManifestError(f"{path}: cannot read manifest: {_one_line(exc)}") from exc


def _open_manifest(path: str | Path, options: ManifestOptions | None = None) -> Manifest:
    """Open and validate a manifest (format, columns) without reading its rows yet.

    ``input_row`` numbering, stable across reruns of the same file: txt and JSONL count every
    physical line from 0 (blank and ``#`` comment lines are not rows but keep their number, so
    ``input_row + 1`` is the line number); CSV/TSV count data records from 0 after the header;
    Parquet counts rows from 0 in file order (directories: files in sorted path order).
    """
    opts = options or ManifestOptions()
    p = Path(path)
    if not p.exists():
        raise ManifestError(f"{p}: no such file or directory")
    if p.is_dir():
        if not any(p.rglob("*.parquet")):
            raise ManifestError(f"{p}: directory holds no .parquet files")
        compression = None
    else:
        try:
            compression = _sniff_compression(p)
        except OSError as exc:
            raise ManifestError(f"{p}: cannot open: {_one_line(exc)}") from exc
    fmt = opts.format or detect_format(p, compression)
    if fmt not in FORMATS:
        raise ManifestError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if opts.dataset_column and opts.dataset_id:
        raise ManifestError("give --dataset-column or --dataset-id, not both")
    m = Manifest(
        path=p,
        format=fmt,
        compression=compression,
        url_column=opts.url_column,
        size_column=opts.size_column,
        dataset_column=opts.dataset_column,
        dataset_id=opts.dataset_id,
        options=opts,
        captured_at_column=opts.captured_at_column,
    )
    if fmt == "txt":
        for name, value in (
            ("--url-column", opts.url_column),
            ("--captured-at-column", opts.captured_at_column),
            ("--size-column", opts.size_column),
            ("--dataset-column", opts.dataset_column),
        ):
            if value:
                raise ManifestError(f"{name} needs a csv, tsv, jsonl or parquet manifest (got txt)")
    elif fmt in ("csv", "tsv"):
        m.columns = _csv_header(m)
        _resolve_columns(m)
    elif fmt == "jsonl":
        m.columns = _jsonl_keys(m)
        _resolve_columns(m, strict_url=False)
    else:
        m.columns = _parquet_columns(m)
        _resolve_columns(m)
    return m


def _resolve_columns(m: Manifest, strict_url: bool = True) -> None:
    cols = m.columns
    available = ", ".join(cols) if cols else "(none)"
    if m.url_column is None:
        m.url_column = next((c for c in URL_COLUMN_CANDIDATES if c in cols), None)
        if m.url_column is None:
            if m.format in ("csv", "tsv") and len(cols) == 1:
                m.url_column = cols[0]
            elif strict_url or cols:
                raise ManifestError(
                    f"{m.path}: no URL column found; pass --url-column (available: {available})"
                )
            else:
                m.url_column = "url"
    elif m.url_column not in cols and (strict_url or cols):
        raise ManifestError(
            f"{m.path}: unknown column {m.url_column!r} for --url-column (available: {available})"
        )
    if m.size_column is None:
        if _CC_INDEX_MARKERS & set(cols) or m.format == "parquet":
            m.size_column = next((c for c in SIZE_COLUMN_CANDIDATES if c in cols), None)
    elif m.size_column not in cols:
        raise ManifestError(
            f"{m.path}: unknown column {m.size_column!r} for --size-column (available: {available})"
        )
    if m.dataset_column is not None and m.dataset_column not in cols:
        raise ManifestError(
            f"{m.path}: unknown column {m.dataset_column!r} for --dataset-column "
            f"(available: {available})"
        )
    if m.captured_at_column is None:
        m.captured_at_column = next((c for c in CAPTURED_AT_CANDIDATES if c in cols), None)
    elif m.captured_at_column not in cols:
        raise ManifestError(
            f"{m.path}: unknown column {m.captured_at_column!r} for --captured-at-column "
            f"(available: {available})"
        )
    cc_index = bool(_CC_INDEX_MARKERS & set(cols))
    if m.dataset_column is None and m.dataset_id is None and cc_index and "crawl" in cols:
        # The cc-index's hive partition names the crawl: the natural snapshot id.
        m.dataset_column = "crawl"


# --- small helpers shared by the row readers ------------------------------------------------


def _decode(raw: bytes) -> tuple[str, str | None]:
    """UTF-8 text of a field, or a visible escape of its bytes plus the reason it is invalid."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), "bad-encoding"


def _from_surrogates(s: str) -> tuple[str, str | None]:
    if s.isascii():
        return s, None
    try:
        s.encode("utf-8")
        return s, None
    except UnicodeEncodeError:
        raw = s.encode("utf-8", "surrogateescape")
        return raw.decode("utf-8", "backslashreplace"), "bad-encoding"


_INT64 = 2**63


def _to_size(value: Any) -> int | None:
    """A size as an int64, None when absent or unreadable (out of range included)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else None
    try:
        n = int(str(value).strip())
        return n if -_INT64 <= n < _INT64 else None
    except ValueError:
        try:
            f = float(str(value).strip())
        except ValueError:
            return None
        return int(f) if f == f and abs(f) < 2**63 else None


def _to_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return _from_surrogates(value)[0]
    return _dumps(value) if isinstance(value, dict | list) else str(value)


def _dumps(value: Any) -> str:
    """``json.dumps`` that cannot fail on what ``json.loads`` returned (deep nesting)."""
    try:
        return json.dumps(value)
    except (RecursionError, ValueError):
        return f"<{type(value).__name__} nested too deeply>"


def parse_capture_time(value: Any) -> datetime | None:
    """A capture time as written in manifests, in UTC; None when it cannot be read.

    Accepted: a datetime (naive means UTC), the 14-digit ``yyyymmddhhmmss`` of Common
    Crawl's CDX index and the Wayback Machine (shorter prefixes such as ``yyyymmdd`` too),
    and ISO 8601 (``2024-03-01``, ``2024-03-01T12:00:00Z``, with an offset). WARC-Date is
    ISO 8601 (WARC 1.1, section 5.4).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        dt = value
    elif not isinstance(value, str | int | float):
        return None  # a JSON list or object is no time (and its str() may recurse deeply)
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            if text.isdigit():
                if len(text) not in (4, 6, 8, 10, 12, 14):
                    return None
                fmt = "%Y%m%d%H%M%S"[: {4: 2, 6: 4, 8: 6, 10: 8, 12: 10, 14: 12}[len(text)]]
                dt = datetime.strptime(text, fmt)
            else:
                dt = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            return None
    try:
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (OverflowError, ValueError):  # an offset that moves the time out of range
        return None


def _time_array(arr: pa.Array) -> pa.Array:
    """A capture-time column as timestamp[us, UTC]; unreadable values become null."""
    typ = pa.timestamp("us", tz="UTC")
    t = arr.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            arr = pc.assume_timezone(arr, "UTC")
        return pc.cast(arr, typ)
    if pa.types.is_date(t):
        return pc.cast(pc.cast(arr, pa.timestamp("us")), typ)
    return pa.array([parse_capture_time(v) for v in arr.to_pylist()], typ)


class _BatchBuilder:
    """Accumulates rows column-wise and emits a RecordBatch every ``limit`` rows."""

    __slots__ = ("captured", "dataset", "datasets", "limit", "reasons", "rows", "sizes", "urls")

    def __init__(self, limit: int, dataset_id: str | None) -> None:
        self.limit = limit
        self.dataset = dataset_id
        self._reset()

    def _reset(self) -> None:
        self.rows: list[int] = []
        self.urls: list[str] = []
        self.sizes: list[int | None] = []
        self.datasets: list[str | None] = []
        self.reasons: list[str | None] = []
        self.captured: list[datetime | None] = []

    def add(
        self,
        row: int,
        url: str,
        size: int | None,
        dataset: str | None,
        reason: str | None,
        captured: Any = None,
    ) -> pa.RecordBatch | None:
        self.captured.append(None if captured is None else parse_capture_time(captured))
        self.rows.append(row)
        self.urls.append(url)
        self.sizes.append(size)
        self.datasets.append(dataset if dataset is not None else self.dataset)
        self.reasons.append(reason)
        if len(self.rows) >= self.limit:
            return self.flush()
        return None

    def flush(self) -> pa.RecordBatch | None:
        if not self.rows:
            return None
        batch = pa.RecordBatch.from_arrays(
            [
                pa.array(self.rows, pa.int64()),
                pa.array(self.urls, pa.string()),
                pa.array(self.sizes, pa.int64()),
                pa.array(self.datasets, pa.string()),
                pa.array(self.reasons, pa.string()),
                pa.array(self.captured, pa.timestamp("us", tz="UTC")),
            ],
            schema=BATCH_SCHEMA,
        )
        self._reset()
        return batch


# --- txt ------------------------------------------------------------------------------------


def _iter_txt(m: Manifest) -> Iterator[pa.RecordBatch]:
    b = _BatchBuilder(m.options.batch_rows, m.dataset_id)
    with _open_binary(m.path, m.compression) as f:
        for lineno, raw in enumerate(f):
            if lineno == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            line = raw.rstrip(b"\r\n")
            s = line.strip()
            if not s or s.startswith(b"#"):
                continue
            if line.isascii():
                url, reason = line.decode("ascii"), None
            else:
                url, reason = _decode(line)
            out = b.add(lineno, url, None, None, reason)
            if out is not None:
                yield out
    out = b.flush()
    if out is not None:
        yield out


# --- csv / tsv ------------------------------------------------------------------------------


def _csv_text(m: Manifest) -> IO[str]:
    # surrogateescape: junk bytes survive decoding and are flagged per field, not per file.
    return io.TextIOWrapper(
        _open_binary(m.path, m.compression),
        encoding="utf-8-sig",
        errors="surrogateescape",
        newline="",
    )


def _csv_dialect(m: Manifest, sample: str) -> type[csv.Dialect] | csv.Dialect:
    if m.format == "tsv":
        return csv.excel_tab
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _csv_reader(m: Manifest, f: IO[str]) -> Iterator[list[str]]:
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    if m.format == "tsv":
        return csv.reader(f, csv.excel_tab)
    # Compressed streams cannot seek: sniff on a separate open of the file.
    with _csv_text(m) as probe:
        sample = probe.read(64 * 1024)
    return csv.reader(f, _csv_dialect(m, sample))


def _csv_header(m: Manifest) -> list[str]:
    try:
        with _csv_text(m) as f:
            header = next(_csv_reader(m, f), None)
    except (OSError, EOFError, csv.Error, ValueError) as exc:
        raise ManifestError(f"{m.path}: cannot read {m.format} header: {_one_line(exc)}") from exc
    if not header:
        raise ManifestError(f"{m.path}: empty {m.format} manifest (no header row)")
    return [_from_surrogates(h.strip())[0] for h in header]


def _iter_csv(m: Manifest) -> Iterator[pa.RecordBatch]:
    assert m.url_column is not None
    ui = m.columns.index(m.url_column)
    si = m.columns.index(m.size_column) if m.size_column else None
    di = m.columns.index(m.dataset_column) if m.dataset_column else None
    ci = m.columns.index(m.captured_at_column) if m.captured_at_column else None
    b = _BatchBuilder(m.options.batch_rows, m.dataset_id)
    with _csv_text(m) as f:
        rows = _csv_reader(m, f)
        next(rows, None)
        for n, rec in enumerate(rows):
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue  # a blank line is not a record
            if ui < len(rec):
                url, reason = _from_surrogates(rec[ui])
            else:
                url, reason = "", "missing-column"
            size = _to_size(rec[si]) if si is not None and si < len(rec) else None
            ds = _to_text(rec[di]) if di is not None and di < len(rec) else None
            cap = rec[ci] if ci is not None and ci < len(rec) else None
            out = b.add(n, url, size, ds, reason, cap)
            if out is not None:
                yield out
    out = b.flush()
    if out is not None:
        yield out


# --- jsonl ----------------------------------------------------------------------------------


def _jsonl_keys(m: Manifest) -> list[str]:
    """Keys of the first JSON object in the file (for column checks and error messages)."""
    try:
        with _open_binary(m.path, m.compression) as f:
            for i, raw in enumerate(f):
                if i > 1000:
                    break
                s = raw.strip()
                if not s:
                    continue
                try:
                    obj = json.loads(s)
                except (ValueError, RecursionError):
                    continue
                if isinstance(obj, dict):
                    return [str(k) for k in obj]
    except Exception as exc:  # truncated or corrupt compressed stream, unreadable file
        raise ManifestError(f"{m.path}: cannot read jsonl manifest: {_one_line(exc)}") from exc
    return []


def _iter_jsonl(m: Manifest) -> Iterator[pa.RecordBatch]:
    key = m.url_column or "url"
    size_key, ds_key, cap_key = m.size_column, m.dataset_column, m.captured_at_column
    b = _BatchBuilder(m.options.batch_rows, m.dataset_id)
    loads = json.loads
    with _open_binary(m.path, m.compression) as f:
        for lineno, raw in enumerate(f):
            s = raw.strip()
            if not s:
                continue
            size = ds = cap = None
            try:
                obj = loads(s)
            except (ValueError, RecursionError):  # nesting deeper than Python's stack
                obj = None
                url, reason = _decode(s)
                reason = reason or "bad-json"
            else:
                if isinstance(obj, dict):
                    v = obj.get(key)
                    if isinstance(v, str):
                        url, reason = v, None
                    elif v is None:
                        url, reason = "", "missing-column"
                    else:
                        url, reason = _dumps(v), "not-a-string"
                    if size_key is not None:
                        size = _to_size(obj.get(size_key))
                    if ds_key is not None:
                        ds = _to_text(obj.get(ds_key))
                    if cap_key is not None:
                        cap = obj.get(cap_key)
                elif isinstance(obj, str):
                    url, reason = obj, None  # a bare JSON string per line is a URL list too
                else:
                    url, reason = s.decode("utf-8", "backslashreplace"), "not-an-object"
            if reason is None and not url.isascii():
                url, reason = _from_surrogates(url)  # lone surrogates from \ud800 escapes
            out = b.add(lineno, url, size, ds, reason, cap)
            if out is not None:
                yield out
    out = b.flush()
    if out is not None:
        yield out


# --- parquet --------------------------------------------------------------------------------


def _parquet_files(m: Manifest) -> list[Path]:
    if m.path.is_dir():
        return sorted(m.path.rglob("*.parquet"))
    return [m.path]


def _hive_parts(base: Path, file: Path) -> dict[str, str]:
    """``crawl=CC-MAIN-...`` style directory names between the manifest root and the file."""
    parts: dict[str, str] = {}
    if base.is_dir():
        for d in file.relative_to(base).parts[:-1]:
            if "=" in d:
                k, v = d.split("=", 1)
                parts[k] = v
    return parts


def _parquet_columns(m: Manifest) -> list[str]:
    import pyarrow.parquet as pq

    cols: list[str] = []
    files = _parquet_files(m)
    for f in files[:1] if not m.path.is_dir() else files:
        try:
            names = pq.ParquetFile(f).schema_arrow.names
        except (pa.ArrowException, OSError) as exc:
            raise ManifestError(f"{f}: not a readable Parquet file: {_one_line(exc)}") from exc
        for n in [*names, *_hive_parts(m.path, f)]:
            if n not in cols:
                cols.append(n)
        if m.path.is_dir() and len(files) > 64:
            break  # schemas drift slowly across cc-index files; 64 is plenty to name columns
    return cols


def _url_array(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    """A URL column as (string array without nulls, per-row invalid reasons).

    String columns (the common case, and the Common Crawl index) stay in Arrow: a null
    becomes "" with reason ``missing-value``. Binary columns are cast when they are valid
    UTF-8, else decoded row by row (``bad-encoding`` with a visible escape of the bytes).
    Anything else (numbers, say) is each value's ``str()``.
    """
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    n = len(arr)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        try:
            arr = pc.cast(arr, pa.string())
        except pa.ArrowInvalid:
            out: list[str] = []
            reasons: list[str | None] = []
            for raw in arr.to_pylist():
                if raw is None:
                    out.append("")
                    reasons.append("missing-value")
                else:
                    text, r = _decode(raw)
                    out.append(text)
                    reasons.append(r)
            return pa.array(out, pa.string()), pa.array(reasons, pa.string())
    elif not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        arr = pa.array([None if v is None else str(v) for v in arr.to_pylist()], pa.string())
    arr = arr.cast(pa.string())
    if arr.null_count == 0:
        return arr, pa.nulls(n, pa.string())
    missing = pc.is_null(arr)
    return (
        pc.fill_null(arr, ""),
        pc.if_else(missing, pa.scalar("missing-value"), pa.scalar(None, pa.string())),
    )


def _int_array(arr: pa.Array) -> pa.Array:
    try:
        return pc.cast(arr, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([_to_size(v) for v in arr.to_pylist()], pa.int64())


def _iter_parquet(m: Manifest) -> Iterator[pa.RecordBatch]:
    import pyarrow.parquet as pq

    assert m.url_column is not None
    offset = 0
    for f in _parquet_files(m):
        try:
            pf = pq.ParquetFile(f)
        except (pa.ArrowException, OSError) as exc:
            raise ManifestError(f"{f}: not a readable Parquet file: {_one_line(exc)}") from exc
        hive = _hive_parts(m.path, f)
        names = set(pf.schema_arrow.names)
        wanted = [
            c
            for c in (m.url_column, m.size_column, m.dataset_column, m.captured_at_column)
            if c and c in names
        ]
        wanted = list(dict.fromkeys(wanted))
        if m.url_column not in names and m.url_column not in hive:
            raise ManifestError(
                f"{f}: unknown column {m.url_column!r}"
                f" (available: {', '.join(pf.schema_arrow.names)})"
            )
        for batch in pf.iter_batches(batch_size=m.options.batch_rows, columns=wanted):
            n = batch.num_rows
            if n == 0:
                continue
            urls, reasons = _url_array(batch.column(m.url_column))
            if m.size_column and m.size_column in names:
                sizes = _int_array(batch.column(m.size_column))
            else:
                sizes = pa.nulls(n, pa.int64())
            if m.dataset_column and m.dataset_column in names:
                ds = pc.cast(batch.column(m.dataset_column), pa.string())
            elif m.dataset_column and m.dataset_column in hive:
                ds = pa.array([hive[m.dataset_column]] * n, pa.string())
            else:
                ds = pa.array([m.dataset_id] * n, pa.string())
            if m.captured_at_column and m.captured_at_column in names:
                cap = _time_array(batch.column(m.captured_at_column))
            else:
                cap = pa.nulls(n, pa.timestamp("us", tz="UTC"))
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(range(offset, offset + n), pa.int64()),
                    urls,
                    sizes,
                    ds,
                    reasons,
                    cap,
                ],
                schema=BATCH_SCHEMA,
            )
            offset += n


def is_stdin(path: str | os.PathLike[str]) -> bool:
    return str(path) == "-"
