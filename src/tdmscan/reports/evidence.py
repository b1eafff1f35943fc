"""``tdmscan report evidence``: the opt-out compliance evidence report."""

from __future__ import annotations

from typing import Any

from ..ledger import Ledger
from .common import (
    COUNTING_RULE,
    PROTOCOLS,
    Scope,
    finish,
    month,
    new_report,
    page_coverage_text,
    plural,
    protocol_catalogue_sql,
    sources_section,
    start,
)
from .model import Chart, Report, Section, Table

_VERDICT_COLOURS = (
    ("allowed", "#2e7d32"),
    ("reserved", "#c62828"),
    ("unknown", "#ef8f00"),
    ("invalid", "#757575"),
)


def build_evidence(
    ledger: Ledger,
    scope: Scope = Scope(),
    *,
    provider: str | None = None,
    sample_per_group: int = 2,
    verify: bool = False,
) -> Report:
    """Assemble the evidence report for ``scope``; ``verify`` also runs the full ledger check."""
    rep = new_report(
        "evidence",
        "Opt-out compliance evidence report",
        ledger,
        {**scope.parameters(), "provider": provider, "sample_per_group": sample_per_group},
    )
    q = start(ledger, {**scope.variables(), "sample_per_group": sample_per_group})
    q.setup("protocol_catalogue", protocol_catalogue_sql())

    summary = q.table("evidence_summary", "Key figures", kv=True)
    totals = q.table(
        "evidence_verdict_totals",
        "URLs by verdict",
        chart=Chart("verdict", "urls", colours=_VERDICT_COLOURS),
    )
    coverage = q.table("scope_page_coverage", "Page-level signals read", kv=True)
    key = summary.one()
    s0 = Section(
        "summary",
        "Summary",
        serves="Code of Practice, Measures 1.1, 1.3; Template, sections 2.3 and 3.1",
        paragraphs=[
            f"Scope: {scope.describe()}." + (f" Provider: {provider}." if provider else ""),
            _summary_sentence(key),
            page_coverage_text(coverage.one()),
            COUNTING_RULE,
            "Verdicts: allowed (every check ran and no reservation applies: may be ingested), "
            "reserved (a rights reservation or crawl disallow applies: excluded), unknown (a "
            "required check failed, e.g. robots.txt unreachable: not ingested, retry later), "
            "invalid (not an http(s) URL). Sections 1 to 13 give the detail; section 14 is "
            "draft wording for the public summary; the appendices hold the figures per "
            "product token, a sample of decisions with their evidence, and every query.",
        ],
        tables=[summary, totals],
        break_after=True,
    )

    period = q.table("evidence_period", "Scope: URLs, decisions and period", kv=True)
    runs = q.table(
        "evidence_runs",
        "Runs in scope, with their configuration and input",
        records_layout=True,
    )
    s1 = Section(
        "scope",
        "1. Scope and configuration",
        serves="Code of Practice, Measure 1.1 (implementation); Template, header and section "
        "1.3 (latest date of collection)",
        paragraphs=[
            "Each run records the tool version, the policy mode and purpose, and the SHA-256 of "
            "its configuration and of its input manifest, so every decision can be replayed "
            "with the same rules. The decision counts below count every decision recorded in "
            "scope (every run, mode and agent); the URL counts follow the counting rule of the "
            "summary.",
        ],
        tables=[period, runs, *_asof_tables(q)],
    )

    crawlers = q.table("evidence_crawlers", "Crawler configurations in scope", records_layout=True)
    s2 = Section(
        "crawlers",
        "2. Crawler identification",
        serves="Code of Practice, Measure 1.3(4); Template, section 2.3(i) and (ii)",
        paragraphs=[
            "The product token is the one robots.txt groups were matched against; the other "
            "tokens are the catalogue of well-known AI-training crawlers, evaluated alongside "
            "so that a site's reservation aimed at any of them is honoured (conservative mode). "
            "An empty User-Agent means the run used tdmscan's default User-Agent "
            "and did not record it.",
        ],
        tables=[crawlers],
    )

    protocols = q.table("evidence_protocols", "Protocols honoured, spec versions and legal tier")
    s3 = Section(
        "protocols",
        "3. Protocols honoured",
        serves="Code of Practice, Measure 1.3(1) and 1.3(2); Template, sections 2.3(iii) and 3.1",
        paragraphs=[
            "robots.txt under RFC 9309 is the mandatory protocol (Code of Practice, copyright "
            "chapter, Measure 1.3(1)). The others are machine-readable protocols honoured under "
            "Measure 1.3(2): any reservation found in any of them excludes the URL, and an "
            "explicit permission in one never cancels a reservation in another. Protocols read "
            "in the page are read only for URLs whose page was fetched (runs made with --deep).",
            page_coverage_text(coverage.one()),
        ],
        tables=[protocols, coverage],
    )

    reasons = q.table(
        "evidence_reasons",
        "Reasons behind the verdicts",
        chart=Chart("reason", "urls", max_bars=12),
    )
    s4 = Section(
        "outcomes",
        "4. Reasons behind the verdicts",
        serves="Code of Practice, Measure 1.3; Template, section 3.1",
        paragraphs=[
            "URLs per reason code, counted by the rule of the summary (a URL can carry several "
            "reasons, so these do not add up to the URLs checked). The same figures for every "
            "product token evaluated are in Appendix A.",
        ],
        tables=[reasons],
    )

    branches = q.table(
        "evidence_robots_branches",
        "RFC 9309 branch applied to the robots.txt behind each URL",
        chart=Chart("branch", "urls"),
    )
    s5 = Section(
        "robots",
        "5. robots.txt handling (RFC 9309)",
        serves="Code of Practice, Measure 1.3(1)",
        paragraphs=[
            "Each decision records which RFC 9309 rule applied to the robots.txt fetch it rests "
            "on. An unreachable robots.txt means complete disallow: such URLs get verdict unknown "
            "and are not ingested.",
        ],
        tables=[branches],
    )

    reserved = q.table(
        "evidence_reserved_domains", "Registrable domains with reserved URLs", max_rows=100
    )
    s6 = Section(
        "reserved-domains",
        "6. Domains with reservations",
        serves="Code of Practice, Measure 1.3; Template, section 3.1",
        tables=[reserved],
    )

    unknowns = q.table("evidence_unknowns", "Unknown and invalid URLs, and recorded errors")
    s7 = Section(
        "unknowns",
        "7. Unknowns and errors",
        serves="Code of Practice, Measure 1.3(1) (RFC 9309, section 2.3.1.4: unreachable "
        "robots.txt)",
        paragraphs=[
            "Every input row ends in the ledger: nothing is dropped silently. URLs listed here "
            "were not ingested: unknown means a required check could not be made, invalid "
            "means the input was not an http(s) URL.",
        ],
        tables=[unknowns],
    )

    q.setup("evidence_access")
    access = q.table("evidence_access_summary", "Pages fetched and access barriers met", kv=True)
    barriers = q.table(
        "evidence_access_barriers", "Access barriers met, and the decisions for those URLs"
    )
    n_pages = access.one().get("pages") or 0
    s8 = Section(
        "lawful-access",
        "8. Lawful access",
        serves="Code of Practice, Measure 1.2 (lawfully accessible content: no circumvention "
        "of paywalls, subscriptions or other technological measures)",
        paragraphs=[
            "tdmscan reads a page only in runs made with --deep, and then only its head. It sends "
            "no credentials, pays nothing and solves no CAPTCHA, so it cannot get round an access "
            "barrier; the table below lists the barriers it met (HTTP 401, 402, 403 and 451, and "
            "redirects to a login page). Each such page is decided not allowed with an access:* "
            "reason (access:auth-required, access:payment-required, access:forbidden, "
            "access:legal, access:login-required), as is a page whose schema.org markup says "
            "isAccessibleForFree: false (access:paywalled). CAPTCHAs and paywalls served inside "
            "an ordinary 200 page without that markup are not detected. A URL counted as allowed "
            "in the table was decided by a run made before these reasons existed, or by a later "
            "run that found no barrier.",
            (
                f"{n_pages:,} pages were fetched in scope."
                if n_pages
                else "No page was fetched in scope (no run used --deep): access barriers were "
                "not observed, and this section shows nothing about them."
            ),
        ],
        tables=[access, barriers],
    )

    s9 = _exclusions_section(q)
    s10 = _terms_section(q)
    s11 = _complaints_section(q)
    s11b = _not_recorded_section()

    chain = q.table("evidence_chain", "Hash chain of the ledger", kv=True)
    integrity = q.table("evidence_integrity", "Stored evidence integrity checks", kv=True)
    head = chain.one().get("chain_head") or ledger.head()
    s12 = Section(
        "integrity",
        "13. Integrity annex",
        serves="Code of Practice, Measure 1.5 (answering complaints from the record); AI Act, "
        "Article 101 (no incorrect or misleading information)",
        paragraphs=[
            "The ledger is append-only: every Parquet segment is written once and recorded in a "
            "SHA-256 hash chain (chain.jsonl). The chain head below commits to every segment "
            "ever written; publish it or have it timestamped (RFC 3161 / qualified eIDAS "
            "timestamp) to make later edits or back-dating detectable. To verify the ledger, "
            "and that it still extends the head printed in this report, run:",
        ],
        code=[
            f"tdmscan ledger verify --ledger {ledger.root} --head {head}",
        ],
        tables=[chain, integrity],
    )
    if verify:
        vr = ledger.verify(expected_head=head)
        s12.paragraphs.append(
            f"Verified when this report was generated: {'OK' if vr.ok else 'FAILED'} "
            f"({vr.segments} segments, {vr.snapshots_checked} snapshot bodies checked"
            + (f"; {len(vr.issues)} issues, first: {vr.issues[0]}" if vr.issues else "")
            + ")."
        )
    else:
        s12.paragraphs.append(
            "The full verification was not run for this report (add --verify to include it)."
        )

    s13 = Section(
        "draft",
        "14. Draft text for the public summary (Template, sections 2.3 and 3.1)",
        serves="Template, sections 2.3 and 3.1",
        draft=True,
    )

    by_agent = q.table("evidence_verdicts_by_agent", "URLs by verdict for every product token")
    a1 = Section(
        "per-token",
        "Appendix A. Verdicts per product token",
        serves="Code of Practice, Measure 1.3(1) and 1.3(2)",
        paragraphs=[
            "For each product token evaluated, every URL counted once with that token's latest "
            "decision in scope. Tokens with the same figures share a row. The crawler's own "
            "token is the one the summary counts; a reservation aimed at another token reserves "
            "the URL for the own token too in conservative mode.",
        ],
        tables=[by_agent],
        appendix=True,
    )
    sample = q.table(
        "evidence_sample",
        "Sample of decisions with the robots.txt line and hashes they rest on",
        records_layout=True,
        note="robots_line_in_snapshot is read back from the stored robots.txt bytes; "
        "robots_snapshot_verified compares their SHA-256 with the hash the decision recorded.",
    )
    a2 = Section(
        "sample",
        "Appendix B. Sample of decisions with their evidence",
        serves="Code of Practice, Measure 1.5 (per-URL lookups for complaints)",
        paragraphs=[
            f"Up to {sample_per_group} counted decisions per verdict, first reason and robots "
            "branch, chosen by the MD5 of the decision id (deterministic, not cherry-picked). "
            "Any decision can be looked up the same way in the evidence view: "
            "SELECT * FROM evidence WHERE url = '...'.",
        ],
        tables=[sample],
        appendix=True,
    )
    rep.sections = [
        *(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s11b, s12, s13),
        *(sources_section(), a1, a2),
    ]
    rep.number_tables()  # the draft cites tables by number
    s13.paragraphs = _draft_text(
        key, coverage.one(), crawlers, protocols, totals, reserved, branches
    )
    return finish(rep, q)


