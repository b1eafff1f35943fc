"""Decide on archived pages straight from WARC files, with the evidence the archive holds.

Page-level signals (headers, ``<head>``) come from each ``response`` record as archived.
Origin-level signals (robots.txt, ``/.well-known/tdmrep.json``, ``/ai.txt``) come from
records of those files in the same WARCs or in sibling WARCs (Common Crawl publishes
robots.txt responses in separate ``robotstxt`` WARCs), otherwise from a live fetch through
the :class:`~tdmscan.scanner.Scanner`, or, with ``fetch_missing=False``, not at all: then a
page that nothing reserves is ``unknown`` with reason ``robots:not-archived``, because a
robots.txt that was never looked at is not an allowing one.

Framing is done here rather than by ``warcio.ArchiveIterator`` because the iterator stops
at the first bad gzip member and silently drops a truncated last record; warcio still
parses every record's WARC and HTTP headers. Each gzip member (Common Crawl writes one per
record) and each uncompressed record is read on its own, so a truncated or corrupt record
becomes one error and the reader resynchronises on the next record.
"""

from __future__ import annotations

import bisect
import io
import logging
import os
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from ..policy import SiteSignals, decide, parse_site
from ..types import Decision, Fetched, SiteFiles
from ..urls import InvalidURL, parse_url

__all__ = [
    "SITE_FILE_PATHS",
    "ArchivedSiteFiles",
    "WarcRecord",
    "WarcResult",
    "WarcSummary",
    "evaluate_warc",
    "iter_warc",
    "read_warc",
]

log = logging.getLogger("tdmscan.warc")

#: Paths whose archived responses are origin-level signal files, not pages.
SITE_FILE_PATHS: dict[str, str] = {
    "/robots.txt": "robots",
    "/.well-known/tdmrep.json": "tdmrep",
    "/ai.txt": "ai_txt",
}

#: Bytes of a record kept for evaluation. Signals sit in headers and ``<head>``; RFC 9309
#: asks for at least 500 KiB of robots.txt to be parsed.
DEFAULT_MAX_BODY = 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b\x08"
_CHUNK = 64 * 1024
_MAX_HEADER_BYTES = 256 * 1024
_MAX_REDIRECTS = 5  # RFC 9309 section 2.3.1.2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WARC_VERSION_RE = re.compile(rb"WARC/1\.[01]\r?\n")


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class WarcRecord:
    """One WARC record as read from disk: where it sits, what it says, or why it is unusable.

    ``error`` is set for a record that could not be read completely (``truncated``: the file
    ends or the next record starts before its Content-Length; ``corrupt-gzip``; ``malformed``:
    no parsable WARC header). Whatever could still be read (target URI, record id, headers)
    is kept, so the failure can be recorded against the right URL.
    """

    path: str
    offset: int
    length: int
    record_type: str | None = None
    record_id: str | None = None
    target_uri: str | None = None
    date: datetime | None = None
    response: Fetched | None = None
    error: str | None = None
    error_detail: str | None = None
    #: The archive itself marks the payload as cut (``WARC-Truncated``, e.g. Common Crawl's
    #: 1 MiB limit): a normal record, not an error.
    warc_truncated: str | None = None


