"""The fake web's HTTP/1.1 server: one loopback port, any number of virtual origins.

Written directly on :class:`asyncio.Protocol` because the common case (a canned robots.txt)
must cost one dict lookup and one ``write`` of pre-encoded bytes; only responses with an
injected fault go through a coroutine, so one hanging route never holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip as _gzip
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any, Literal

from .bench import bench_generator
from .spec import Generator, Resp, Site, dump_sites, gzip_bomb, load_sites, normalize_host

__all__ = ["ADMIN_HOST", "FakeWeb", "SpawnedFakeWeb"]

ADMIN_HOST = "fakeweb.admin"
DEFAULT_MAX_SECONDS = 3600.0

_MAX_HEAD = 64 * 1024
_FILLER = (b"#" * 63 + b"\n") * 1024  # robots.txt-safe padding: comment lines
_CHUNK = 64 * 1024
_CT_BY_EXT = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".xml": "application/xml",
    ".csv": "text/csv; charset=utf-8",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".pdf": "application/pdf",
    ".js": "text/javascript",
    ".css": "text/css",
}
_UNKNOWN_HOST = Resp(502, body=b"fakeweb: unknown host\n", content_type="text/plain")

SitesArg = Iterable[Site] | Mapping[str, Any] | str | os.PathLike[str] | None


def _guess_content_type(path: str) -> str:
    path = path.split("?", 1)[0]
    if path.endswith("/"):
        return "text/html; charset=utf-8"
    dot = path.rfind(".")
    if dot > path.rfind("/"):
        ct = _CT_BY_EXT.get(path[dot:].lower())
        if ct:
            return ct
    return "text/plain; charset=utf-8"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _body_bytes(resp: Resp) -> bytes:
    body = resp.body
    assert isinstance(body, bytes)
    if resp.gzip:
        gz = resp._wire.get("gz")
        if gz is None:
            gz = resp._wire["gz"] = _gzip.compress(body, mtime=0)
        return gz
    return body


def _head(resp: Resp, path: str, length: int, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {resp.status} {_reason(resp.status)}"]
    user_names = {k.lower() for k, _ in resp.headers}
    if "content-type" not in user_names:
        lines.append(f"Content-Type: {resp.content_type or _guess_content_type(path)}")
    if resp.location is not None and "location" not in user_names:
        lines.append(f"Location: {resp.location}")
    if (resp.gzip or resp.bomb) and "content-encoding" not in user_names:
        lines.append("Content-Encoding: gzip")
    lines.extend(f"{k}: {v}" for k, v in resp.headers)
    # A user-supplied Content-Length is kept as given: a wrong one is a fault worth injecting.
    if "content-length" not in user_names and not (
        100 <= resp.status < 200 or resp.status in (204, 304)
    ):
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _wire(resp: Resp, path: str, keep_alive: bool, head_only: bool) -> bytes:
    """Complete pre-encoded response for the fast path, cached on the Resp."""
    ct = resp.content_type if resp.content_type else _guess_content_type(path)
    key = (ct, keep_alive, head_only)
    data = resp._wire.get(key)
    if data is None:
        body = _body_bytes(resp)
        data = _head(resp, path, len(body), keep_alive) + (b"" if head_only else body)
        resp._wire[key] = data
    return data


class _Engine:
    """State shared by all connections: the sites, the generator and the hit counts."""

    def __init__(self, sites: dict[str, Site], generator: Generator | None, unknown: Resp):
        self.sites = sites
        self.generator = generator
        self.unknown = unknown
        self.counts: dict[tuple[str, str], int] = {}
        self.conns: set[_Conn] = set()
        self.server: asyncio.AbstractServer | None = None
        self.stopped: asyncio.Event | None = None

    def resolve(self, host: str, target: str) -> Resp:
        if host == ADMIN_HOST:
            return self._admin(target)
        key = (host, target)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        site = self.sites.get(host)
        if site is not None:
            return site.lookup(target)
        if self.generator is not None:
            try:
                resp = self.generator(host, target)
            except Exception as exc:  # a broken generator should show up as a 500, not a hang
                return Resp(500, body=f"fakeweb generator error: {exc!r}\n")
            if resp is not None:
                return resp
        return self.unknown

    def _admin(self, target: str) -> Resp:
        parsed = urllib.parse.urlsplit(target)
        q = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        path = parsed.path
        if path == "/counts":
            data: Any = {"counts": [[h, p, n] for (h, p), n in self.counts.copy().items()]}
        elif path == "/reset":
            self.counts.clear()
            data = {"ok": True}
        elif path == "/hits":
            data = {
                "hits": self.counts.get((normalize_host(q.get("host", "")), q.get("path", "/")), 0)
            }
        elif path == "/total":
            data = {"total": _total(self.counts, q.get("path"))}
        elif path == "/health":
            data = {"ok": True, "sites": len(self.sites), "generator": self.generator is not None}
        else:
            return Resp(
                404, body=b'{"error": "unknown admin path"}', content_type="application/json"
            )
        return Resp(body=json.dumps(data), content_type="application/json")

    async def shutdown(self) -> None:
        if self.server is not None:
            self.server.close()
        tasks = [c.task for c in self.conns if c.task is not None]
        for conn in list(self.conns):
            conn.abort()
        if tasks:
            # Cancelled streams finish within a loop turn or two; don't let one stall the stop.
            await asyncio.wait(tasks, timeout=1.0)
        await asyncio.sleep(0)
        if self.stopped is not None:
            self.stopped.set()


def _total(counts: dict[tuple[str, str], int], path: str | None) -> int:
    snapshot = counts.copy()
    if path is None:
        return sum(snapshot.values())
    return sum(n for (_, p), n in snapshot.items() if p == path)


class _Conn(asyncio.Protocol):
    def __init__(self, engine: _Engine) -> None:
        self.engine = engine
        self.buf = bytearray()
        self.busy = False
        self.closed = False
        self.paused = False
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self.lost: asyncio.Future[None] | None = None
        self.drain_waiters: list[asyncio.Future[None]] = []

    # -- asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.engine.conns.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.engine.conns.discard(self)
        if self.lost is not None and not self.lost.done():
            self.lost.set_result(None)
        self._wake_drain()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake_drain()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()
        elif len(self.buf) > _MAX_HEAD * 4 and self.transport is not None:
            # A client pipelining far ahead of a slow response: stop reading until we catch up.
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        # A client that half-closes has given up (that is how a hang or a delay ends early).
        return False

    # -- helpers

    def abort(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.transport is not None:
            self.transport.abort()

    def _wake_drain(self) -> None:
        waiters, self.drain_waiters = self.drain_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _drain(self) -> None:
        while self.paused and not self.closed:
            fut = asyncio.get_running_loop().create_future()
            self.drain_waiters.append(fut)
            await fut
        if self.closed:
            raise ConnectionResetError("client went away")

    def _error(self, status: int) -> None:
        assert self.transport is not None
        body = f"{status} {_reason(status)}\n".encode()
        resp = Resp(status, body=body, content_type="text/plain")
        self.transport.write(_head(resp, "/", len(body), False) + body)
        self.transport.close()
        self.closed = True

    def _rst(self) -> None:
        # SO_LINGER 0 turns close() into a TCP RST: the client sees ECONNRESET, not a clean EOF.
        assert self.transport is not None
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()
        self.closed = True

    # -- request loop

    def _process(self) -> None:
        transport = self.transport
        assert transport is not None
        buf = self.buf
        while not self.busy and not self.closed and buf:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._error(431)
                return
            lines = bytes(buf[:end]).split(b"\r\n")
            parts = lines[0].split(b" ")
            if len(parts) != 3:
                self._error(400)
                return
            method, raw_target, version = parts
            host_hdr = b""
            conn_hdr = b""
            clen = 0
            chunked = False
            for line in lines[1:]:
                i = line.find(b":")
                if i <= 0:
                    continue
                name = line[:i].strip().lower()
                if name == b"host":
                    host_hdr = line[i + 1 :].strip()
                elif name == b"content-length":
                    try:
                        clen = int(line[i + 1 :])
                    except ValueError:
                        self._error(400)
                        return
                elif name == b"connection":
                    conn_hdr = line[i + 1 :].strip().lower()
                elif name == b"transfer-encoding":
                    chunked = True
            if chunked or clen < 0:
                # No request bodies are needed here; refuse rather than mis-frame the stream.
                self._error(501)
                return
            if len(buf) < end + 4 + clen:
                return
            del buf[: end + 4 + clen]

            if method == b"CONNECT":
                self._error(501)
                return
            target = raw_target.decode("latin-1")
            if target.startswith("/"):
                if not host_hdr:
                    self._error(400)
                    return
                host = normalize_host(host_hdr.decode("latin-1"))
            elif target[:7].lower() == "http://":
                slash = target.find("/", 7)
                if slash < 0:
                    host, target = normalize_host(target[7:]), "/"
                else:
                    host, target = normalize_host(target[7:slash]), target[slash:]
                q = host.find("?")
                if q >= 0:  # "http://a.test?x" has an empty path
                    host, target = host[:q], "/" + host[q:]
            else:
                self._error(501 if target[:8].lower() == "https://" else 400)
                return
            if version == b"HTTP/1.1":
                keep_alive = b"close" not in conn_hdr
            else:
                keep_alive = b"keep-alive" in conn_hdr
            head_only = method == b"HEAD"

            resp = self.engine.resolve(host, target)
            if resp.streaming:
                self.busy = True
                self.task = asyncio.get_running_loop().create_task(
                    self._stream(resp, target, keep_alive, head_only)
                )
                return
            transport.write(_wire(resp, target, keep_alive, head_only))
            if not keep_alive:
                transport.close()
                self.closed = True
                return

    async def _stream(self, resp: Resp, path: str, keep_alive: bool, head_only: bool) -> None:
        transport = self.transport
        assert transport is not None
        loop = asyncio.get_running_loop()
        try:
            if resp.delay > 0:
                self.lost = self.lost or loop.create_future()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self.lost), resp.delay)
                if self.closed:
                    return
            if resp.hang:
                self.lost = self.lost or loop.create_future()
                if not self.closed:
                    await self.lost
                return
            if resp.reset and resp.reset_after is None:
                self._rst()
                return

            if resp.bomb:
                body = resp._wire.get("bomb")
                if body is None:
                    # Large bombs take a CRC pass over the inflated size: keep it off the loop.
                    body = await loop.run_in_executor(None, gzip_bomb, resp.bomb)
                    resp._wire["bomb"] = body
            else:
                body = _body_bytes(resp)
            total = max(len(body), resp.oversize)
            transport.write(_head(resp, path, total, keep_alive))
            if not head_only:
                limit = resp.reset_after if resp.reset else None
                await self._send_body(body, total, limit, resp.drip)
            if resp.reset:
                while transport.get_write_buffer_size() and not self.closed:
                    await asyncio.sleep(0.005)
                # Give the kernel a moment to hand the partial body over before the RST.
                await asyncio.sleep(0.02)
                self._rst()
                return
            if not keep_alive:
                transport.close()
                self.closed = True
        except (ConnectionError, asyncio.CancelledError):
            self.closed = True
            return
        finally:
            self.busy = False
            self.task = None
        if not self.closed:
            transport.resume_reading()
            self._process()

    async def _send_body(
        self, body: bytes, total: int, limit: int | None, drip: float | None
    ) -> None:
        assert self.transport is not None
        write = self.transport.write
        remaining = total if limit is None else min(total, limit)
        step = max(1, int(drip * 0.05)) if drip else _CHUNK
        loop = asyncio.get_running_loop()
        t_next = loop.time()
        sent = 0
        while remaining > 0 and not self.closed:
            if sent < len(body):
                piece = body[sent : sent + min(step, remaining)]
            else:
                piece = _FILLER[: min(step, remaining)]
            write(piece)
            sent += len(piece)
            remaining -= len(piece)
            if drip:
                t_next += len(piece) / drip
                delay = t_next - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            await self._drain()


def _exempt_list(hosts: Iterable[str], domain: str | None) -> str:
    names = {h if h.startswith("[") else h.rsplit(":", 1)[0] for h in hosts}
    if domain:
        names.add("." + domain)
    return ",".join(sorted(names))


def _coerce_sites(sites: SitesArg) -> dict[str, Site]:
    if sites is None:
        items: list[Site] = []
    elif isinstance(sites, (str, os.PathLike, Mapping)):
        items = load_sites(sites)
    else:
        items = list(sites)
    out: dict[str, Site] = {}
    for s in items:
        if s.host in out:
            # Merge: redirect_chain() and hand-written sites may both touch one host.
            out[s.host].routes.update(s.routes)
        else:
            out[s.host] = s
    return out


class _CountingAPI:
    def counts(self) -> dict[tuple[str, str], int]:
        raise NotImplementedError

    def hits(self, host: str, path: str = "/robots.txt") -> int:
        """Requests seen for ``host`` (with ``:port`` when not 80) and exact path+query."""
        return self.counts().get((normalize_host(host), path), 0)

    def total_hits(self, path: str | None = None) -> int:
        """All requests, or all requests for one path+query across hosts."""
        return _total(self.counts(), path)

    port: int

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    _served: tuple[list[str], str | None] = ([], None)

    @property
    def guard_exempt(self) -> str:
        """The hosts this fake web serves, for ``TDMSCAN_GUARD_EXEMPT``: the declared sites
        and, for a generator with a ``domain``, that domain. The address guard is switched
        off for these names only, so that a site spec naming ``localhost`` or an IP literal
        still reaches the fake web; routing through a proxy alone does not switch it off."""
        return _exempt_list(*self._served)

    def proxy_env(self) -> dict[str, str]:
        """Environment for a child process whose HTTP clients should use this fake web."""
        url = self.proxy_url
        env = {name: url for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy")}
        env.update({name: "" for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")})
        env["TDMSCAN_GUARD_EXEMPT"] = self.guard_exempt
        return env

    @staticmethod
    def url(host: str, path: str = "/") -> str:
        if not path.startswith("/"):
            path = "/" + path
        return f"http://{host}{path}"


class FakeWeb(_CountingAPI):
    """The fake web, served from a background thread with its own event loop.

    ``with FakeWeb(sites) as fw:`` then point clients at ``fw.proxy_url`` (as ``proxy=`` or
    ``HTTP_PROXY``), or send origin-form requests to ``127.0.0.1:fw.port`` with a ``Host``
    header. ``sites`` is a list of :class:`Site`, a JSON-like dict, or a JSON file path.
    ``generator`` answers undeclared hosts (``"bench"`` = :func:`bench_generator`).
    Undeclared hosts nobody answers get ``unknown`` (502 by default, like a proxy that
    cannot resolve the name, so a typo in a test never passes as "no robots.txt").
    """

    def __init__(
        self,
        sites: SitesArg = None,
        generator: Generator | Literal["bench"] | None = None,
        *,
        n_hosts: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        unknown: Resp | None = None,
        max_seconds: float | None = None,
    ) -> None:
        if generator == "bench":
            generator = bench_generator(n_hosts)
        elif isinstance(generator, str):
            raise ValueError(f"unknown generator {generator!r}")
        self._engine = _Engine(_coerce_sites(sites), generator, unknown or _UNKNOWN_HOST)
        self.generator = generator
        self.bind_host = host
        self.port = port
        self.max_seconds = max_seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- sites

    @property
    def sites(self) -> dict[str, Site]:
        return self._engine.sites

    @property
    def _served(self) -> tuple[list[str], str | None]:  # type: ignore[override]
        domain = getattr(self.generator, "domain", None)
        return list(self.sites), domain if isinstance(domain, str) else None

    def add_site(self, site: Site) -> None:
        """Declare (or replace) a site while running."""
        self._engine.sites[site.host] = site

    def prepare(self) -> None:
        """Precompute declared gzip bombs so the first request for one is as fast as the rest."""
        for site in self._engine.sites.values():
            for resp in [*site.routes.values(), site.default]:
                if resp.bomb and "bomb" not in resp._wire:
                    resp._wire["bomb"] = gzip_bomb(resp.bomb)

    # -- counting

    def counts(self) -> dict[tuple[str, str], int]:
        return self._engine.counts.copy()

    def reset_counts(self) -> None:
        self._engine.counts.clear()

    # -- serving in the caller's loop (the CLI) or in a thread (tests)

    async def serve(self, ready: threading.Event | None = None, announce: bool = False) -> None:
        """Serve in the running loop until :meth:`stop`, ``max_seconds``, or cancellation."""
        self.prepare()
        loop = asyncio.get_running_loop()
        self._loop = loop
        engine = self._engine
        engine.stopped = asyncio.Event()
        engine.server = await loop.create_server(
            lambda: _Conn(engine), self.bind_host, self.port, backlog=4096, reuse_address=True
        )
        self.port = engine.server.sockets[0].getsockname()[1]
        if announce:
            print(f"listening on {self.proxy_url}", flush=True)
        if ready is not None:
            ready.set()
        timer = None
        if self.max_seconds:
            timer = loop.call_later(self.max_seconds, lambda: loop.create_task(engine.shutdown()))
        try:
            await engine.stopped.wait()
        finally:
            if timer is not None:
                timer.cancel()
            await engine.shutdown()

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.serve(ready))
        except BaseException as exc:
            self._error = exc
            ready.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def start(self) -> FakeWeb:
        if self._thread is not None:
            raise RuntimeError("already started")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="fakeweb", daemon=True
        )
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("fake web did not start within 30 s")
        if self._error is not None:
            raise RuntimeError("fake web failed to start") from self._error
        return self

    def stop(self, timeout: float = 5.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                fut = asyncio.run_coroutine_threadsafe(self._engine.shutdown(), loop)
                with contextlib.suppress(Exception):
                    fut.result(timeout)
        thread.join(timeout)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeWeb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- separate process

    @staticmethod
    def spawn(
        sites: SitesArg = None,
        generator: Literal["bench"] | None = None,
        *,
        n_hosts: int | None = None,
        port: int = 0,
        max_seconds: float = 600.0,
        demo: bool = False,
        startup_timeout: float = 30.0,
    ) -> SpawnedFakeWeb:
        """Start ``python -m tdmscan.fakeweb`` and return a handle once it listens.

        ``sites`` may be a JSON file path, or sites/a dict (written to a temporary file).
        """
        return SpawnedFakeWeb.start(
            sites,
            generator=generator,
            n_hosts=n_hosts,
            port=port,
            max_seconds=max_seconds,
            demo=demo,
            startup_timeout=startup_timeout,
        )


class SpawnedFakeWeb(_CountingAPI):
    """A fake web in its own process; counts are read over HTTP from the admin host."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        port: int,
        tmpfile: Path | None = None,
        served: tuple[list[str], str | None] = ([], None),
    ):
        self.proc = proc
        self.port = port
        self._tmpfile = tmpfile
        self._served = served

    @classmethod
    def start(
        cls,
        sites: SitesArg = None,
        *,
        generator: Literal["bench"] | None = None,
        n_hosts: int | None = None,
        port: int = 0,
        max_seconds: float = 600.0,
        demo: bool = False,
        startup_timeout: float = 30.0,
    ) -> SpawnedFakeWeb:
        import tempfile

        args = [sys.executable, "-m", "tdmscan.fakeweb", "--port", str(port)]
        args += ["--max-seconds", str(max_seconds)]
        tmpfile: Path | None = None
        if sites is not None:
            if isinstance(sites, (str, os.PathLike)):
                path = Path(sites)
            else:
                data = sites if isinstance(sites, Mapping) else dump_sites(sites)
                fd, name = tempfile.mkstemp(prefix="fakeweb-", suffix=".json")
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh)
                path = tmpfile = Path(name)
            args += ["--sites", str(path)]
        served_hosts = [s.host for s in load_sites(path)] if sites is not None else []
        bench_domain = None
        if demo:
            args.append("--demo")
            from . import demo_sites_path

            served_hosts += [s.host for s in load_sites(demo_sites_path())]
        if generator == "bench" or n_hosts is not None:
            args += ["--bench-hosts", str(n_hosts if n_hosts is not None else 0)]
            bench_domain = bench_generator(0).domain
        elif generator is not None:
            raise ValueError("a spawned fake web only knows the 'bench' generator")
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            line = _read_line(proc, startup_timeout)
        except BaseException:
            proc.kill()
            proc.wait()
            if tmpfile is not None:
                tmpfile.unlink(missing_ok=True)
            raise
        prefix = "listening on http://127.0.0.1:"
        if not line.startswith(prefix):
            proc.kill()
            proc.wait()
            raise RuntimeError(f"unexpected fake web output: {line!r}")
        return cls(proc, int(line[len(prefix) :]), tmpfile, (served_hosts, bench_domain))

    def _admin(self, path: str) -> Any:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Host": ADMIN_HOST})
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                raise RuntimeError(f"admin {path}: {r.status} {data[:200]!r}")
            return json.loads(data)
        finally:
            conn.close()

    def counts(self) -> dict[tuple[str, str], int]:
        return {(h, p): n for h, p, n in self._admin("/counts")["counts"]}

    def hits(self, host: str, path: str = "/robots.txt") -> int:
        q = urllib.parse.urlencode({"host": host, "path": path})
        return int(self._admin(f"/hits?{q}")["hits"])

    def total_hits(self, path: str | None = None) -> int:
        q = "" if path is None else "?" + urllib.parse.urlencode({"path": path})
        return int(self._admin(f"/total{q}")["total"])

    def reset_counts(self) -> None:
        self._admin("/reset")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._tmpfile is not None:
            self._tmpfile.unlink(missing_ok=True)
            self._tmpfile = None

    def __enter__(self) -> SpawnedFakeWeb:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    buf = b""
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("fake web process did not announce its port")
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not ready:
            if proc.poll() is not None:
                raise RuntimeError(f"fake web process exited with {proc.returncode}")
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError(f"fake web process exited with {proc.wait()}")
        buf += chunk
    return buf.split(b"\n", 1)[0].decode().strip()