def _exclusions_section(q: Any) -> Section:
    from ..signals.exclusions import seed_list

    seed = seed_list()
    excluded = q.table(
        "evidence_exclusions",
        "URLs excluded as listed infringing websites, per list and listed domain",
        max_rows=200,
    )
    n = sum(r[excluded.columns.index("urls")] for r in excluded.rows) if excluded.rows else 0
    return Section(
        "infringing-sites",
        "9. Websites listed as infringing",
        serves="Code of Practice, Measure 1.2 (exclusion of websites recognised as persistently "
        "and repeatedly infringing); Template, section 3.2",
        paragraphs=[
            "A URL whose host is a listed domain, or one of its subdomains, is never ingested "
            "(reason access:listed-infringing, in every policy mode and for every purpose), and "
            "the scanner does not contact such a site at all. Each exclusion names the list and "
            "its version. tdmscan ships a seed list "
            f"({seed.name}, version {seed.version}, {len(seed)} domains, each with its source); "
            "the lists of EU/EEA courts and authorities that apply to a crawl are added as user "
            "lists (--exclude-list, CSV with domain, source and date per entry), whose version "
            "is the SHA-256 of the file used.",
            f"{n:,} URLs in scope were excluded this way."
            if n
            else "No URL in scope was on a list in force.",
        ],
        tables=[excluded],
    )


