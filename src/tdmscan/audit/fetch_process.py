"""Fetch origins' site files in a child process, so the parent's event loop only decides.

A batch audit is CPU-bound in one process: the event loop both drives aiohttp for every
origin's three site files and decides and writes the URLs behind them. :class:`FetchProcess`
moves the fetching into a child Python process (``python -m tdmscan.audit.fetch_process``) that runs
an ordinary :class:`~tdmscan.scanner.Scanner`; the parent asks for an origin and gets back
exactly what ``Scanner.site(origin)`` fetches (``site.files`` and ``site.rsl_documents``, from
``Scanner.site_files``, which skips the parsing the parent does anyway)::

    fetch = FetchProcess(agents=["mybot"], mode="conservative", purpose="train-ai",
                         include_training_agents=True, allow_private=False,
                         limits=FetchLimits())
    await fetch.start()
    try:
        files, rsl_documents = await fetch.site_files("https://example.com")
        site = policy.parse_site(files, rsl_documents)
    finally:
        await fetch.aclose()

Protocol
--------
The child's stdin and stdout carry frames: an 8-byte big-endian length, then a pickle (protocol
5) of a tuple whose first item names the message. Parent to child:

* ``("config", {"scanner": Scanner kwargs, "concurrency": n, "heartbeat": seconds})``, once,
  first;
* ``("fetch", [(request id, origin), ...])``: every request made in one event-loop iteration;
* end of file: the child stops its work and exits (status 0).

Child to parent:

* ``("ready", {"pid", "agents", "protocol"})`` once the scanner is built, or
  ``("fatal", message)`` when it cannot be (the child then exits with status 2);
* ``("results", requests, stats, [(request id, error, SiteFiles, rsl documents), ...])``:
  every request completed since the previous frame (split only to keep a frame's bodies
  under :data:`FRAME_BODY_BYTES`); ``error`` is None or describes an exception
  ``Scanner.site_files`` raised for that request; ``requests`` is the child's HTTP request
  count so far;
* ``("alive", requests, stats)``: a heartbeat when nothing else was sent for ``heartbeat``
  seconds, so the parent can tell a stalled child from a slow web.

:class:`~tdmscan.types.Fetched` and :class:`~tdmscan.types.SiteFiles` travel as flat tuples of
their fields and are rebuilt without running ``__init__``: nothing is re-normalised and the
``sha256`` computed in the child is kept, never recomputed. Pickle is safe here only because
both ends are this module, in processes this module started.

Robustness
----------
The child ignores SIGINT (the parent handles Ctrl-C and shuts it down) and exits on end of
file on its stdin, so a parent that dies, even by SIGKILL, never leaves it running. Stray
writes to the child's ``sys.stdout`` go to stderr: the protocol uses private copies of the
original descriptors. In the parent, a child that exits, is killed, sends anything that is not
a well-formed frame, or sends nothing for ``stall_timeout`` seconds while requests are pending
(the child is then killed) fails every pending and future :meth:`FetchProcess.site_files` call
with a :class:`RuntimeError` naming the cause and the exit status; nothing waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import dataclasses
import gc
import io
import itertools
import operator
import os
import pickle
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from ..fetch.limits import FetchLimits
from ..types import Fetched, SiteFiles

__all__ = [
    "FRAME_BODY_BYTES",
    "MAX_FRAME",
    "PROTOCOL_VERSION",
    "FetchProcess",
    "dumps",
    "main",
]

PROTOCOL_VERSION = 1

_HEADER = struct.Struct("!Q")
#: A frame length above this is not a frame: something else wrote to the child's stdout.
MAX_FRAME = 1 << 32
#: The child starts a new results frame once the bodies in the current one reach this size.
FRAME_BODY_BYTES = 16 << 20
_PICKLE_PREFIX = b"\x80\x05"  # every protocol-5 pickle starts with PROTO 5
_PIPE_LIMIT = 1 << 20  # StreamReader buffer: large frames need fewer pause/resume rounds


class ProtocolError(Exception):
    """The other end sent something that is not a well-formed frame of this protocol.

    ``eof``: the stream ended inside a frame (the writer most likely died while writing),
    rather than carrying bytes that are not frames.
    """

    def __init__(self, message: str, *, eof: bool = False) -> None:
        super().__init__(message)
        self.eof = eof


# ---------------------------------------------------------------------------------- pickling
#
# Pickling a slots dataclass by default calls dataclasses' ``__setstate__`` per object, which
# walks ``fields()`` in Python: ~4x slower to load than the flat tuples below. The reducers are
# used only when every field is a plain slot, which is what ``frozen=True, slots=True`` gives.

_new = object.__new__


def _slot_setters(cls: type) -> tuple[tuple[str, ...], tuple[Callable[[Any, Any], None], ...]]:
    names = tuple(f.name for f in dataclasses.fields(cls))
    setters = []
    for name in names:
        descriptor = cls.__dict__.get(name)
        if type(descriptor).__name__ != "member_descriptor":
            return names, ()
        setters.append(descriptor.__set__)
    return names, tuple(setters)


_FETCHED_FIELDS, _FETCHED_SET = _slot_setters(Fetched)
_SITE_FIELDS, _SITE_SET = _slot_setters(SiteFiles)


def _rebuild_fetched(*values: Any) -> Fetched:
    obj = _new(Fetched)
    for setter, value in zip(_FETCHED_SET, values, strict=True):
        setter(obj, value)
    return obj


def _rebuild_site_files(*values: Any) -> SiteFiles:
    obj = _new(SiteFiles)
    for setter, value in zip(_SITE_SET, values, strict=True):
        setter(obj, value)
    return obj


_DISPATCH: dict[type, Callable[[Any], Any]] = dict(copyreg.dispatch_table)
if _FETCHED_SET:
    _get_fetched = operator.attrgetter(*_FETCHED_FIELDS)
    _DISPATCH[Fetched] = lambda f: (_rebuild_fetched, _get_fetched(f))
if _SITE_SET:
    _get_site = operator.attrgetter(*_SITE_FIELDS)
    _DISPATCH[SiteFiles] = lambda s: (_rebuild_site_files, _get_site(s))


def dumps(obj: Any) -> bytes:
    """Pickle ``obj`` as the protocol does (``Fetched``/``SiteFiles`` as flat field tuples)."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=5)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(obj)
    return buf.getvalue()


