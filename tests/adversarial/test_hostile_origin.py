"""A hostile origin cannot stall the scanner or flip another origin's verdict.

Large documents are parsed off the event loop within a budget; over budget the origin (or the
page) is ``unknown`` with ``parse:budget-exceeded``, and checks of other origins carry on.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from tdmscan import Scanner
from tdmscan.fakeweb import Resp, Site
from tdmscan.fetch import FetchLimits

pytestmark = pytest.mark.anyio

#: ~1 MiB of wildcard rules: the largest robots.txt the fetcher keeps.
HOSTILE_ROBOTS = "User-agent: *\n" + "".join(
    f"Disallow: /{'*a' * 12}{i}b\nAllow: /{'x/' * 20}{i}\n" for i in range(9000)
)
HOSTILE_PAGE = (
    "<html><head>" + "<meta name=x content=y>" * 6000 + "<a" + "a" * 200_000 + "</head>"
)
BENIGN = {
    "open.test": ("User-agent: *\nAllow: /\n", "allowed"),
    "closed.test": ("User-agent: *\nDisallow: /\n", "reserved"),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def web(fakeweb: Any, fakeweb_env: Any) -> Any:
    sites = [
        Site(host, {"/robots.txt": Resp(body=robots)}) for host, (robots, _) in BENIGN.items()
    ]
    sites += [
        Site(
            f"hostile{i}.test",
            {"/robots.txt": Resp(body=HOSTILE_ROBOTS)},
            default=Resp(body=HOSTILE_PAGE, content_type="text/html"),
        )
        for i in range(8)
    ]
    sites.append(
        Site(
            "bigpage.test",
            {"/robots.txt": Resp(body="User-agent: *\nAllow: /\n")},
            default=Resp(body=HOSTILE_PAGE, content_type="text/html"),
        )
    )
    fw = fakeweb(sites)
    fakeweb_env(fw)
    return fw


async def test_over_budget_origin_is_unknown_and_says_why(web: Any) -> None:
    async with Scanner(["MyBot"], parse_budget=1e-4) as s:
        d = await s.check("http://hostile0.test/page")
        assert d.verdict == "unknown" and "parse:budget-exceeded" in d.reasons, d
        assert s.stats.parse_budget_exceeded >= 1
        # Small documents never go through the pool: other origins are judged as usual.
        for host, (_, verdict) in BENIGN.items():
            assert (await s.check(f"http://{host}/x")).verdict == verdict


async def test_over_budget_page_is_unknown(web: Any) -> None:
    async with Scanner(["MyBot"], parse_budget=1e-4) as s:
        d = await s.check("http://bigpage.test/article", deep=True)
    assert d.verdict == "unknown" and "parse:budget-exceeded" in d.reasons, d


async def test_within_budget_large_documents_are_parsed(web: Any) -> None:
    async with Scanner(["MyBot"]) as s:
        d = await s.check("http://hostile0.test/" + "x/" * 20 + "5")
        assert d.verdict == "allowed" and s.stats.parse_budget_exceeded == 0, d
        d = await s.check("http://bigpage.test/article", deep=True)
        assert d.verdict == "allowed", d


async def _benign_latencies(s: Scanner, rounds: int) -> tuple[list[float], set[tuple[str, str]]]:
    lat: list[float] = []
    got: set[tuple[str, str]] = set()
    for r in range(rounds):
        for host in BENIGN:
            t = time.perf_counter()
            d = await s.check(f"http://{host}/p{r}")
            lat.append(time.perf_counter() - t)
            got.add((host, d.verdict))
        await anyio.sleep(0.01)
    return lat, got


async def test_hostile_origins_do_not_flip_or_stall_other_checks(web: Any) -> None:
    """Eight origins with 1 MiB robots.txt files and 0.5 MiB pages checked (deep) at the same
    time as two benign origins: the benign verdicts stay right, with a 3 s deadline, and no
    benign check waits much longer than it does alone."""
    limits = FetchLimits(total_timeout=3.0)
    expected = {(h, v) for h, (_, v) in BENIGN.items()}
    # ttl=0: every benign check fetches again, so each one crosses the event loop.
    async with Scanner(["MyBot"], limits=limits, ttl=0, retry_ttl=0) as s:
        alone, got = await _benign_latencies(s, 10)
    assert got == expected

    async with Scanner(["MyBot"], limits=limits, ttl=0, retry_ttl=0) as s:
        hostile: list[Any] = []

        async def attack(i: int) -> None:
            hostile.append(await s.check(f"http://hostile{i}.test/{'x/' * 20}1", deep=True))

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(attack, i)
            together, got = await _benign_latencies(s, 10)
    assert got == expected
    assert len(hostile) == 8
    # Bounded, not timed: the slowest benign check under attack is within two seconds of the
    # slowest alone (parsing on the loop stalled them 5-8 s; the pool's threads still share
    # the interpreter lock and two busy cores, hence the margin).
    assert max(together) < max(alone) + 2.0, (max(alone), sorted(together)[-5:])
