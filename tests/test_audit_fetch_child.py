"""``FetchProcess``: origin site files fetched by a child process, over the loopback fake web.

The child must return exactly what an in-process ``Scanner.site`` fetches, send one request
per origin file, and never leave the parent waiting: a child that dies, stalls, or writes
garbage fails every pending call with a RuntimeError, and a parent that dies takes the child
with it.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import anyio
import pytest

import tdmscan.types
from tdmscan.audit.fetch_process import FetchProcess, dumps
from tdmscan.fakeweb import Resp, Site, bench_generator, demo_sites
from tdmscan.fetch import FetchLimits
from tdmscan.scanner import Scanner
from tdmscan.types import Fetched, SiteFiles

pytestmark = pytest.mark.anyio

FAST = FetchLimits(total_timeout=0.3, connect_timeout=0.3)
SLOW = FetchLimits(total_timeout=30.0, connect_timeout=30.0)
FILE_FIELDS = ("status", "headers", "body", "sha256", "error", "url", "final_url", "redirects")
FILE_FIELDS += ("truncated", "stale")


@pytest.fixture
def anyio_backend():
    return "asyncio"


def fetch_process(limits: FetchLimits = FAST, **kw) -> FetchProcess:
    args = {
        "agents": ["MyBot"],
        "mode": "conservative",
        "purpose": "train-ai",
        "include_training_agents": True,
        "allow_private": False,
        "limits": limits,
    }
    args.update(kw)
    return FetchProcess(**args)


def view(f: Fetched | None) -> tuple | None:
    return None if f is None else tuple(getattr(f, name) for name in FILE_FIELDS)


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


async def wait_until(predicate, timeout: float = 5.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.01)


# ------------------------------------------------------------------------------ pickling


def test_site_files_pickle_round_trip_without_rehash(monkeypatch):
    now = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    robots = Fetched(
        status=200,
        headers=[("Content-Type", "text/plain"), ("X-A", "1"), ("x-a", "2")],
        body=b"User-agent: *\nDisallow: /\n",
        url="http://a.test/robots.txt",
        final_url="http://b.test/robots.txt",
        redirects=("http://b.test/robots.txt",),
        fetched_at=now,
        elapsed=0.25,
        truncated=True,
    )
    tdm = Fetched(error="timeout", url="http://a.test/.well-known/tdmrep.json")
    files = SiteFiles("http://a.test", robots, tdm, None, now)
    docs = {"http://a.test/l.xml": Fetched(status=200, body=b"<rsl/>")}

    def no_hashing(*_a):
        raise AssertionError("unpickling must not hash bodies again")

    blobs = [dumps((files, docs)), pickle.dumps((files, docs), protocol=5)]
    monkeypatch.setattr(tdmscan.types.hashlib, "sha256", no_hashing)
    for blob in blobs:
        back, back_docs = pickle.loads(blob)
        assert back == files and back_docs == docs
        for a, b in zip((robots, tdm), (back.robots, back.tdmrep), strict=True):
            assert view(a) == view(b) and a.sha256 == b.sha256
            assert a.fetched_at == b.fetched_at and a.elapsed == b.elapsed
        assert back.ai_txt is None and back.fetched_at == now
        assert back_docs["http://a.test/l.xml"].sha256 == docs["http://a.test/l.xml"].sha256
        with pytest.raises(AttributeError):
            back.robots.status = 500  # still frozen


# ------------------------------------------------------------------------------ results


async def test_matches_in_process_scanner(fakeweb, fakeweb_env):
    sites = demo_sites()
    fw = fakeweb(sites)
    fakeweb_env(fw)
    origins = [f"http://{s.host}" for s in sites]

    async def remote():
        async with fetch_process() as fp:
            assert fp.agents[0] == "MyBot" and len(fp.agents) > 1
            return await asyncio.gather(*(fp.site_files(o) for o in origins)), fp.requests

    async def local():
        async with Scanner(["MyBot"], limits=FAST) as scanner:
            signals = await asyncio.gather(*(scanner.site(o) for o in origins))
            return signals, scanner.stats.requests

    # At the same time, so the 0.3 s timeout of slow.example is waited for once.
    (got, remote_requests), (sites_local, local_requests) = await asyncio.gather(remote(), local())
    assert remote_requests == local_requests
    assert fw.total_hits() == remote_requests + local_requests

    rsl_seen = 0
    for origin, (files, docs), site in zip(origins, got, sites_local, strict=True):
        assert isinstance(files, SiteFiles) and files.origin == origin
        for name in ("robots", "tdmrep", "ai_txt"):
            ours, theirs = getattr(files, name), getattr(site.files, name)
            assert view(ours) == view(theirs), (origin, name)
            assert ours.sha256 == theirs.sha256  # compare=False: check it explicitly
        assert docs.keys() == site.rsl_documents.keys()
        for url, doc in docs.items():
            assert view(doc) == view(site.rsl_documents[url])
            rsl_seen += 1
    assert rsl_seen >= 1  # rsl.example's robots.txt has a License: line
    by_origin = dict(zip(origins, got, strict=True))
    assert by_origin["http://rsl.example"][1]["http://rsl.example/license.xml"].status == 200
    assert by_origin["http://slow.example"][0].robots.error == "timeout"


async def test_many_concurrent_calls_one_request_per_file(fakeweb, fakeweb_env):
    n = 1000
    gen = bench_generator(n)
    fw = fakeweb(generator=gen)
    fakeweb_env(fw)
    origins = [f"http://{gen.host(i)}" for i in range(n)]
    async with fetch_process(SLOW, concurrency=200) as fp:
        with anyio.fail_after(30):
            got = await asyncio.gather(*(fp.site_files(o) for o in origins))
        assert fp.requests == 3 * n
        assert fp.stats["origins_fetched"] == n
    assert [files.origin for files, _docs in got] == origins
    assert all(files.robots.status is not None for files, _docs in got)
    for path in ("/robots.txt", "/.well-known/tdmrep.json", "/ai.txt"):
        assert fw.total_hits(path) == n, path
    assert fw.total_hits() == 3 * n
    assert all(fw.hits(gen.host(i)) == 1 for i in range(0, n, 97))


# ------------------------------------------------------------------------------ failures


async def test_exception_in_child_is_raised_for_that_call_only(fakeweb, fakeweb_env):
    fakeweb_env(fakeweb([Site("a.test", {"/robots.txt": Resp(body="User-agent: *\n")})]))
    async with fetch_process() as fp:
        os.kill(fp.pid, signal.SIGINT)  # the parent owns Ctrl-C: the child ignores it
        with pytest.raises(AttributeError, match="rstrip") as info:
            await fp.site_files(123)  # type: ignore[arg-type]  # Scanner.site raises for it
        assert "Traceback" in str(info.value.__cause__)
        assert any("fetch child" in note for note in info.value.__notes__)
        files, _docs = await fp.site_files("http://a.test")
        assert files.robots.status == 200 and fp.returncode is None


async def test_child_killed_fails_pending_and_later_calls(fakeweb, fakeweb_env):
    hosts = [f"h{i}.test" for i in range(5)]
    fw = fakeweb([Site(h, {"/robots.txt": Resp(hang=True)}) for h in hosts])
    fakeweb_env(fw)
    fp = fetch_process(SLOW)
    await fp.start()
    try:
        calls = [asyncio.create_task(fp.site_files(f"http://{h}")) for h in hosts]
        await wait_until(lambda: fw.total_hits() == len(hosts))
        os.kill(fp.pid, signal.SIGKILL)
        with anyio.fail_after(3):
            results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results), results
        assert "SIGKILL" in str(results[0]) and "pending" in str(results[0])
        with pytest.raises(RuntimeError, match="fetch child"):
            await fp.site_files("http://h0.test")
    finally:
        await fp.aclose()
    assert fp.returncode == -signal.SIGKILL


async def test_stalled_child_is_killed_and_calls_fail():
    fp = fetch_process(stall_timeout=0.2)
    await fp.start()
    try:
        os.kill(fp.pid, signal.SIGSTOP)
        call = asyncio.create_task(fp.site_files("http://a.test"))
        with anyio.fail_after(5):
            with pytest.raises(RuntimeError, match=r"sent nothing for 0\.2 s"):
                await call
    finally:
        await fp.aclose()
    assert fp.returncode == -signal.SIGKILL


async def test_idle_child_is_not_a_stalled_child(fakeweb, fakeweb_env):
    fakeweb_env(fakeweb([Site("a.test", {"/robots.txt": Resp(body="x", delay=0.5)})]))
    async with fetch_process(SLOW, stall_timeout=0.25) as fp:
        # Heartbeats keep a child whose fetch outlasts stall_timeout alive.
        files, _docs = await fp.site_files("http://a.test")
        assert files.robots.status == 200


async def test_close_with_pending_calls(fakeweb, fakeweb_env):
    fw = fakeweb([Site("hang.test", {"/robots.txt": Resp(hang=True)})])
    fakeweb_env(fw)
    fp = fetch_process(SLOW)
    await fp.start()
    pid = fp.pid
    call = asyncio.create_task(fp.site_files("http://hang.test"))
    await wait_until(lambda: fw.total_hits() == 1)
    with anyio.fail_after(5):
        await fp.aclose()
        with pytest.raises(RuntimeError, match="closed while the request was pending"):
            await call
    assert fp.returncode == 0 and gone(pid)  # exited on end of file, not killed
    with pytest.raises(RuntimeError, match="closed"):
        await fp.site_files("http://hang.test")
    await fp.aclose()  # idempotent


async def test_cancelled_call_does_not_break_the_reader(fakeweb, fakeweb_env):
    fw = fakeweb(
        [
            Site("slow.test", {"/robots.txt": Resp(body="User-agent: *\n", delay=0.2)}),
            Site("hang.test", {"/robots.txt": Resp(hang=True)}),
            Site("ok.test", {"/robots.txt": Resp(body="User-agent: *\n")}),
        ]
    )
    fakeweb_env(fw)
    async with fetch_process(SLOW) as fp:
        slow = asyncio.create_task(fp.site_files("http://slow.test"))
        hang = asyncio.create_task(fp.site_files("http://hang.test"))
        await wait_until(lambda: fw.hits("slow.test") == 1 and fw.hits("hang.test") == 1)
        slow.cancel()
        hang.cancel()
        # The slow origin's result (3 requests, plus hang.test's 1) now arrives for a call
        # nobody awaits any more.
        await wait_until(lambda: fp.requests == 4)
        assert fp.pending == 0
        files, _docs = await fp.site_files("http://ok.test")
        assert files.robots.status == 200
        files, _docs = await fp.site_files("http://slow.test")  # cached in the child
        assert files.robots.status == 200
        assert slow.cancelled() and hang.cancelled()


async def test_bad_config_fails_start():
    fp = fetch_process(agents=["  "])
    with pytest.raises(RuntimeError, match="agents must name"):
        await fp.start()
    assert fp.returncode is not None
    with pytest.raises(RuntimeError):
        await fp.site_files("http://a.test")
    await fp.aclose()


FAKE_CHILD = """
import os, struct, sys, time
from tdmscan.audit.fetch_process import _frame
inp = sys.stdin.buffer
n, = struct.unpack("!Q", inp.read(8)); inp.read(n)          # the config
os.write(1, _frame(("ready", {"agents": ("MyBot",)})))
n, = struct.unpack("!Q", inp.read(8)); inp.read(n)          # the first fetch
"""
GARBAGE = """
os.write(1, b"Hello from a stray print()\\n" * 4)
time.sleep(60)
"""
TRUNCATED = """
os.write(1, _frame(("results", 3, {}, [(0, None, None, {})]))[:-5])
sys.exit(3)
"""


@pytest.mark.parametrize(
    ("action", "message", "status"),
    [
        (GARBAGE, "broke the protocol.*not a frame.*killed by SIGKILL", -signal.SIGKILL),
        (TRUNCATED, "end of file inside a frame.*exit status 3", 3),
    ],
    ids=["garbage", "truncated"],
)
async def test_child_breaking_the_protocol_fails_calls(action, message, status):
    fp = fetch_process()
    fp.child_args = ("-c", FAKE_CHILD + action)
    await fp.start()
    try:
        with anyio.fail_after(5), pytest.raises(RuntimeError, match=message):
            await fp.site_files("http://a.test")
        with pytest.raises(RuntimeError, match="broke the protocol"):
            await fp.site_files("http://a.test")
        assert fp.returncode == status
    finally:
        await fp.aclose()


PARENT = """
import asyncio, sys
from tdmscan.fetch import FetchLimits
from tdmscan.audit.fetch_process import FetchProcess

async def main():
    fp = FetchProcess(agents=["MyBot"], mode="conservative", purpose="train-ai",
                      include_training_agents=False, allow_private=False, limits=FetchLimits())
    await fp.start()
    print(fp.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_child_exits_when_parent_is_killed():
    argv = [sys.executable, "-c", textwrap.dedent(PARENT)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE) as parent:
        try:
            child = int(parent.stdout.readline())
            assert not gone(child)
        finally:
            parent.kill()  # SIGKILL: no cleanup runs in the parent
    deadline = time.monotonic() + 5
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    if not gone(child):
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child outlived its SIGKILLed parent")