def _loads(data: bytes) -> Any:
    """Unpickle with the cyclic GC paused: loading allocates only acyclic containers, and a
    large parent heap otherwise makes the collections it triggers cost more than the load."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(data)
    finally:
        if enabled:
            gc.enable()


def _frame(obj: Any) -> bytes:
    payload = dumps(obj)
    return _HEADER.pack(len(payload)) + payload


async def _read_frame(reader: asyncio.StreamReader) -> tuple[Any, ...] | None:
    """The next message, or None at a clean end of file (between frames)."""
    try:
        head = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ProtocolError(
                f"end of file inside a frame header ({exc.partial!r})", eof=True
            ) from None
        return None
    (size,) = _HEADER.unpack(head)
    if size > MAX_FRAME or size < len(_PICKLE_PREFIX):
        raise ProtocolError(f"not a frame (header bytes {head!r})")
    try:
        payload = await reader.readexactly(size)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(
            f"end of file inside a frame ({len(exc.partial)} of {size} bytes)", eof=True
        ) from None
    if not payload.startswith(_PICKLE_PREFIX):
        raise ProtocolError(f"not a frame (header bytes {head!r}, payload {payload[:16]!r})")
    try:
        msg = _loads(payload)
    except Exception as exc:
        raise ProtocolError(f"undecodable frame: {type(exc).__name__}: {exc}") from None
    if not isinstance(msg, tuple) or not msg or not isinstance(msg[0], str):
        raise ProtocolError(f"not a message: {type(msg).__name__}")
    return msg


# ---------------------------------------------------------------------------------- parent


class _RemoteTraceback(Exception):
    """Carries the child's traceback text as the ``__cause__`` of a re-raised exception."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "exit status unknown"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit status {returncode}"


