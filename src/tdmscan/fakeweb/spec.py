"""Declarative description of the fake web: what each virtual host answers.

Everything here is plain data (dataclasses that round-trip through JSON), so the same site
set can drive an in-process server in a test and a separate server process in a benchmark.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = [
    "Generator",
    "Resp",
    "Site",
    "dump_sites",
    "gzip_bomb",
    "html_as_robots",
    "invalid_utf8",
    "load_sites",
    "normalize_host",
    "redirect",
    "redirect_chain",
]

# A generator answers for hosts that are not declared: (host, path) -> Resp, or None for
# "no such host".
Generator = Callable[[str, str], "Resp | None"]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(eq=False)
class Resp:
    """One canned response, plus the fault to inject while sending it.

    ``body`` given as ``str`` is encoded as UTF-8. Faults combine where that makes sense:
    ``delay`` happens first, then headers, then the body (dripped, truncated by
    ``reset_after``, compressed by ``gzip``). ``hang`` and ``reset`` without ``reset_after``
    never send anything. ``oversize`` pads the plain body with comment lines up to N bytes
    (``Content-Length: N``); it is not combined with ``gzip``/``bomb``. A ``Resp`` may be
    edited while served (say, robots.txt flipped to 503): its encoded form is rebuilt.
    """

    status: int = 200
    body: bytes | str = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    drip: float | None = None
    reset: bool = False
    reset_after: int | None = None
    hang: bool = False
    gzip: bool = False
    bomb: int = 0
    oversize: int = 0
    location: str | None = None
    content_type: str | None = None
    # The server's cache of encoded responses; instances are reused across requests so
    # the wire bytes are built once per (resp, content type, connection mode).
    _wire: dict[Any, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.body, str):
            self.body = self.body.encode("utf-8")
        elif not isinstance(self.body, bytes):
            self.body = bytes(self.body)
        self.headers = [(str(k), str(v)) for k, v in _header_pairs(self.headers)]
        if self.reset_after is not None and not self.reset:
            self.reset = True
        if self.location is not None and self.status == 200:
            # A Location without a redirect status is almost always a slip in a description.
            self.status = 302

    def __setattr__(self, name: str, value: Any) -> None:
        # Tests flip a live route (say, robots.txt to 503) mid-run: drop the encoded copies.
        if name != "_wire":
            cache = self.__dict__.get("_wire")
            if cache:
                cache.clear()
        object.__setattr__(self, name, value)

    @property
    def streaming(self) -> bool:
        """True when the response cannot be written in one go (the server's slow path)."""
        return bool(
            self.delay > 0 or self.drip or self.reset or self.hang or self.oversize or self.bomb
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        default = _DEFAULT_RESP
        for name in _SCALAR_FIELDS:
            value = getattr(self, name)
            if value != getattr(default, name):
                out[name] = value
        if self.headers:
            out["headers"] = [list(h) for h in self.headers]
        body = self.body
        assert isinstance(body, bytes)
        if body:
            try:
                out["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                out["body_b64"] = base64.b64encode(body).decode("ascii")
        return out


def _header_pairs(headers: Any) -> Iterable[tuple[Any, Any]]:
    if isinstance(headers, Mapping):
        return list(headers.items())
    pairs = []
    for item in headers or ():
        name, value = item
        pairs.append((name, value))
    return pairs


#: Resp fields written to JSON as they are (body and headers have their own forms).
_SCALAR_FIELDS = tuple(f.name for f in fields(Resp) if f.init and f.name not in ("body", "headers"))

_DEFAULT_RESP = Resp()


def normalize_host(host: str) -> str:
    """Lower-case, no trailing dot, no default port: the key under which a site is served."""
    host = host.strip().lower()
    if host.endswith(":80"):
        host = host[:-3]
    if host.endswith("."):
        host = host[:-1]
    return host


@dataclass(eq=False)
class Site:
    """A virtual origin: ``host`` (with ``:port`` when not 80) and its routes.

    Routes are looked up by the exact path+query first, then by the path alone, then
    ``default`` answers.
    """

    host: str
    routes: dict[str, Resp] = field(default_factory=dict)
    default: Resp = field(default_factory=lambda: Resp(404, b"not found\n"))
    note: str = ""  # what the site exercises; shown by ``tdmscan demo``

    def __post_init__(self) -> None:
        self.host = normalize_host(self.host)
        self.routes = {
            p: r if isinstance(r, Resp) else _resp_from_json(r) for p, r in self.routes.items()
        }
        if not isinstance(self.default, Resp):
            self.default = _resp_from_json(self.default)

    def lookup(self, target: str) -> Resp:
        resp = self.routes.get(target)
        if resp is not None:
            return resp
        q = target.find("?")
        if q >= 0:
            resp = self.routes.get(target[:q])
            if resp is not None:
                return resp
        return self.default

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"host": self.host}
        if self.note:
            out["note"] = self.note
        out["routes"] = {p: r.to_json() for p, r in self.routes.items()}
        out["default"] = self.default.to_json()
        return out


# ---------------------------------------------------------------------------- conveniences


def redirect(location: str, status: int = 301) -> Resp:
    if status not in _REDIRECT_STATUSES:
        raise ValueError(f"not a redirect status: {status}")
    return Resp(status=status, location=location, body=b"")


def redirect_chain(
    host: str,
    path: str = "/robots.txt",
    hops: int = 6,
    final: Resp | None = None,
    *,
    across_hosts: bool = True,
    status: int = 301,
) -> list[Site]:
    """``http://host/path`` redirecting ``hops`` times before ``final`` answers.

    With ``across_hosts`` each hop lands on another host (``hop1.<host>``, ``hop2.<host>``,
    ...), which is what a fetcher's cross-origin redirect handling has to survive. Returns
    every site involved; pass them all to the server.
    """
    final = final if final is not None else Resp(body=b"User-agent: *\nDisallow: /\n")
    host = normalize_host(host)
    sites: dict[str, Site] = {}

    def site(h: str) -> Site:
        if h not in sites:
            sites[h] = Site(h)
        return sites[h]

    current_host, current_path = host, path
    for i in range(1, hops + 1):
        next_host = f"hop{i}.{host}" if across_hosts else host
        next_path = f"/hop/{i}{path}"
        site(current_host).routes[current_path] = redirect(f"http://{next_host}{next_path}", status)
        current_host, current_path = next_host, next_path
    site(current_host).routes[current_path] = final
    return list(sites.values())


_SPA_HTML = (
    b'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    b'<title>Loading\xe2\x80\xa6</title><script src="/static/app.js"></script></head>'
    b'<body><div id="root"></div><noscript>Enable JavaScript.</noscript></body></html>\n'
)


def html_as_robots() -> Resp:
    """What single-page apps do: any path, robots.txt included, answers 200 with the app shell."""
    return Resp(body=_SPA_HTML, content_type="text/html; charset=utf-8")


def invalid_utf8(rules: str = "User-agent: GPTBot\nDisallow: /\n") -> Resp:
    """A robots.txt with a UTF-8 BOM, a Latin-1 comment and a lone continuation byte."""
    body = b"\xef\xbb\xbf# caf\xe9 \x80\xfe\n" + rules.encode("utf-8") + b"# fin \xc3\x28\n"
    return Resp(body=body, content_type="text/plain")


# ---------------------------------------------------------------------------- gzip bombs

_BOMB_CACHE: dict[int, bytes] = {}
_BOMB_LOCK = threading.Lock()
_MIB = 1 << 20


def gzip_bomb(size: int) -> bytes:
    """A gzip member that inflates to ``size`` zero bytes; cached per size.

    Deflate output after a full flush does not depend on earlier input, so one compressed
    MiB of zeros is computed once and repeated: a 1 GiB bomb costs a CRC pass, not a
    compression pass.
    """
    if size < 0:
        raise ValueError("size must be >= 0")
    with _BOMB_LOCK:
        cached = _BOMB_CACHE.get(size)
        if cached is not None:
            return cached
        zeros = bytes(_MIB)
        full, rest = divmod(size, _MIB)
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        parts = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"]
        if full:
            block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
            parts.append(block * full)
        parts.append(comp.compress(bytes(rest)) + comp.flush(zlib.Z_FINISH))
        crc = 0
        for _ in range(full):
            crc = zlib.crc32(zeros, crc)
        crc = zlib.crc32(bytes(rest), crc)
        parts.append(crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little"))
        data = b"".join(parts)
        _BOMB_CACHE[size] = data
        return data


# ---------------------------------------------------------------------------- JSON


# Every init field of Resp, plus the two other ways to give a body in JSON.
_RESP_KEYS = {f.name for f in fields(Resp) if f.init} | {"body_b64", "body_file"}


def _resp_from_json(obj: Any, base: Path | None = None) -> Resp:
    if isinstance(obj, Resp):
        return obj
    if isinstance(obj, str):
        # Shorthand: a bare string is a 200 body.
        return Resp(body=obj)
    if isinstance(obj, int):
        return Resp(status=obj)
    if not isinstance(obj, Mapping):
        raise ValueError(f"response must be an object, string or status code, not {obj!r}")
    unknown = set(obj) - _RESP_KEYS
    if unknown:
        raise ValueError(f"unknown response keys: {sorted(unknown)}")
    kw = {k: v for k, v in obj.items() if k not in ("body", "body_b64", "body_file")}
    given = [k for k in ("body", "body_b64", "body_file") if k in obj]
    if len(given) > 1:
        raise ValueError(f"give only one of body, body_b64, body_file (got {given})")
    if "body" in obj:
        kw["body"] = obj["body"]
    elif "body_b64" in obj:
        kw["body"] = base64.b64decode(obj["body_b64"])
    elif "body_file" in obj:
        p = Path(obj["body_file"])
        if not p.is_absolute():
            p = (base or Path.cwd()) / p
        kw["body"] = p.read_bytes()
    if "headers" in kw:
        kw["headers"] = list(_header_pairs(kw["headers"]))
    return Resp(**kw)


def load_sites(source: str | os.PathLike[str] | Mapping[str, Any]) -> list[Site]:
    """Read ``{"sites": [{"host": ..., "routes": {path: resp}, "default": resp}]}``.

    A response is an object with :class:`Resp` fields (``body`` / ``body_b64`` /
    ``body_file``; ``body_file`` is relative to the JSON file), a bare string (200 with that
    body) or a bare status code.
    """
    base: Path | None = None
    if isinstance(source, Mapping):
        data = source
    else:
        path = Path(source)
        base = path.parent
        data = json.loads(path.read_text(encoding="utf-8"))
    sites = []
    for entry in data.get("sites", []):
        routes = {p: _resp_from_json(r, base) for p, r in (entry.get("routes") or {}).items()}
        kw: dict[str, Any] = {
            "host": entry["host"],
            "routes": routes,
            "note": entry.get("note", ""),
        }
        if "default" in entry:
            kw["default"] = _resp_from_json(entry["default"], base)
        sites.append(Site(**kw))
    return sites


def dump_sites(sites: Iterable[Site]) -> dict[str, Any]:
    """The JSON form :func:`load_sites` reads back."""
    return {"sites": [s.to_json() for s in sites]}