@dataclass(slots=True)
class _Frame:
    offset: int
    length: int
    data: bytes  # decompressed prefix of the record, at most header + max_body bytes
    total: int  # decompressed size of the whole frame
    error: str | None = None
    detail: str | None = None


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    # WARC-Date is UTC by definition; a writer that left the zone out still meant UTC, and
    # aware dates throughout keep captures from different writers comparable.
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _strip_uri(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    # WARC 1.0's grammar put angle brackets around URIs and some writers still do.
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value or None


def _header_block(data: bytes) -> tuple[dict[str, str], int] | None:
    """The WARC header fields (lower-cased names) and the header block's length, if complete."""
    end = data.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end = data.find(b"\n\n")
        sep = 2
    if end < 0:
        return None
    lines = data[:end].decode("utf-8", "replace").splitlines()
    if not lines or not lines[0].startswith("WARC/"):
        return None
    fields: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            fields.setdefault(name.strip().lower(), value.strip())
    return fields, end + sep


def _gzip_frames(fh: io.BufferedReader, size: int, keep: int) -> Iterator[_Frame]:
    pos = 0
    while pos < size:
        fh.seek(pos)
        if fh.read(3) != _GZIP_MAGIC:
            nxt = _resync_gzip(fh, pos + 1, size)
            yield _Frame(
                pos, nxt - pos, b"", 0, "malformed", "bytes between records are not a gzip member"
            )
            pos = nxt
            continue
        fh.seek(pos)
        d = zlib.decompressobj(wbits=31)
        kept = bytearray()
        total = fed = 0
        error = detail = None
        try:
            while not d.eof:
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                fed += len(chunk)
                buf = chunk
                while buf and not d.eof:
                    # Bounded steps, so a decompression bomb never sits in memory whole.
                    out = d.decompress(buf, 1 << 20)
                    total += len(out)
                    if len(kept) < keep:
                        kept += out[: keep - len(kept)]
                    buf = d.unconsumed_tail
        except zlib.error as exc:
            error, detail = "corrupt-gzip", f"gzip member does not inflate: {exc}"
        if error is None and d.eof:
            end = pos + fed - len(d.unused_data)
            yield _Frame(pos, end - pos, bytes(kept), total)
            pos = end
            continue
        if error is None:
            error, detail = "truncated", "file ends inside a gzip member"
        nxt = _resync_gzip(fh, pos + 1, size)
        yield _Frame(pos, nxt - pos, bytes(kept), total, error, detail)
        pos = nxt


def _resync_gzip(fh: io.BufferedReader, start: int, size: int) -> int:
    """Offset of the next gzip member that inflates to a WARC header, or ``size``.

    The three magic bytes also occur by chance inside compressed data, so a candidate only
    counts when it decompresses to ``WARC/``.
    """
    pos = start
    while pos < size:
        fh.seek(pos)
        block = fh.read(_CHUNK + 2)
        if not block:
            break
        i = block.find(_GZIP_MAGIC)
        if i < 0:
            pos += max(len(block) - 2, 1)
            continue
        cand = pos + i
        fh.seek(cand)
        try:
            head = zlib.decompressobj(wbits=31).decompress(fh.read(4096), 16)
        except zlib.error:
            head = b""
        if head.startswith(b"WARC/"):
            return cand
        pos = cand + 1
    return size


def _plain_frames(fh: io.BufferedReader, size: int, keep: int) -> Iterator[_Frame]:
    pos = 0
    while pos < size:
        fh.seek(pos)
        head = fh.read(min(_MAX_HEADER_BYTES, size - pos))
        stripped = head.lstrip(b"\r\n")
        if not stripped:
            break  # trailing blank lines
        pos += len(head) - len(stripped)
        parsed = _header_block(stripped)
        clen = None
        if parsed is not None:
            try:
                clen = int(parsed[0].get("content-length", ""))
            except ValueError:
                clen = None
        if parsed is None or clen is None or clen < 0:
            nxt = _resync_plain(fh, pos + 1, size)
            why = "no complete WARC header" if parsed is None else "no valid Content-Length"
            yield _Frame(pos, nxt - pos, bytes(stripped[:keep]), nxt - pos, "malformed", why)
            pos = nxt
            continue
        hlen = parsed[1]
        end = pos + hlen + clen
        fh.seek(pos)
        data = fh.read(min(hlen + clen, keep))
        if end > size:
            yield _Frame(
                pos,
                size - pos,
                data,
                size - pos,
                "truncated",
                f"file ends {end - size} bytes before the record's Content-Length",
            )
            return
        fh.seek(end)
        trailer = fh.read(4)
        if trailer and not trailer.startswith(b"\r\n") and not trailer.startswith(b"\n"):
            # The block is followed by something other than the record separator: the
            # Content-Length is wrong, so neither this record nor the next offset can be trusted.
            nxt = _resync_plain(fh, pos + 1, size)
            yield _Frame(
                pos,
                nxt - pos,
                data[: nxt - pos],
                nxt - pos,
                "truncated",
                "record does not end where its Content-Length says",
            )
            pos = nxt
            continue
        yield _Frame(pos, end - pos, data, hlen + clen)
        pos = end


def _resync_plain(fh: io.BufferedReader, start: int, size: int) -> int:
    """Offset of the next ``WARC/1.x`` version line, or ``size``.

    A truncated record is usually followed directly by the next one, with no line break in
    between, so the version line is searched for anywhere, not only at a line start.
    """
    pos = start
    overlap = 16
    while pos < size:
        fh.seek(pos)
        block = fh.read(_CHUNK + overlap)
        m = _WARC_VERSION_RE.search(block)
        if m is not None:
            return pos + m.start()
        if len(block) <= overlap:
            break
        pos += len(block) - overlap
    return size


def _frames(path: str, keep: int) -> Iterator[_Frame]:
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        magic = fh.read(3)
        fh.seek(0)
        reader = _gzip_frames if magic == _GZIP_MAGIC else _plain_frames
        yield from reader(fh, size, keep)  # type: ignore[arg-type]


def _record_from_frame(path: str, fr: _Frame, max_body: int) -> WarcRecord:
    from warcio.recordloader import ArcWarcRecordLoader

    base = WarcRecord(path=path, offset=fr.offset, length=fr.length)
    error, detail = fr.error, fr.detail
    parsed = _header_block(fr.data)
    if parsed is not None:
        fields, hlen = parsed
        base = replace(
            base,
            record_type=fields.get("warc-type"),
            record_id=fields.get("warc-record-id"),
            target_uri=_strip_uri(fields.get("warc-target-uri")),
            date=_parse_date(fields.get("warc-date")),
            warc_truncated=fields.get("warc-truncated"),
        )
        try:
            clen = int(fields.get("content-length", ""))
        except ValueError:
            clen = -1
        if error is None and (clen < 0 or not base.record_type):
            error = "malformed"
            detail = "WARC header without " + ("Content-Length" if clen < 0 else "WARC-Type")
        elif error is None and fr.total < hlen + clen:
            error = "truncated"
            detail = f"record holds {fr.total - hlen} of {clen} content bytes"
    elif error is None:
        error, detail = "malformed", "no complete WARC header"
    if error is not None:
        base = replace(base, error=error, error_detail=detail)
    if base.record_type != "response" or parsed is None:
        return base
    # A truncated response is still parsed as far as it goes: a reservation in the headers
    # or <head> that made it to disk is real evidence even if the rest is lost.
    try:
        rec = ArcWarcRecordLoader().parse_record_stream(io.BytesIO(fr.data), known_format="warc")
        http = rec.http_headers
        if http is None or not http.get_statuscode():
            if error is None:
                return replace(
                    base,
                    error="malformed",
                    error_detail="response record without an HTTP status line",
                )
            return base
        status = int(http.get_statuscode())
        try:
            body = rec.content_stream().read(max_body)
        except Exception:  # a bad Content-Encoding still leaves the raw bytes
            rec = ArcWarcRecordLoader().parse_record_stream(
                io.BytesIO(fr.data), known_format="warc"
            )
            body = rec.raw_stream.read(max_body)
    except Exception as exc:  # any parse failure is this record's error only
        if error is None:
            return replace(base, error="malformed", error_detail=f"{type(exc).__name__}: {exc}")
        return base
    fetched = Fetched(
        status=status,
        headers=list(http.headers),
        body=body,
        url=base.target_uri,
        final_url=base.target_uri,
        fetched_at=base.date,
        truncated=bool(base.warc_truncated) or error is not None or len(body) >= max_body,
    )
    return replace(base, response=fetched)


def read_warc(
    path: str | os.PathLike[str], *, max_body: int = DEFAULT_MAX_BODY
) -> Iterator[WarcRecord]:
    """Every record of a WARC file (gzip per record, or uncompressed), errors included.

    Never raises for a bad record: it is returned with ``error`` set and reading goes on at
    the next record. ``OSError`` for the file itself still propagates.
    """
    p = os.fspath(path)
    for fr in _frames(p, max_body + _MAX_HEADER_BYTES):
        yield _record_from_frame(p, fr, max_body)


# ----------------------------------------------------------------------- origin files


def site_file_kind(url: str) -> tuple[str, str] | None:
    """``(origin, kind)`` when the URL is an origin's robots.txt, tdmrep.json or ai.txt."""
    try:
        p = parse_url(url)
    except InvalidURL:
        return None
    kind = SITE_FILE_PATHS.get(p.path_query)
    return (p.origin, kind) if kind else None


@dataclass(slots=True)
class _Archived:
    date: datetime | None
    fetched: Fetched
    path: str
    offset: int
    record_id: str | None


class ArchivedSiteFiles:
    """Origin files found in WARCs, looked up by URL and capture time.

    An origin may have been captured several times (several crawls, or one robots WARC per
    segment); a page is judged against the capture at or just before its own, else the
    nearest later one, which is what "was this page opted out when it was crawled" needs.
    """

    def __init__(self, terms: bool = False) -> None:
        self._by_url: dict[str, list[_Archived]] = {}
        self.records = 0
        #: ``terms``: also keep home pages and terms-like pages, to find each origin's terms
        #: page in the archive (:func:`tdmscan.fetch.terms.pick_terms`).
        self.terms = terms
        self._pages: dict[str, list[_Archived]] = {}

    def add(self, rec: WarcRecord) -> bool:
        if rec.target_uri is None:
            return False
        if site_file_kind(rec.target_uri) is None:
            if self.terms and rec.response is not None and rec.response.ok:
                from ..fetch.terms import looks_like_terms_url

                if looks_like_terms_url(rec.target_uri):
                    try:
                        key = parse_url(rec.target_uri).url
                    except InvalidURL:
                        return False
                    entries = self._pages.setdefault(key, [])
                    entries.append(
                        _Archived(rec.date, rec.response, rec.path, rec.offset, rec.record_id)
                    )
                    entries.sort(key=lambda a: (a.date is None, a.date or _EPOCH))
            return False
        if rec.response is not None:
            fetched = rec.response
        elif rec.error is not None:
            # The file was there but cannot be read: the same as an unreadable answer.
            fetched = Fetched(
                status=None, error=f"warc-{rec.error}", url=rec.target_uri, fetched_at=rec.date
            )
        else:
            return False
        try:
            key = parse_url(rec.target_uri).url
        except InvalidURL:
            return False
        entries = self._by_url.setdefault(key, [])
        entries.append(_Archived(rec.date, fetched, rec.path, rec.offset, rec.record_id))
        entries.sort(key=lambda a: (a.date is None, a.date or _EPOCH))
        self.records += 1
        return True

    def __len__(self) -> int:
        return self.records

    def _pick(
        self, url: str, when: datetime | None, table: dict[str, list[_Archived]] | None = None
    ) -> _Archived | None:
        entries = (self._by_url if table is None else table).get(url)
        if not entries:
            return None
        dated = [a for a in entries if a.date is not None]
        if when is None or not dated:
            return entries[-1]
        try:
            keys = [a.date for a in dated]
            i = bisect.bisect_right(keys, when)  # type: ignore[arg-type]
        except TypeError:  # naive vs aware dates from different writers
            return dated[-1]
        return dated[i - 1] if i > 0 else dated[0]

    def _resolve(self, url: str, when: datetime | None) -> Fetched | None:
        """The archived answer for ``url``, following archived redirects (RFC 9309: 5 hops)."""
        seen: list[str] = []
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            hit = self._pick(current, when)
            if hit is None:
                return None
            f = hit.fetched
            if f.status is None or not 300 <= f.status < 400 or not f.header("location"):
                if seen:
                    return replace(f, url=url, final_url=current, redirects=tuple(seen))
                return f
            seen.append(current)
            try:
                current = parse_url(urljoin(current, f.header("location") or "")).url
            except InvalidURL:
                return None
        return Fetched(status=None, error="too-many-redirects", url=url, redirects=tuple(seen))

    def site_files(self, origin: str, when: datetime | None = None) -> SiteFiles | None:
        """The origin's archived files, or None when its robots.txt was not archived."""
        robots = self._resolve(origin + "/robots.txt", when)
        if robots is None:
            return None
        terms = None
        if self.terms:
            from ..fetch.terms import pick_terms

            def lookup(url: str) -> Fetched | None:
                try:
                    hit = self._pick(parse_url(url).url, when, self._pages)
                except InvalidURL:
                    return None
                return hit.fetched if hit is not None else None

            terms = pick_terms(origin, lookup)
        return SiteFiles(
            origin=origin,
            robots=robots,
            tdmrep=self._resolve(origin + "/.well-known/tdmrep.json", when),
            ai_txt=self._resolve(origin + "/ai.txt", when),
            fetched_at=robots.fetched_at,
            terms=terms,
        )


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class WarcResult:
    """The outcome for one record: decisions (one per agent) and/or an error."""

    record: WarcRecord
    decisions: tuple[Decision, ...] = ()
    #: Where the origin signals came from: archive | live | none
    origin_source: str = "none"
    site: SiteFiles | None = None

    @property
    def error(self) -> str | None:
        return self.record.error


@dataclass(slots=True)
class WarcSummary:
    """Counts over a whole run; ``errors`` lists (path, offset, error, detail) per bad record."""

    files: int = 0
    records: int = 0
    pages: int = 0
    site_files: int = 0
    skipped: int = 0
    decisions: int = 0
    #: Per page, the verdict for the crawler's own token (the first agent).
    page_verdicts: Counter[str] = field(default_factory=Counter)
    #: Per decision (every agent).
    verdicts: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    origin_sources: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, int, str, str]] = field(default_factory=list)
    run_id: str | None = None

    @property
    def error_count(self) -> int:
        return len(self.errors)

    def add(self, res: WarcResult) -> None:
        self.records += 1
        if res.record.error:
            self.errors.append(
                (
                    res.record.path,
                    res.record.offset,
                    res.record.error,
                    res.record.error_detail or "",
                )
            )
        if res.decisions:
            self.pages += 1
            self.origin_sources[res.origin_source] += 1
            self.page_verdicts[res.decisions[0].verdict] += 1
            for d in res.decisions:
                self.decisions += 1
                self.verdicts[d.verdict] += 1
                self.reasons.update(d.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "records": self.records,
            "pages": self.pages,
            "site_files": self.site_files,
            "skipped": self.skipped,
            "decisions": self.decisions,
            "page_verdicts": dict(self.page_verdicts),
            "verdicts": dict(self.verdicts),
            "reasons": dict(self.reasons),
            "origin_sources": dict(self.origin_sources),
            "errors": [
                {"path": p, "offset": o, "error": e, "detail": dt} for p, o, e, dt in self.errors
            ],
            "run_id": self.run_id,
        }