def _child_env() -> dict[str, str]:
    """The parent's environment as it is now (proxies included), able to import this package."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    # A checkout used without installing needs its source root; an installed package is found
    # anyway, and putting site-packages on PYTHONPATH would rank it above the standard library.
    if Path(root).name not in ("site-packages", "dist-packages"):
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if root not in paths:
            env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return env


#: Pipe capacity asked for (Linux ``F_SETPIPE_SZ``; 1 MiB is the default ``pipe-max-size``).
PIPE_BYTES = 1 << 20


def _widen_pipes(proc: asyncio.subprocess.Process) -> None:
    """Let the child run ahead while the parent's loop is busy deciding.

    The parent reads results only between decision batches; with the default 64 KiB pipe
    the child fills it with a few dozen origins' files and then blocks, idling the second
    core. Best effort: other systems (and a lowered ``pipe-max-size``) keep their default.
    """
    setsz = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    transport = getattr(proc, "_transport", None)
    if setsz is None or transport is None:
        return
    for fd_no in (0, 1):
        with contextlib.suppress(Exception):
            pipe = transport.get_pipe_transport(fd_no).get_extra_info("pipe")
            fcntl.fcntl(pipe.fileno(), setsz, PIPE_BYTES)


class FetchProcess:
    """Fetches origins' site files in a child Python process running a tdmscan ``Scanner``.

    The keyword arguments are the ``Scanner`` ones an audit uses (``ttl=None`` keeps the
    scanner's default; ``fetcher`` is ``"aiohttp"``, ``"httpx"`` or None). ``concurrency``
    bounds the origins the child fetches at once; more requests queue in the child, in order.

    ``start_timeout``: seconds the child may take to start and build its scanner.
    ``stall_timeout``: while requests are pending, a child that sends nothing (not even its
    heartbeat, sent every ``stall_timeout / 8`` seconds) for this long is killed and every
    call fails; None disables the watchdog. ``close_timeout``: grace given to the child to
    exit after its stdin is closed before it is killed.

    Use ``async with FetchProcess(...) as fetch`` or :meth:`start` / :meth:`aclose`. All
    methods must be called from the event loop that ran :meth:`start`.
    """

    #: Interpreter arguments that start the child (tests substitute misbehaving children).
    child_args: tuple[str, ...] = ("-m", "tdmscan.audit.fetch_process")

    def __init__(
        self,
        *,
        agents: Sequence[str],
        mode: str,
        purpose: str,
        include_training_agents: bool,
        allow_private: bool,
        limits: FetchLimits,
        ttl: float | None = None,
        concurrency: int = 200,
        fetcher: str | None = None,
        start_timeout: float = 60.0,
        stall_timeout: float | None = 60.0,
        close_timeout: float = 5.0,
        terms: bool = False,
        exclude_lists: Sequence[Any] = (),
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if stall_timeout is not None and not stall_timeout > 0:
            raise ValueError("stall_timeout must be positive or None")
        if isinstance(agents, str):
            agents = [agents]
        scanner_kw: dict[str, Any] = {
            "agents": list(agents),
            "mode": mode,
            "purpose": purpose,
            "include_training_agents": include_training_agents,
            "allow_private": allow_private,
            "limits": limits,
        }
        if ttl is not None:
            scanner_kw["ttl"] = ttl
        if terms:
            scanner_kw["terms"] = True
        if exclude_lists:
            scanner_kw["exclude_lists"] = list(exclude_lists)
        if fetcher is not None:
            if not isinstance(fetcher, str):
                raise TypeError("fetcher must be a fetcher name: a Fetcher object cannot cross")
            scanner_kw["fetcher"] = fetcher
        self._config = {
            "scanner": scanner_kw,
            "concurrency": concurrency,
            "heartbeat": (stall_timeout or 80.0) / 8,
        }
        self.start_timeout = start_timeout
        self.stall_timeout = stall_timeout
        self.close_timeout = close_timeout

        self._proc: asyncio.subprocess.Process | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ids = itertools.count()
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._outgoing: list[tuple[int, Any]] = []
        self._flush_scheduled = False
        self._reader: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._closed = False
        self._failure: str | None = None  # set once the child is unusable; every call raises it
        self._stalled: str | None = None
        self._frames = 0
        self._requests = 0
        self._stats: dict[str, Any] = {}
        self._agents: tuple[str, ...] = ()

    # ------------------------------------------------------------------ properties

    @property
    def requests(self) -> int:
        """HTTP requests the child has made (redirect hops included), as it last reported."""
        return self._requests

    @property
    def stats(self) -> dict[str, Any]:
        """The child scanner's ``ScanStats.to_dict()``, as it last reported."""
        return dict(self._stats)

    @property
    def agents(self) -> tuple[str, ...]:
        """The child scanner's ``agents`` (own tokens plus training tokens), once started."""
        return self._agents

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The child's exit status once it has been reaped (negative: killed by a signal)."""
        return self._proc.returncode if self._proc is not None else None

    @property
    def pending(self) -> int:
        """``site_files`` calls waiting for the child."""
        return len(self._pending)

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> FetchProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def spawn(self) -> None:
        """Start the child and send it the configuration, without waiting for it to be ready.

        The child then imports and builds its scanner on its own (about 0.3 s) while this
        process does other work, such as planning an audit; :meth:`start` completes the
        start-up. Calling :meth:`start` alone does both.
        """
        if self._proc is not None or self._closed:
            raise RuntimeError("FetchProcess.start() may be called once")
        self._loop = asyncio.get_running_loop()
        self._proc = proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.child_args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=_child_env(),
            limit=_PIPE_LIMIT,
        )
        _widen_pipes(proc)
        assert proc.stdin is not None
        proc.stdin.write(_frame(("config", self._config)))

    async def start(self) -> None:
        """Spawn the child (unless :meth:`spawn` did), and wait until its scanner is built.

        Raises RuntimeError (after making sure the child is gone) if it cannot start, reports
        a configuration error, or is not ready within ``start_timeout`` seconds (counted from
        this call).
        """
        if self._proc is None:
            await self.spawn()
        elif self._reader is not None or self._closed:
            raise RuntimeError("FetchProcess.start() may be called once")
        proc = self._proc
        assert proc is not None
        if asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("FetchProcess.start() must run on the loop that ran spawn()")
        try:
            assert proc.stdout is not None
            try:
                async with asyncio.timeout(self.start_timeout):
                    msg = await _read_frame(proc.stdout)
            except TimeoutError:
                raise RuntimeError(
                    f"tdmscan fetch child (pid {proc.pid}) not ready after {self.start_timeout:g} s"
                ) from None
            except ProtocolError as exc:
                raise RuntimeError(
                    f"tdmscan fetch child (pid {proc.pid}) broke the protocol at start: {exc}"
                ) from None
            if msg is None or msg[0] == "fatal":
                code = await self._reap(1.0)
                detail = f": {msg[1]}" if msg is not None and len(msg) > 1 else ""
                raise RuntimeError(
                    f"tdmscan fetch child (pid {proc.pid}) failed to start "
                    f"({_describe_exit(code)}){detail}"
                )
            if msg[0] != "ready" or len(msg) < 2 or not isinstance(msg[1], dict):
                raise RuntimeError(
                    f"tdmscan fetch child (pid {proc.pid}) sent {msg[0]!r} instead of 'ready'"
                )
            self._agents = tuple(msg[1].get("agents", ()))
        except BaseException:
            self._closed = True
            self._failure = "the tdmscan fetch child failed to start"
            await self._reap(0.0)
            if proc.stdin is not None:
                proc.stdin.close()
            raise
        self._reader = asyncio.create_task(self._read_loop(), name="tdmscan-fetch-reader")
        if self.stall_timeout is not None:
            self._watchdog = asyncio.create_task(self._watch(), name="tdmscan-fetch-watchdog")

    async def aclose(self) -> None:
        """Stop the child: close its stdin, wait up to ``close_timeout`` s, then kill it.

        Pending calls raise RuntimeError; later calls too. Idempotent, and safe to call
        concurrently or after the child died. Being cancelled does not stop the shutdown.
        """
        if self._close_task is None:
            self._closed = True
            self._fail_pending("the FetchProcess was closed while the request was pending")
            self._close_task = asyncio.create_task(self._shutdown(), name="tdmscan-fetch-close")
        await asyncio.shield(self._close_task)

    async def _shutdown(self) -> None:
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()  # end of file: the child stops and exits
        if proc is not None:
            await self._reap(self.close_timeout)
        for task in (self._watchdog, self._reader):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _reap(self, grace: float) -> int | None:
        """Wait up to ``grace`` s for the child to exit, then kill it; its exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            try:
                async with asyncio.timeout(grace):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return proc.returncode

    # ------------------------------------------------------------------ requests

    async def site_files(self, origin: str) -> tuple[SiteFiles, dict[str, Fetched]]:
        """What ``Scanner.site(origin)`` fetched in the child: ``(site.files, rsl_documents)``.

        Raises RuntimeError when the child is not running (not started, closed, died, broke
        the protocol or stalled), and re-raises an exception ``Scanner.site_files`` raised in the
        child for this origin (its child-side traceback as ``__cause__``). Cancelling the call
        only drops its result; the child still completes the fetch.
        """
        if self._failure is not None:
            raise RuntimeError(self._failure)
        if self._closed:
            raise RuntimeError("the FetchProcess is closed")
        if self._reader is None or self._loop is None:
            raise RuntimeError("FetchProcess.start() has not been called")
        rid = next(self._ids)
        fut = self._loop.create_future()
        self._pending[rid] = fut
        self._outgoing.append((rid, origin))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._send_requests)
        try:
            error, files, docs = await fut
        finally:
            self._pending.pop(rid, None)
        if error is not None:
            raise self._remote_exception(origin, error)
        return files, docs

    def _send_requests(self) -> None:
        """Send every request made since the last send as one frame (call_soon callback)."""
        self._flush_scheduled = False
        batch = [item for item in self._outgoing if item[0] in self._pending]
        self._outgoing = []
        if not batch or self._failure is not None or self._closed:
            return
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            frame = _frame(("fetch", batch))
        except Exception as exc:  # an unpicklable origin: fail those requests only
            for rid, _origin in batch:
                fut = self._pending.get(rid)
                if fut is not None and not fut.done():
                    fut.set_exception(TypeError(f"origin cannot be sent to the child: {exc}"))
            return
        try:
            proc.stdin.write(frame)
        except Exception as exc:  # the pipe is gone: the reader reports the child's end
            self._fail(f"could not write to the tdmscan fetch child: {exc!r}")

    def _remote_exception(self, origin: Any, error: tuple[Any, ...]) -> BaseException:
        blob, type_name, message, tb = error
        exc: BaseException | None = None
        if blob is not None:
            with contextlib.suppress(Exception):
                exc = pickle.loads(blob)
        if not isinstance(exc, BaseException):
            exc = RuntimeError(f"{type_name}: {message}")
        exc.__cause__ = _RemoteTraceback(tb)
        pid = self.pid
        exc.add_note(f"raised in the tdmscan fetch child (pid {pid}) for origin {origin!r}")
        return exc

    # ------------------------------------------------------------------ child output

    async def _read_loop(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        reason: str
        grace = 2.0  # a child that closed its output is exiting: let it report its status
        try:
            while True:
                msg = await _read_frame(proc.stdout)
                if msg is None:
                    reason = "closed its output"
                    break
                self._frames += 1
                kind = msg[0]
                if kind == "results":
                    _kind, self._requests, self._stats, items = msg
                    pending = self._pending
                    for rid, error, files, docs in items:
                        fut = pending.get(rid)
                        if fut is not None and not fut.done():
                            fut.set_result((error, files, docs))
                elif kind == "alive":
                    _kind, self._requests, self._stats = msg
                elif kind == "fatal":
                    reason = f"reported a fatal error: {msg[1] if len(msg) > 1 else '?'}"
                    break
                else:
                    raise ProtocolError(f"unexpected message {kind!r}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # ProtocolError, or a malformed message
            reason = f"broke the protocol: {type(exc).__name__}: {exc}"
            if not getattr(exc, "eof", False):
                grace = 0.0  # still writing garbage: nothing it says can be trusted
        if self._closed:
            return
        if self._stalled is not None:
            reason = self._stalled
        # Mark the child unusable at once; the exit status follows in the final message.
        self._failure = f"the tdmscan fetch child (pid {proc.pid}) {reason}"
        code = await self._reap(grace)
        self._fail(f"{self._failure} ({_describe_exit(code)})")

    def _fail(self, message: str) -> None:
        self._failure = message
        self._fail_pending(message)

    def _fail_pending(self, message: str) -> None:
        n = len(self._pending)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(RuntimeError(f"{message}; {n} request(s) were pending"))
        self._pending.clear()
        self._outgoing = []

    async def _watch(self) -> None:
        """Kill a child that sends nothing for ``stall_timeout`` s while requests are pending.

        Counted in quiet ticks rather than by the clock, so a parent event loop that was busy
        (and had not read frames waiting in the pipe) is never mistaken for a stalled child.
        """
        assert self.stall_timeout is not None
        tick = self.stall_timeout / 4
        quiet, seen = 0, self._frames
        while not self._closed and self._failure is None:
            await asyncio.sleep(tick)
            if self._frames != seen or not self._pending:
                quiet, seen = 0, self._frames
                continue
            quiet += 1
            if quiet >= 4:
                proc = self._proc
                assert proc is not None
                self._stalled = (
                    f"sent nothing for {self.stall_timeout:g} s with "
                    f"{len(self._pending)} request(s) pending and was killed"
                )
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                return


# ---------------------------------------------------------------------------------- child


def _error_payload(exc: BaseException) -> tuple[bytes | None, str, str, str]:
    """An exception as (pickle if it round-trips, type name, message, traceback text)."""
    blob: bytes | None
    try:
        blob = pickle.dumps(exc, protocol=5)
        pickle.loads(blob)
    except Exception:
        blob = None
    tb = "".join(traceback.format_exception(exc))
    return blob, type(exc).__qualname__, str(exc), tb


def _body_bytes(files: SiteFiles | None, docs: dict[str, Fetched] | None) -> int:
    n = 0
    if files is not None:
        for f in (files.robots, files.tdmrep, files.ai_txt):
            if f is not None:
                n += len(f.body)
    for f in (docs or {}).values():
        n += len(f.body)
    return n


class _Child:
    """The child's loop: queue requests, fetch with ``concurrency`` workers, flush results."""

    def __init__(self, scanner: Any, writer: asyncio.StreamWriter, config: dict[str, Any]):
        self.scanner = scanner
        self.writer = writer
        self.concurrency = int(config.get("concurrency", 200))
        self.heartbeat = float(config.get("heartbeat", 10.0))
        self.queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
        self.outbox: list[tuple[int, Any, Any, Any]] = []
        self.wake = asyncio.Event()

    async def worker(self) -> None:
        scanner = self.scanner
        while True:
            rid, origin = await self.queue.get()
            try:
                # The parent parses; here robots.txt is parsed only to find RSL documents.
                files, docs = await scanner.site_files(origin)
                item = (rid, None, files, docs)
            except Exception as exc:
                item = (rid, _error_payload(exc), None, None)
            self.outbox.append(item)
            self.wake.set()

    def _frames(self, items: list[tuple[int, Any, Any, Any]]) -> Iterator[bytes]:
        stats = self.scanner.stats
        head = ("results", stats.requests, stats.to_dict())
        chunk: list[tuple[int, Any, Any, Any]] = []
        size = 0
        for item in items:
            chunk.append(item)
            size += _body_bytes(item[2], item[3])
            if size >= FRAME_BODY_BYTES:
                yield self._encode((*head, chunk))
                chunk, size = [], 0
        if chunk:
            yield self._encode((*head, chunk))

    @staticmethod
    def _encode(msg: tuple[Any, ...]) -> bytes:
        try:
            return _frame(msg)
        except Exception:
            # Never lose a result silently: whatever does not pickle becomes an error for its
            # own request.
            *head, items = msg
            fixed = []
            for item in items:
                try:
                    dumps(item)
                    fixed.append(item)
                except Exception as exc:
                    fixed.append((item[0], _error_payload(exc), None, None))
            return _frame((*head, fixed))

    async def flusher(self) -> None:
        writer = self.writer
        last = time.monotonic()
        while True:
            if not self.outbox:
                try:
                    async with asyncio.timeout(max(0.0, last + self.heartbeat - time.monotonic())):
                        await self.wake.wait()
                except TimeoutError:
                    pass
            self.wake.clear()
            items, self.outbox = self.outbox, []
            if items:
                for frame in self._frames(items):
                    writer.write(frame)
            elif time.monotonic() - last >= self.heartbeat:
                stats = self.scanner.stats
                writer.write(_frame(("alive", stats.requests, stats.to_dict())))
            else:
                continue
            await writer.drain()
            last = time.monotonic()

    async def reader(self, reader: asyncio.StreamReader) -> None:
        while True:
            msg = await _read_frame(reader)
            if msg is None:
                return  # end of file: the parent is done (or gone)
            if msg[0] != "fetch":
                raise ProtocolError(f"unexpected message {msg[0]!r}")
            for request in msg[1]:
                self.queue.put_nowait(request)