def _terms_section(q: Any) -> Section:
    summary = q.table("evidence_tos_summary", "Terms-of-use pages and clauses found", kv=True)
    clauses = q.table(
        "evidence_tos_clauses", "Clauses read as reservations (up to 100)", records_layout=True
    )
    looked = summary.one().get("origins_terms_looked_for") or 0
    return Section(
        "terms-of-use",
        "10. Reservations in terms of use (natural language)",
        serves="Code of Practice, Measure 1.3; Directive (EU) 2019/790, Article 4(3) and "
        "recital 18; Template, section 3.1",
        paragraphs=[
            "Runs made with --terms (on by default in tdmscan check) look for each site's terms "
            "of use (a home-page link reading terms, conditions, legal notice, AGB, CGU and their "
            "equivalents, else well-known paths), keep the page as a snapshot and read it for "
            "clauses that reserve text and data mining, AI training or data-set building "
            "(tos:tdm-reserved) or that prohibit scraping and automated access without naming "
            "them (tos:scraping-prohibited). The clause text and its SHA-256 are the evidence.",
            "These are declared reservations whose legal effect is disputed: the Regional Court "
            "of Hamburg (27 Sep 2024, 310 O 227/23) considered a reservation in a website's "
            "terms of use to be machine-readable; on appeal the Higher Regional Court of Hamburg "
            "(10 Dec 2025, 5 U 104/24) reportedly held such a clause not machine-readable, with "
            "a further appeal allowed. They are inferred reservations: decisive in conservative "
            "mode, recorded without deciding in strict mode. A scraping prohibition is a "
            "contract term rather than a copyright reservation.",
            "No terms page was looked for in scope (no run used --terms)."
            if not looked
            else f"Terms pages were looked for on {looked:,} sites in scope.",
        ],
        tables=[summary, clauses],
    )