# ------------------------------------------------------------------------- evaluation

NOT_ARCHIVED = "robots:not-archived"


def _not_archived(decisions: list[Decision]) -> list[Decision]:
    """With no robots.txt to look at, nothing can be called allowed; reservations still hold."""
    out = []
    for d in decisions:
        notes = (*d.errors, "origin files not archived and not fetched")
        if d.verdict == "allowed":
            out.append(
                replace(d, verdict="unknown", reasons=(*d.reasons, NOT_ARCHIVED), errors=notes)
            )
        else:
            out.append(replace(d, errors=notes))
    return out


def _record_failed(decisions: list[Decision], rec: WarcRecord) -> list[Decision]:
    """A page whose record is incomplete: a reservation seen in what was read still wins."""
    code = f"warc:{rec.error}"
    out = []
    for d in decisions:
        note = f"{code}: {rec.error_detail}" if rec.error_detail else code
        if d.verdict == "reserved":
            out.append(replace(d, errors=(*d.errors, note)))
        elif d.verdict == "invalid":
            out.append(d)
        else:
            out.append(
                replace(d, verdict="unknown", reasons=(*d.reasons, code), errors=(*d.errors, note))
            )
    return out


def _unreadable(rec: WarcRecord, agents: Sequence[str], purpose: str, mode: str) -> list[Decision]:
    """A record whose URL is unknown still gets a row, so nothing read is lost from the ledger."""
    url = rec.target_uri or f"warc:{Path(rec.path).name}#{rec.offset}"
    return [
        Decision(
            url=url,
            agent=a,
            verdict="invalid" if rec.target_uri is None else "unknown",
            reasons=(f"warc:{rec.error}",),
            purpose=purpose,
            mode=mode,
            errors=(f"warc:{rec.error}: {rec.error_detail or ''}".rstrip(": "),),
        )
        for a in agents
    ]


