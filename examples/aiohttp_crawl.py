"""aiohttp: the same pattern as httpx_crawl.py with an aiohttp session.

python examples/aiohttp_crawl.py https://example.com/a https://example.com/b
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp

from tdmscan import Scanner

AGENT = "MyBot"


async def fetch_and_check(
    scanner: Scanner, session: aiohttp.ClientSession, url: str
) -> tuple[str, bytes | None]:
    d = await scanner.check(url)  # origin signals, cached per origin
    if not scanner.ingest(d):
        return f"{d.verdict} before fetch ({', '.join(d.reasons)})", None
    async with session.get(url) as resp:
        body = await resp.read()
        headers = [(k, v) for k, v in resp.headers.items()]  # repeated fields stay apart
        page = await scanner.check_response(str(resp.url), resp.status, headers, body)
    if not scanner.ingest(page):
        return f"{page.verdict} after fetch ({', '.join(page.reasons)})", None
    return "allowed", body


async def crawl(urls: list[str]) -> dict[str, bytes]:
    kept: dict[str, bytes] = {}
    # trust_env: honour HTTP_PROXY like the Scanner does.
    async with (
        Scanner(agents=[AGENT]) as scanner,
        aiohttp.ClientSession(trust_env=True, headers={"User-Agent": f"{AGENT}/1.0"}) as session,
    ):
        results = await asyncio.gather(*(fetch_and_check(scanner, session, u) for u in urls))
    for url, (status, body) in zip(urls, results, strict=True):
        print(f"{status:<40} {url}")
        if body is not None:
            kept[url] = body
    return kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("urls", nargs="+")
    asyncio.run(crawl(ap.parse_args().urls))


if __name__ == "__main__":
    main()
