"""URL normalisation shared by every layer: one canonical form, one origin key, one path form.

RFC 9309 section 2.2.2 matches "path plus query" after a percent-encoding normalisation that
both the URL and the pattern undergo; the same form is used for TDMRep locations and ai.txt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

#: URLs longer than this are recorded as invalid rather than fetched (browsers and CDNs cap
#: around 8-16 KiB; a longer "URL" in a manifest is almost always junk).
MAX_URL_LENGTH = 8192

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HEX = "0123456789ABCDEF"
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_NEEDS_WORK_RE = re.compile(r"[^\x21-\x7e]|%")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_HOST_RE = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$")


class InvalidURL(ValueError):
    """The input is not a usable http(s) URL; ``reason`` is a short machine code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _unescape_unreserved(m: re.Match[str]) -> str:
    byte = int(m.group(1), 16)
    if byte in _UNRESERVED:
        return chr(byte)
    return "%" + m.group(1).upper()


def utf8(text: str) -> bytes:
    """UTF-8 octets of ``text``. A lone surrogate that ``surrogateescape`` made from an
    undecodable input byte becomes that byte again; only when that is impossible (a surrogate
    outside U+DC80-U+DCFF) does it get its 3-octet form. URLs and rules both go through here,
    so the same raw byte is the same escape on either side."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def normalise_path(path: str) -> str:
    """RFC 9309 section 2.2.2 canonical form of a path (plus query) or a rule pattern.

    Non-ASCII and control octets are UTF-8 percent-encoded, existing escapes are upper-cased,
    and escapes of unreserved ASCII are decoded (RFC behaviour; Google's matcher does not
    decode them, a deliberate deviation documented in the README). Reserved characters,
    ``*`` and ``$`` are left as written so patterns keep their meaning.
    """
    if not path:
        return "/"
    if _NEEDS_WORK_RE.search(path) is None:
        return path
    out = []
    for b in utf8(path):
        if 0x21 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append("%" + _HEX[b >> 4] + _HEX[b & 15])
    return _ESCAPE_RE.sub(_unescape_unreserved, "".join(out))


@dataclass(frozen=True, slots=True)
class ParsedURL:
    scheme: str
    host: str  # lower case, IDNA (punycode) for internationalised names
    port: int
    path_query: str  # normalised, always starts with "/"
    url: str  # canonical: scheme://host[:port]/path?query, no fragment

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``: the key of the per-origin cache and of the robots.txt scope."""
        if _DEFAULT_PORTS.get(self.scheme) == self.port:
            return f"{self.scheme}://{self.host}"
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def path(self) -> str:
        return self.path_query.split("?", 1)[0]


_IDNA_REASONS = (
    ("InvalidCodepointContext", "idna-context"),
    ("IDNABidiError", "idna-bidi"),
    ("InvalidCodepoint", "idna-codepoint"),
)


def _idna_reason(exc: Exception) -> str:
    for name, reason in _IDNA_REASONS:
        if type(exc).__name__ == name:
            return reason
    return "idna-invalid"


def _idna_host(host: str) -> str:
    """The host as browsers resolve it: UTS #46 mapping, IDNA2008 (non-transitional), so
    ``faß.de`` is ``xn--fa-hia.de`` (not ``fass.de``, another domain) and final sigma stays."""
    host = host.strip().rstrip(".").lower()
    if not host:
        raise InvalidURL("no-host")
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 4:
            raise InvalidURL("bad-host", host)
        return host
    if host.isascii():
        ascii_host = host
    else:
        import idna  # only for internationalised names: most hosts never need it

        try:
            ascii_host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise InvalidURL(_idna_reason(exc), repr(host)) from exc
        ascii_host = ascii_host.rstrip(".")
    if "xn--" in ascii_host:
        import idna

        for label in ascii_host.split("."):
            if label.startswith("xn--"):
                try:
                    idna.decode(label)
                except (idna.IDNAError, UnicodeError, ValueError) as exc:
                    raise InvalidURL(_idna_reason(exc), repr(host)) from exc
    if len(ascii_host) > 253 or not _HOST_RE.match(ascii_host):
        raise InvalidURL("bad-host", repr(host))
    return ascii_host


def strip_credentials(url: str) -> str:
    """``url`` without a ``user:pass@`` part: credentials never reach a Decision or a ledger."""
    if not isinstance(url, str) or "@" not in url:
        return url
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    start = scheme_end + 3
    end = len(url)
    for sep in "/?#":
        i = url.find(sep, start)
        if 0 <= i < end:
            end = i
    at = url.rfind("@", start, end)
    if at < 0:
        return url
    return url[:start] + url[at + 1 :]


def parse_url(url: str) -> ParsedURL:
    """Parse and canonicalise an http(s) URL, or raise :class:`InvalidURL` with a reason code."""
    if not isinstance(url, str):
        raise InvalidURL("not-a-string", type(url).__name__)
    url = url.strip()
    if not url:
        raise InvalidURL("empty")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidURL("too-long", f"{len(url)} characters")
    if _CONTROL_RE.search(url) is not None:
        raise InvalidURL("control-characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidURL("unparsable", str(exc)) from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL("not-http", scheme or "no scheme")
    try:
        port = parts.port
    except ValueError as exc:  # "Port out of range 0-65535", "could not be cast to integer"
        raise InvalidURL("bad-port", str(exc)) from exc
    if parts.hostname is None:
        raise InvalidURL("no-host")
    raw_host = parts.hostname
    if ":" in raw_host:  # urlsplit strips the IPv6 brackets
        raw_host = f"[{raw_host}]"
    host = _idna_host(raw_host)
    if port is None:
        port = _DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise InvalidURL("bad-port", str(port))
    path = parts.path or "/"
    if not path.startswith("/"):
        path = "/" + path
    # RFC 3986 section 6.2.3: "/page?" and "/page" are different URLs; Google's matcher keeps
    # the "?" too (so "Disallow: /*?" covers it and "Disallow: /page$" does not).
    has_query = bool(parts.query) or "?" in url.split("#", 1)[0]
    path_query = normalise_path(path + ("?" + parts.query if has_query else ""))
    netloc = host if _DEFAULT_PORTS[scheme] == port else f"{host}:{port}"
    return ParsedURL(scheme, host, port, path_query, f"{scheme}://{netloc}{path_query}")


def origin_of(url: str) -> str:
    return parse_url(url).origin