class _SiteCache:
    """Parsed site signals per archived capture, so each robots.txt is parsed once."""

    def __init__(self, exclusions: Any = None) -> None:
        self.exclusions = exclusions
        self._parsed: dict[tuple[str, str, str, str, str], SiteSignals] = {}

    def get(self, files: SiteFiles) -> SiteSignals:
        key = (
            files.origin,
            files.robots.sha256 + str(files.robots.status) if files.robots else "",
            files.tdmrep.sha256 + str(files.tdmrep.status) if files.tdmrep else "",
            files.ai_txt.sha256 + str(files.ai_txt.status) if files.ai_txt else "",
            files.terms.sha256 if files.terms else "",
        )
        hit = self._parsed.get(key)
        if hit is None:
            hit = self._parsed[key] = parse_site(files, exclusions=self.exclusions)
        return hit


#: Fetches origin signals the archive lacks: origins in, one SiteSignals (or None) per origin.
LiveLookup = Callable[[list[str]], list[SiteSignals | None]]


def expand_agents(agents: Sequence[str] | str, include_training_agents: bool = True) -> list[str]:
    """The crawler's own tokens first, then the catalogue's AI-training tokens (as the Scanner)."""
    own = [agents] if isinstance(agents, str) else [a.strip() for a in agents if a and a.strip()]
    out = list(dict.fromkeys(own))
    if include_training_agents:
        from ..scanner import training_tokens

        seen = {a.lower() for a in out}
        out += [t for t in training_tokens() if t.lower() not in seen]
    return out