def _claim_stdio() -> tuple[int, int]:
    """Private copies of stdin/stdout for the protocol; fd 0 becomes /dev/null, fd 1 stderr."""
    fd_in, fd_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return fd_in, fd_out


async def _child_main(fd_in: int, fd_out: int) -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_PIPE_LIMIT)
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd_in, "rb", buffering=0)
    )
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(fd_out, "wb", buffering=0)
    )
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    try:
        return await _serve(reader, writer)
    finally:
        read_transport.close()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> int:
    try:
        msg = await _read_frame(reader)
    except ProtocolError as exc:
        print(f"tdmscan.audit.fetch_process: {exc}", file=sys.stderr)
        return 2
    if msg is None:
        return 0
    try:
        if msg[0] != "config" or not isinstance(msg[1], dict):
            raise ProtocolError(f"expected a config message, got {msg[0]!r}")
        config = msg[1]
        from ..scanner import Scanner

        scanner = Scanner(**config["scanner"])
    except Exception as exc:
        writer.write(_frame(("fatal", f"{type(exc).__name__}: {exc}")))
        with contextlib.suppress(Exception):
            await writer.drain()
        return 2

    child = _Child(scanner, writer, config)
    try:
        writer.write(
            _frame(
                (
                    "ready",
                    {"pid": os.getpid(), "agents": scanner.agents, "protocol": PROTOCOL_VERSION},
                )
            )
        )
        await writer.drain()
        tasks = [
            asyncio.create_task(child.reader(reader)),
            asyncio.create_task(child.flusher()),
            *(asyncio.create_task(child.worker()) for _ in range(child.concurrency)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        status = 0
        for task in done:
            exc = task.exception() if not task.cancelled() else None
            if exc is not None:
                if isinstance(exc, ConnectionError | BrokenPipeError):
                    status = max(status, 1)  # the parent went away while we wrote
                else:
                    print("tdmscan.audit.fetch_process: fatal error", file=sys.stderr)
                    traceback.print_exception(exc, file=sys.stderr)
                    status = 1
            elif task is not tasks[0]:
                status = 1  # only the reader ends normally (end of file)
        return status
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5.0):
                await scanner.aclose()


def main() -> int:
    """Entry point of ``python -m tdmscan.audit.fetch_process``: serve one parent over stdio."""
    # The parent owns Ctrl-C: it shuts the child down through its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.stdin is not None and sys.stdin.isatty():
        print(
            "tdmscan.audit.fetch_process is started by tdmscan.audit.fetch_process.FetchProcess; "
            "it speaks a binary protocol on stdin/stdout.",
            file=sys.stderr,
        )
        return 2
    fd_in, fd_out = _claim_stdio()
    from .._gc import bulk_gc

    try:
        with bulk_gc():
            return asyncio.run(_child_main(fd_in, fd_out))
    except (BrokenPipeError, ConnectionError):
        return 1


if __name__ == "__main__":
    # Run the importable module rather than this ``__main__`` copy: the pickles name their
    # rebuild functions by module, and the parent knows them as ``tdmscan.audit.fetch_process``.
    from tdmscan.audit.fetch_process import main as _main

    sys.exit(_main())
