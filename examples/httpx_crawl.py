"""Plain httpx: check each URL before fetching it, then check the page you fetched.

    python examples/httpx_crawl.py https://example.com/a https://example.com/b --ledger ledger/

The Scanner fetches robots.txt, tdmrep.json and ai.txt once per origin with its own client;
your client downloads only pages that are allowed, and ``check_response`` adds what the page
itself says (X-Robots-Tag, <meta name="robots" content="noai">, tdm-reservation ...).
"""

from __future__ import annotations

import argparse
import asyncio

import httpx

from tdmscan import Scanner

AGENT = "MyBot"


async def crawl(urls: list[str], ledger: str | None = None) -> dict[str, bytes]:
    kept: dict[str, bytes] = {}
    headers = {"User-Agent": f"{AGENT}/1.0 (+https://example.com/bot)"}
    async with (
        Scanner(agents=[AGENT], ledger=ledger) as scanner,
        httpx.AsyncClient(headers=headers, follow_redirects=True, timeout=30) as client,
    ):
        # filter() yields only URLs whose origin signals allow them, as they complete.
        async for url, _decision in scanner.filter(urls):
            resp = await client.get(url)
            d = await scanner.check_response(
                str(resp.url), resp.status_code, resp.headers.multi_items(), resp.content
            )
            if scanner.ingest(d):
                kept[url] = resp.content
            else:
                print(f"dropped after fetch: {url} {d.verdict} {', '.join(d.reasons)}")
    return kept


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("urls", nargs="+")
    ap.add_argument("--ledger")
    args = ap.parse_args()
    kept = asyncio.run(crawl(args.urls, args.ledger))
    print(f"{len(kept)} of {len(args.urls)} pages may be used for training")


if __name__ == "__main__":
    main()
