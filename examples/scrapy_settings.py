"""Scrapy: add these to your project's settings.py (or a spider's ``custom_settings``).

pip install "tdmscan[scrapy]"
scrapy crawl myspider -s TDMSCAN_LEDGER=ledger/
"""

# Scrapy's default since 2.7; the middleware needs asyncio and refuses to run without it.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

DOWNLOADER_MIDDLEWARES = {
    # After OffsiteMiddleware (50) and RobotsTxtMiddleware (100), before any download.
    "tdmscan.integrations.scrapy.TdmscanMiddleware": 120,
}

# tdmscan replaces Scrapy's robots.txt handling (with RFC 9309 failure semantics). Keep
# ROBOTSTXT_OBEY = True only if you also want Scrapy's own check; each robots.txt is then
# fetched twice (once by Scrapy, once by tdmscan).
ROBOTSTXT_OBEY = False

TDMSCAN_AGENTS = ["MyBot"]  # your crawler's product token first
TDMSCAN_LEDGER = "ledger/"  # every decision with its evidence (optional)
TDMSCAN_MODE = "conservative"
TDMSCAN_PURPOSE = "train-ai"
TDMSCAN_STRICT_ANY = False  # True: drop unless every AI-training agent is allowed too
USER_AGENT = "MyBot/1.0 (+https://example.com/bot)"
