"""Map exception chains from either client library to ``Fetched.error`` codes."""

from __future__ import annotations

import socket
import ssl

from .guard import AddressRefused


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 12:
        seen.append(cur)
        nxt = getattr(cur, "os_error", None)  # aiohttp ClientConnectorError keeps it here
        if not isinstance(nxt, BaseException) or nxt in seen:
            nxt = cur.__cause__ or cur.__context__
        cur = nxt
    return seen


def classify_os_error(exc: BaseException) -> str | None:
    """A code from the OS-level cause of ``exc``, or None when none is recognisable."""
    for e in _chain(exc):
        if isinstance(e, AddressRefused):
            return "refused-address"
        if isinstance(e, socket.gaierror):
            return "dns"
        if isinstance(e, ssl.SSLError | ssl.CertificateError):
            return "tls"
        if isinstance(e, TimeoutError):
            return "timeout"
        if isinstance(e, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            return "reset"
        if isinstance(e, ConnectionRefusedError):
            return "connect"
    return None