def iter_warc(
    paths: Iterable[str | os.PathLike[str]],
    agents: Sequence[str],
    *,
    robots_warcs: Iterable[str | os.PathLike[str]] = (),
    fetch_missing: bool = True,
    purpose: str = "train-ai",
    mode: str = "conservative",
    max_body: int = DEFAULT_MAX_BODY,
    live: LiveLookup | None = None,
    batch_size: int = 256,
    summary: WarcSummary | None = None,
    terms: bool = False,
    exclude_lists: Sequence[Any] = (),
) -> Iterator[WarcResult]:
    """Evaluate every page record of ``paths`` for ``agents`` (used as given, in order).

    Yields one :class:`WarcResult` per page record and per unreadable record; other records
    (requests, metadata, warcinfo, the origin files themselves) are only counted. Origin
    files are indexed first from ``robots_warcs`` and from ``paths`` themselves (one extra
    pass that keeps only robots.txt, tdmrep.json and ai.txt records), so a robots.txt
    archived after the pages it governs still applies. ``live`` fetches the files of origins
    the archive lacks when ``fetch_missing``; :func:`evaluate_warc` wires it to a
    :class:`~tdmscan.scanner.Scanner`. Records go in batches of ``batch_size`` so the live
    look-ups of one batch run concurrently.
    """
    paths = [os.fspath(p) for p in paths]
    agents = list(agents)
    archive = ArchivedSiteFiles(terms=terms)
    summary = summary if summary is not None else WarcSummary()
    for rp in [os.fspath(p) for p in robots_warcs]:
        for rec in read_warc(rp, max_body=max_body):
            if not archive.add(rec) and rec.error:
                log.warning("%s@%d: %s (%s)", rp, rec.offset, rec.error, rec.error_detail)
    for p in paths:
        for rec in read_warc(p, max_body=max_body):
            archive.add(rec)
    summary.site_files = len(archive)
    from ..signals.exclusions import default_exclusions

    cache = _SiteCache(default_exclusions(*exclude_lists))
    live_sites: dict[str, SiteSignals | None] = {}
    batch: list[WarcRecord] = []

    def flush() -> Iterator[WarcResult]:
        origins: list[str | None] = []
        for rec in batch:
            try:
                origins.append(parse_url(rec.target_uri or "").origin)
            except InvalidURL:
                origins.append(None)
        archived = {
            i: archive.site_files(o, rec.date)
            for i, (rec, o) in enumerate(zip(batch, origins, strict=True))
            if o is not None and rec.response is not None
        }
        if fetch_missing and live is not None:
            missing = sorted(
                {o for i, o in enumerate(origins) if i in archived and archived[i] is None}
                - live_sites.keys()  # type: ignore[operator]
            )
            if missing:
                live_sites.update(zip(missing, live(missing), strict=True))  # type: ignore[arg-type]
        for i, (rec, origin) in enumerate(zip(batch, origins, strict=True)):
            if rec.error:
                log.warning("%s@%d: %s (%s)", rec.path, rec.offset, rec.error, rec.error_detail)
            if rec.response is None or origin is None:
                res = WarcResult(rec, tuple(_unreadable(rec, agents, purpose, mode)))
                summary.add(res)
                yield res
                continue
            files = archived.get(i)
            signals: SiteSignals | None
            if files is not None:
                signals, source = cache.get(files), "archive"
            else:
                signals = live_sites.get(origin)
                source = "live" if signals is not None else "none"
            decisions = decide(
                rec.target_uri or "", agents, signals, rec.response, purpose=purpose, mode=mode
            )
            if signals is None:
                decisions = _not_archived(decisions)
            if rec.error:
                decisions = _record_failed(decisions, rec)
            res = WarcResult(rec, tuple(decisions), source, signals.files if signals else None)
            summary.add(res)
            yield res
        batch.clear()

    for p in paths:
        summary.files += 1
        for rec in read_warc(p, max_body=max_body):
            kind = site_file_kind(rec.target_uri) if rec.target_uri else None
            might_be_page = rec.record_type in (None, "response") and kind is None
            if rec.error is None and not (might_be_page and rec.target_uri):
                summary.records += 1
                summary.skipped += 1
                continue
            if rec.error is not None and not might_be_page:
                # Unreadable origin file (already indexed as such) or a non-page record.
                summary.records += 1
                summary.errors.append((rec.path, rec.offset, rec.error, rec.error_detail or ""))
                log.warning("%s@%d: %s (%s)", rec.path, rec.offset, rec.error, rec.error_detail)
                continue
            batch.append(rec)
            if len(batch) >= batch_size:
                yield from flush()
        yield from flush()


