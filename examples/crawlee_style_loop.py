"""A crawlee-style crawl loop: a request queue, workers, link discovery, and tdmscan in front.

    python examples/crawlee_style_loop.py https://example.com/ --max-pages 50

Every URL discovered goes through ``scanner.check`` before it is fetched (one robots.txt
fetch per origin, shared by all workers), and every fetched page through ``check_response``
before it is handed to the processing step. With crawlee itself, put the same two calls in a
``pre_navigation_hook`` (skip the request when ``not scanner.ingest(d)``) and at the top of the
request handler.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from urllib.parse import urldefrag, urljoin

import httpx

from tdmscan import Scanner

AGENT = "MyBot"
_HREF = re.compile(rb'href="([^"#]+)"')


async def crawl(seeds: list[str], max_pages: int = 100, workers: int = 8) -> dict[str, str]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    seen: set[str] = set(seeds)
    outcome: dict[str, str] = {}
    for s in seeds:
        queue.put_nowait(s)

    async with (
        Scanner(agents=[AGENT]) as scanner,
        httpx.AsyncClient(
            follow_redirects=True, timeout=30, headers={"User-Agent": f"{AGENT}/1.0"}
        ) as client,
    ):

        async def worker() -> None:
            while True:
                url = await queue.get()
                try:
                    d = await scanner.check(url)
                    if not scanner.ingest(d):
                        outcome[url] = f"skipped: {d.verdict} {' '.join(d.reasons)}"
                        continue
                    resp = await client.get(url)
                    page = await scanner.check_response(
                        str(resp.url), resp.status_code, resp.headers.multi_items(), resp.content
                    )
                    if not scanner.ingest(page):
                        outcome[url] = f"dropped: {page.verdict} {' '.join(page.reasons)}"
                        continue
                    outcome[url] = "kept"
                    # Links of a kept page only; a reserved page's links are still crawlable
                    # in principle, but following them is a policy choice left to you.
                    for href in _HREF.findall(resp.content):
                        link = urldefrag(urljoin(str(resp.url), href.decode("utf-8", "replace")))[0]
                        fresh = link.startswith(("http://", "https://")) and link not in seen
                        if fresh and len(seen) < max_pages:
                            seen.add(link)
                            queue.put_nowait(link)
                except httpx.HTTPError as exc:
                    outcome[url] = f"error: {type(exc).__name__}"
                finally:
                    queue.task_done()

        tasks = [asyncio.create_task(worker()) for _ in range(workers)]
        await queue.join()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        print(f"scanner stats: {scanner.stats.to_dict()}")
    return outcome


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("seeds", nargs="+")
    ap.add_argument("--max-pages", type=int, default=100)
    args = ap.parse_args()
    for url, what in sorted(asyncio.run(crawl(args.seeds, args.max_pages)).items()):
        print(f"{what:<50} {url}")


if __name__ == "__main__":
    main()