def _complaints_section(q: Any) -> Section:
    summary = q.table("evidence_complaints", "Complaints received and response times", kv=True)
    outcomes = q.table("evidence_complaints_outcomes", "Complaints by status and outcome")
    n = summary.one().get("complaints_received") or 0
    return Section(
        "complaints",
        "11. Complaints",
        serves="Code of Practice, Measure 1.5 (point of contact and complaints)",
        paragraphs=[
            "Complaints from rightsholders are recorded in the ledger's complaints register "
            "(tdmscan complaints add / resolve), chained like every other record: when each was "
            "received, who complained, the domains and URLs concerned, the claim, and its "
            "outcome. Adding a complaint re-decides the URLs and domains it names in a re-check "
            "run linked to it; a complaint can exclude its domains from every later check until "
            "it is resolved (reason complaint:open).",
            f"{n:,} complaints were received in the period." if n
            else "No complaint is recorded in this ledger for the period.",
        ],
        tables=[summary, outcomes],
    )


def _not_recorded_section() -> Section:
    return Section(
        "not-recorded",
        "12. Not recorded by this ledger",
        serves="Code of Practice, Measures 1.2 and 1.5",
        paragraphs=[
            "Which EU/EEA lists of infringing websites apply to a crawl, and that every one of "
            "them was supplied, is a legal determination outside the ledger: it records the lists "
            "that were in force (section 9), not the ones that were not. [LEGAL: lists "
            "consulted and why they are complete.]",
            "Whether a reservation written in prose binds is a question of law (section 10); the "
            "ledger keeps the clause and what the policy did with it. [LEGAL: how such "
            "reservations are handled.]",
            "Paywalls and CAPTCHAs served inside an ordinary 200 page, and content reached "
            "without tdmscan (another crawler, a third-party data set without URLs) cannot be "
            "seen by it. Complaints that reach the provider by other channels are in the "
            "register only once someone records them. [LEGAL: point of contact.]",
        ],
    )