def evaluate_warc(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    agents: Sequence[str] | str = ("tdmscan",),
    *,
    ledger: Any = None,
    robots_warcs: Iterable[str | os.PathLike[str]] = (),
    fetch_missing: bool = True,
    include_training_agents: bool = True,
    purpose: str = "train-ai",
    mode: str = "conservative",
    max_body: int = DEFAULT_MAX_BODY,
    batch_size: int = 256,
    scanner_options: Mapping[str, Any] | None = None,
    on_result: Callable[[WarcResult], None] | None = None,
    terms: bool = False,
    exclude_lists: Sequence[Any] = (),
) -> WarcSummary:
    """Evaluate WARC files; write every decision to ``ledger`` (a directory or Ledger) if given.

    ``agents[0]`` is the crawler's own token; the catalogue's AI-training tokens are added
    unless ``include_training_agents=False``. Origins the archive lacks are fetched live
    through a :class:`~tdmscan.scanner.Scanner` (``scanner_options`` are passed to it) unless
    ``fetch_missing=False``. ``on_result`` sees each :class:`WarcResult` as it is produced.
    ``terms``: also read each origin's terms page, from the archive (its home page's terms
    link or a well-known path, as captured) or, for origins fetched live, from the site.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    robots_warcs = [os.fspath(p) for p in robots_warcs]
    all_agents = expand_agents(agents, include_training_agents)
    summary = WarcSummary()
    runner = None
    live: LiveLookup | None = None
    sink = _LedgerSink.open(
        ledger,
        agents=all_agents,
        mode=mode,
        purpose=purpose,
        config={
            "paths": paths,
            "robots_warcs": robots_warcs,
            "fetch_missing": fetch_missing,
            "include_training_agents": include_training_agents,
            "max_body": max_body,
            **({"terms": True} if terms else {}),
            **(
                {"exclude_lists": [f"{x.name}@{x.version}" for x in exclude_lists]}
                if exclude_lists
                else {}
            ),
        },
    )
    error: BaseException | None = None
    try:
        if fetch_missing:
            from . import ScannerThread

            opts = dict(scanner_options or {})
            opts.setdefault("mode", mode)
            opts.setdefault("purpose", purpose)
            if terms:
                opts.setdefault("terms", True)
            if exclude_lists:
                opts.setdefault("exclude_lists", list(exclude_lists))
            runner = ScannerThread(agents=all_agents, include_training_agents=False, **opts)

            async def one(scanner: Any, origin: str) -> SiteSignals:
                return await scanner.site(origin)

            def live(origins: list[str]) -> list[SiteSignals | None]:
                assert runner is not None
                return runner.gather([(one, (o,)) for o in origins])

        for res in iter_warc(
            paths,
            all_agents,
            robots_warcs=robots_warcs,
            fetch_missing=fetch_missing,
            purpose=purpose,
            mode=mode,
            max_body=max_body,
            live=live,
            batch_size=batch_size,
            summary=summary,
            terms=terms,
            exclude_lists=exclude_lists,
        ):
            if sink is not None:
                sink.add(res)
            if on_result is not None:
                on_result(res)
    except BaseException as exc:
        error = exc
        raise
    finally:
        if runner is not None:
            runner.close()
        if sink is not None:
            summary.run_id = sink.close(error)
    return summary


class _LedgerSink:
    """Writes WARC results with their record coordinates (source kind ``warc``)."""

    def __init__(self, writer: Any) -> None:
        from . import SiteRecorder

        self._w = writer
        self._sites = SiteRecorder(writer)

    @classmethod
    def open(
        cls, ledger: Any, *, agents: list[str], mode: str, purpose: str, config: dict[str, Any]
    ) -> _LedgerSink | None:
        if ledger is None:
            return None
        from ..ledger import Ledger, RunInfo

        lg = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        run = RunInfo(
            kind="warc",
            agents=agents,
            mode=mode,
            purpose=purpose,
            config=config,
            input_description="warc: " + ", ".join(config["paths"]),
        )
        return cls(lg.writer(run))

    def add(self, res: WarcResult) -> None:
        from ..ledger import DecisionContext

        self._sites.add(res.site, archived=res.origin_source == "archive")
        rec = res.record
        ctx = DecisionContext(
            source_kind="warc",
            warc_file=rec.path,
            warc_record_id=rec.record_id,
            warc_offset=rec.offset,
            content_size=len(rec.response.body) if rec.response is not None else None,
            # The page's WARC-Date: when the archived content was collected.
            captured_at=rec.date,
        )
        self._w.add_many(res.decisions, ctx)

    def close(self, error: BaseException | None = None) -> str | None:
        self._w.close(error)
        return getattr(getattr(self._w, "run", None), "run_id", None)
