"""Bounded body reading: decode Content-Encoding ourselves so the cap applies to decoded bytes.

Client libraries decode a whole network chunk at once, so one 64 KiB gzip chunk can expand to
tens of megabytes before any cap is checked. Here every inflate call is given ``max_length``,
so memory never exceeds the cap plus one chunk, whatever the compression ratio.
"""

from __future__ import annotations

import re
import zlib

_HEAD_END = re.compile(rb"</head|<body", re.IGNORECASE)
_HEAD_END_LEN = 6  # longest marker minus one: a marker split across chunks is still found

#: Raw bytes accepted beyond the decoded cap; stops streams that decode to almost nothing.
_RAW_SLACK = 64 * 1024


class UnsupportedEncoding(Exception):
    pass


class _Inflater:
    def __init__(self, coding: str) -> None:
        self._coding = coding
        # 32 + MAX_WBITS auto-detects a gzip or zlib header; "deflate" is zlib-wrapped by the
        # RFC but raw deflate in practice often enough to need a fallback.
        self._wbits = zlib.MAX_WBITS | 32 if coding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._d = zlib.decompressobj(self._wbits)
        self._first = True

    def feed(self, data: bytes, limit: int) -> bytes:
        """Up to ``limit`` decoded bytes from ``data`` (a pending tail is dropped at the cap)."""
        out: list[bytes] = []
        room = limit
        while data and room > 0:
            try:
                chunk = self._d.decompress(data, room)
            except zlib.error:
                if self._first and self._coding == "deflate":
                    self._wbits = -zlib.MAX_WBITS
                    self._d = zlib.decompressobj(self._wbits)
                    self._first = False
                    continue
                raise
            self._first = False
            out.append(chunk)
            room -= len(chunk)
            if self._d.unconsumed_tail:
                data = self._d.unconsumed_tail
            elif self._d.eof and self._d.unused_data:
                # Concatenated gzip members are one body (RFC 1952 section 2.2).
                data = self._d.unused_data
                self._d = zlib.decompressobj(self._wbits)
            else:
                data = b""
        self.pending = bool(data)
        return b"".join(out)


class BodyReader:
    """Accumulate a body up to ``max_bytes`` decoded bytes; ``feed`` returns True when done."""

    def __init__(
        self,
        *,
        max_bytes: int,
        content_encoding: str | None,
        stop_at_head: bool = False,
        content_type: str | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self._parts: list[bytes] = []
        self._size = 0
        self._raw = 0
        self._raw_cap = 2 * max_bytes + _RAW_SLACK
        self.truncated = False
        self.head_seen = False
        self._inflater: _Inflater | None = None
        if content_encoding:
            codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
            codings = [c for c in codings if c != "identity"]
            if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
                raise UnsupportedEncoding(content_encoding)
            if codings:
                self._inflater = _Inflater(codings[0])
        self._watch_head = stop_at_head and (not content_type or "html" in content_type.lower())

    def feed(self, raw: bytes) -> bool:
        if not raw:
            return False
        self._raw += len(raw)
        room = self.max_bytes - self._size
        inflater = self._inflater
        data = inflater.feed(raw, room + 1) if inflater is not None else raw[: room + 1]
        if len(data) > room:
            data = data[:room]
            self.truncated = True
        if data:
            if self._watch_head:
                prev = self._parts[-1][-_HEAD_END_LEN:] if self._parts else b""
                if _HEAD_END.search(prev + data):
                    self.head_seen = True
            self._parts.append(data)
            self._size += len(data)
        if self._raw > self._raw_cap and not self.truncated:
            self.truncated = True
        return self.truncated or self.head_seen

    @property
    def body(self) -> bytes:
        return b"".join(self._parts)

    def short_of(self, status: int | None, content_length: str | None) -> bool:
        """True when the whole body has been read (call it only then) and it is shorter than
        the ``Content-Length`` the response declared: the connection ended early, so what we
        hold is a prefix (a robots.txt cut before its Disallow lines) and must not be read as
        the file. Client libraries differ on whether they raise for this; both fetchers ask
        here so a short body is a failed fetch (``short-body``) either way."""
        if content_length is None or status is None or status < 200 or status in (204, 304):
            return False
        try:
            declared = int(content_length.strip())
        except ValueError:
            return False
        return 0 <= self._raw < declared