def _summary_sentence(k: dict[str, Any]) -> str:
    return (
        f"{plural(k.get('urls_checked') or 0, 'URL')} on "
        f"{plural(k.get('registrable_domains') or 0, 'registrable domain')} were checked "
        f"in {plural(k.get('runs') or 0, 'run')} (policy mode: {k.get('policy_modes') or '-'}): "
        f"{k.get('allowed') or 0:,} allowed, {k.get('reserved') or 0:,} reserved, "
        f"{k.get('unknown') or 0:,} unknown and {k.get('invalid') or 0:,} invalid."
    )


def _draft_text(
    key: dict[str, Any],
    cov: dict[str, Any],
    crawlers: Table,
    protocols: Table,
    totals: Table,
    reserved: Table,
    branches: Table,
) -> list[str]:
    """Draft wording whose every figure is a figure of the tables it cites, and whose claims
    about page-level signals never exceed what was checked."""
    crs = crawlers.records()
    tokens = sorted({r["own_token"] for r in crs if r["own_token"]})
    uas = sorted({r["user_agent"] for r in crs if r["user_agent"]})
    purposes = sorted({r["purpose"] for r in crs if r["purpose"]})
    modes = {r["mode"] for r in crs if r["mode"]}
    n_tokens = max((r["tokens_evaluated"] or 0 for r in crs), default=0)
    n_urls = cov.get("urls_checked") or 0
    paged = cov.get("urls_page_checked") or 0
    site_only = cov.get("urls_allowed_site_level_only") or 0
    site_level = [
        r["name"] + (f" ({r['spec_version']})" if r["spec_version"] else "")
        for r in protocols.records()
        if r["protocol"] not in ("robots", "licence") and str(r["checked_in"]).startswith("site")
    ]
    # Names only: the versions are given with the site-level list or in section 3.
    page_level = [
        r["name"]
        for r in protocols.records()
        if r["protocol"] not in ("robots", "licence") and "page:" in str(r["checked_in"])
    ]
    v = {r["verdict"]: r["urls"] or 0 for r in totals.records()}
    unreachable = next((r["urls"] for r in branches.records() if r["branch"] == "unreachable"), 0)
    first, last = key.get("first_checked_at"), key.get("last_checked_at")
    t_tot, t_res, t_br = totals.id, reserved.id, branches.id
    n_res_domains = sum(1 for r in reserved.records() if r["urls_reserved"])
    ua_text = ", ".join(f'"{u}"' for u in uas) if uas else "[LEGAL: User-Agent string]"
    if paged == 0:
        page_text = (
            "Reservations declared only inside a page (meta tags, HTTP headers of the page) "
            f"were not read: no page was fetched, and all {v.get('allowed', 0):,} allowed URLs "
            "rest on site-level signals only. "
        )
    else:
        page_text = (
            "Page-level signals (" + ", ".join(page_level) + f") were read for {paged:,} of the "
            f"{n_urls:,} URLs checked; {site_only:,} of the {v.get('allowed', 0):,} allowed URLs "
            "rest on site-level signals only. "
        )
    return [
        "2.3 Data crawled and scraped from online sources. "
        f"(i) Crawler: {', '.join(tokens) or '[token]'}, identified by the User-Agent {ua_text}. "
        f"(ii) Purpose: {', '.join(purposes) or '[purpose]'} (collection of training data for "
        "[LEGAL: model name]). "
        "(iii) Before any page was used, the crawler read robots.txt and followed it under RFC "
        f"9309 for its own product token; {plural(max(n_tokens - 1, 0), 'product token')} of "
        "AI-training crawlers were evaluated as well"
        + (
            ", and a disallow aimed at any of them was treated as a reservation"
            + ("" if modes == {"conservative"} else " (in conservative-mode runs)")
            if "conservative" in modes
            else ""
        )
        + ". "
        "When robots.txt could not be retrieved because of a server error or network failure, "
        "the site was treated as fully disallowed. At site level it also honoured "
        + (", ".join(site_level) if site_level else "no other protocol")
        + ". "
        + page_text
        + "[LEGAL: paywalls, CAPTCHAs and password-protected pages.] "
        f"(iv) Period of data collection: {month(first)} to {month(last)}. "
        "(vii) Most relevant domain names: see the attached list (tdmscan report domains). "
        f"(viii) {plural(n_urls, 'URL')} on "
        f"{plural(key.get('registrable_domains') or 0, 'registrable domain')} were checked.",
        "3.1 Respect of reservation of rights from the TDM exception. "
        "[LEGAL: signatory of the Code of Practice yes/no.] Reservations were identified "
        "before and during data collection: every URL was checked against robots.txt (RFC 9309) "
        "and the site-level machine-readable protocols listed in section 3 of this report"
        + (" (page-level protocols only where the page was fetched)" if paged else "")
        + " before it could enter the training data. "
        f"Of the {plural(n_urls, 'URL')} checked, {v.get('allowed', 0):,} were allowed, "
        f"{v.get('reserved', 0):,} were excluded because of a reservation (on "
        f"{plural(n_res_domains, 'registrable domain')}, see {t_res}), "
        f"{v.get('unknown', 0):,} were not used because a required check failed "
        f"({unreachable:,} of them with robots.txt unreachable, see {t_br}) and "
        f"{v.get('invalid', 0):,} were not valid http(s) URLs; figures from {t_tot}, each URL "
        "counted once with its latest decision. Each decision is recorded with the exact "
        "robots.txt bytes and their SHA-256 in an append-only, hash-chained provenance ledger. "
        "[LEGAL: opt-outs honoured by third parties from which datasets were obtained; "
        "re-check before training.]",
    ]


__all__ = ["PROTOCOLS", "build_evidence"]


def _asof_tables(q: Any) -> list[Table]:
    """The as-of scope (runs decided against archived site files) and the copies they rest
    on; nothing when no run in scope was an as-of run."""
    asof = q.table(
        "evidence_asof",
        "As-of scope: runs decided against archived site files (what the site said when the "
        "content was collected), the window a copy could lie in and the dates of the copies",
        records_layout=True,
    )
    if not asof.rows:
        return []
    copies = q.table(
        "evidence_asof_copies", "Archived copies the as-of decisions rest on", max_rows=50
    )
    return [asof, copies]
