"""The README's "Library" example, runnable as written (tests/test_readme_example.py keeps the
README's code block and this file the same, and runs it against the fake web).

    python examples/readme_library.py [URL...]     # default: https://example.com/a and /b
"""

import asyncio
import sys

import tdmscan

# Pure and offline: the whole decision from raw inputs.
d = tdmscan.evaluate(
    "https://example.com/news/a.html",
    agent="GPTBot",
    robots_txt=b"User-agent: GPTBot\nDisallow: /\n",       # bytes | tdmscan.Fetched | None
    tdmrep_json=None,                                      # bytes | Fetched | None
    ai_txt=None,                                           # bytes | Fetched | None
    response=tdmscan.Fetched(status=200, headers=[("X-Robots-Tag", "noai")], body=b"<html>..."),
    purpose="train-ai",                                    # train-ai | ai-input | search | tdm
    mode="conservative",                                   # or "strict"
)
print(d.verdict)     # "reserved"
print(d.reasons)     # ("robots:disallow", "header:noai")
print(d.evidence[0].locator)  # each with protocol, locator, raw value, sha256, decisive
print(d.robots.branch)        # RobotsOutcome: parsed / 4xx-allow / unreachable / stale-copy ...
print(d.ingest)      # False


# Async, with a per-origin cache: robots.txt, tdmrep.json and ai.txt fetched once per origin.
async def main(urls: list[str]) -> None:
    async with tdmscan.Scanner(agents=["MyBot"]) as scanner:
        d = await scanner.check(urls[0])                       # own token
        ds = await scanner.check_all(urls[0])                  # own token + training agents
        print(d.verdict, len(ds))
        # A page your crawler fetched: what the page itself says is read too.
        d = await scanner.check_response(urls[0], 200, [("X-Robots-Tag", "noai")], b"<html>")
        print(d.verdict, d.reasons)                            # reserved (..., 'header:noai')
        # Only what may be ingested, in completion order (not input order).
        async for url, d in scanner.filter(urls):
            print("ingest", url)


asyncio.run(main(sys.argv[1:] or ["https://example.com/a", "https://example.com/b"]))
