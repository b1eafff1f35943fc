"""``tdmscan report crawlers``: the public crawler disclosure page and its Atom change feed.

Code of Practice, copyright chapter, Measure 1.3(4): make public the crawlers used, their
robots.txt features and the other measures honoured, and let rights holders be notified of
changes automatically (e.g. a syndicated web feed). Both artefacts are generated from the run
records, so what is published is what was actually run.
"""

from __future__ import annotations

import datetime as _dt
import uuid
import xml.etree.ElementTree as ET
from typing import Any

from ..ledger import Ledger
from .common import (
    COUNTING_RULE,
    PROTOCOLS,
    Scope,
    finish,
    new_report,
    page_coverage_text,
    protocol_catalogue_sql,
    sources_section,
    start,
)
from .model import Report, Section

ATOM_NS = "http://www.w3.org/2005/Atom"
#: Namespace for the feed's and entries' stable urn:uuid ids (uuid5 of the ledger identity).
_ID_NS = uuid.UUID("6f1c9a52-5d0e-4f0e-9a51-7d2b8f3c4e10")


def build_crawlers(
    ledger: Ledger, *, provider: str | None = None, contact: str | None = None
) -> Report:
    rep = new_report(
        "crawlers",
        "Crawlers we use and the reservations they honour",
        ledger,
        {"provider": provider, "contact": contact},
    )
    q = start(ledger, Scope().variables())
    q.setup("protocol_catalogue", protocol_catalogue_sql())
    crawlers = q.table(
        "crawlers",
        "Crawler configurations (User-Agent, tokens, purpose, period of use)",
        # One block per configuration: a list of dozens of tokens never makes the page scroll.
        records_layout=True,
    )
    coverage = q.table("scope_page_coverage", "Page-level signals read (all runs)", kv=True)
    protocols = q.table("evidence_protocols_catalogue", "Protocols honoured")
    intro = (
        f"{provider} uses the crawlers below" if provider else "The crawlers below are used"
    ) + (
        " to collect and check web content for training AI models. Before any page is used, "
        "each crawler reads robots.txt and follows it under RFC 9309 for its own product "
        "token, and honours the other machine-readable reservations listed further down. "
        "A disallow aimed at any well-known AI-training product token evaluated alongside is "
        "treated as a reservation. If robots.txt cannot be retrieved because of a server error, "
        "the site is treated as fully disallowed."
    )
    sections = [
        Section(
            "crawlers",
            "Crawlers",
            serves="Code of Practice, Measure 1.3(4); Template, section 2.3(i) to (iii)",
            paragraphs=[intro],
            tables=[crawlers],
        ),
        Section(
            "protocols",
            "Reservations honoured",
            serves="Code of Practice, Measures 1.3(1) and 1.3(2)",
            paragraphs=[
                "robots.txt (RFC 9309) is mandatory. Page-level signals are read only by "
                "configurations marked page_signals_checked.",
                page_coverage_text(coverage.one(), "no configuration checked pages"),
                COUNTING_RULE,
            ],
            tables=[protocols, coverage],
        ),
    ]
    if contact:
        sections.append(
            Section(
                "contact",
                "Contact",
                serves="Code of Practice, Measure 1.5",
                paragraphs=[f"Questions and complaints from rights holders: {contact}"],
            )
        )
    sections.append(
        Section(
            "feed",
            "Change notifications",
            serves="Code of Practice, Measure 1.3(4)",
            paragraphs=[
                "Changes to these crawlers (a new User-Agent, token list, purpose or set of "
                "signals) are published in an Atom feed; subscribe to be notified."
            ],
        )
    )
    sections.append(sources_section())
    rep.sections = sections
    rep.csv_table = "crawlers"
    rep.public = True
    return finish(rep, q)


def _iso(ts: _dt.datetime | None) -> str:
    ts = ts or _dt.datetime.now(_dt.UTC)
    return ts.astimezone(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def atom_feed(
    report: Report,
    ledger: Ledger,
    *,
    feed_url: str | None = None,
    page_url: str | None = None,
) -> bytes:
    """An Atom 1.0 feed (RFC 4287) with one entry per crawler configuration, newest first.

    Ids are stable across regenerations: ``feed_url`` when given, else a urn:uuid derived from
    the ledger's first chain entry; each entry's id derives from its configuration id.
    """
    entries, _ = ledger.chain.read()
    identity = entries[0]["entry_hash"] if entries else ledger.root
    feed_id = feed_url or f"urn:uuid:{uuid.uuid5(_ID_NS, 'feed:' + identity)}"
    rows = report.table("crawlers").records()
    protocols = [r for r in report.table("evidence_protocols_catalogue").records()]
    ET.register_namespace("", ATOM_NS)

    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            e.text = text
        return e

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    provider = report.parameters.get("provider")
    el(feed, "id", feed_id)
    el(feed, "title", f"{provider + ': ' if provider else ''}crawler disclosure changes")
    updated = max((r["first_used"] for r in rows if r["first_used"]), default=None)
    el(feed, "updated", _iso(updated or report.generated_at))
    author = el(feed, "author")
    el(author, "name", provider or "tdmscan")
    el(feed, "generator", "tdmscan", version=report.tool_version)
    if feed_url:
        el(feed, "link", rel="self", href=feed_url)
    if page_url:
        el(feed, "link", rel="alternate", href=page_url, type="text/html")
    for r in sorted(
        rows, key=lambda r: (r["first_used"] or _dt.datetime.min, r["config_id"]), reverse=True
    ):
        entry = el(feed, "entry")
        el(entry, "id", f"urn:uuid:{uuid.uuid5(_ID_NS, 'crawler:' + r['config_id'])}")
        el(
            entry,
            "title",
            f"Crawler {r['own_token']}: configuration in use from {_iso(r['first_used'])[:10]}",
        )
        el(entry, "updated", _iso(r["first_used"]))
        el(entry, "published", _iso(r["first_used"]))
        if page_url:
            el(entry, "link", rel="alternate", href=page_url, type="text/html")
        el(entry, "content", _entry_text(r, protocols), type="text")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _entry_text(r: dict[str, Any], protocols: list[dict[str, Any]]) -> str:
    deep = bool(r["page_signals_checked"])
    honoured = [
        f"{p['name']} ({p['spec_version']})"
        for p in protocols
        if p["protocol"] != "licence" and (deep or not str(p["checked_in"]).startswith("page"))
    ]
    tokens = r["tokens"] or []
    return (
        f"User-Agent: {r['user_agent'] or '(tool default, not recorded)'}\n"
        f"Product token: {r['own_token']}\n"
        f"Tokens evaluated: {len(tokens)} ({', '.join(tokens)})\n"
        f"Purpose: {r['purpose']}; mode: {r['mode']}\n"
        f"In use: {_iso(r['first_used'])} to {_iso(r['last_used'])} ({r['runs']} runs)\n"
        f"Reservations honoured: {'; '.join(honoured)}\n"
    )


__all__ = ["PROTOCOLS", "atom_feed", "build_crawlers"]
