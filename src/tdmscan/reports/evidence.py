"""``tdmscan report evidence``: the opt-out compliance evidence report (COMPLIANCE.md 8.1)."""

from __future__ import annotations

from typing import Any

from ..ledger import Ledger
from .common import PROTOCOLS, Scope, finish, month, new_report, protocol_catalogue_sql, start
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

    period = q.table("evidence_period", "Scope: decisions, URLs and period", kv=True)
    runs = q.table(
        "evidence_runs",
        "Runs in scope, with their configuration and input",
        records_layout=True,
    )
    s1 = Section(
        "scope",
        "1. Scope and configuration",
        serves="Code 1.1 (implementation); Template header, 1.3 (latest date of collection)",
        paragraphs=[
            f"Scope: {scope.describe()}." + (f" Provider: {provider}." if provider else ""),
            "Each run records the tool version, the policy mode and purpose, and the SHA-256 of "
            "its configuration and of its input manifest, so every decision can be replayed "
            "with the same rules.",
        ],
        tables=[period, runs],
    )

    crawlers = q.table("evidence_crawlers", "Crawler identification per run")
    s2 = Section(
        "crawlers",
        "2. Crawler identification",
        serves="Code 1.3(4); Template 2.3(i), (ii)",
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
        serves="Code 1.3(1), 1.3(2); Template 2.3(iii), 3.1",
        paragraphs=[
            "robots.txt under RFC 9309 is the mandatory protocol (Code of Practice, copyright "
            "chapter, Measure 1.3(1)). The others are machine-readable protocols honoured under "
            "Measure 1.3(2): any reservation found in any of them excludes the URL, and an "
            "explicit permission in one never cancels a reservation in another. Page-level "
            "signals are read only in runs made with --deep (see section 2).",
        ],
        tables=[protocols],
    )

    totals = q.table(
        "evidence_verdict_totals",
        "Decisions by verdict",
        chart=Chart("verdict", "decisions_own_token", colours=_VERDICT_COLOURS),
    )
    by_agent = q.table("evidence_verdicts_by_agent", "Decisions by verdict for every token")
    reasons = q.table(
        "evidence_reasons",
        "Reasons behind the verdicts",
        chart=Chart("reason", "decisions_own_token", max_bars=12),
    )
    s4 = Section(
        "outcomes",
        "4. Outcome statistics",
        serves="Code 1.3; Template 3.1",
        paragraphs=[
            "Verdicts: allowed (every check ran and no reservation applies: may be ingested), "
            "reserved (a rights reservation or crawl disallow applies: excluded), unknown (a "
            "required check failed, e.g. robots.txt unreachable: not ingested, retry later), "
            "invalid (not an http(s) URL). Charts show the crawler's own product token.",
        ],
        tables=[totals, by_agent, reasons],
    )

    branches = q.table(
        "evidence_robots_branches",
        "RFC 9309 branch applied to the robots.txt behind each decision",
        chart=Chart("branch", "decisions_own_token"),
    )
    s5 = Section(
        "robots",
        "5. robots.txt handling (RFC 9309)",
        serves="Code 1.3(1)",
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
        serves="Code 1.3; Template 3.1",
        tables=[reserved],
    )

    unknowns = q.table("evidence_unknowns", "Unknown and invalid decisions, and recorded errors")
    s7 = Section(
        "unknowns",
        "7. Unknowns and errors",
        serves="Code 1.3(1) (RFC 9309 unreachable rule); DESIGN: nothing is lost",
        paragraphs=[
            "Every input row ends in the ledger. Rows listed here were not ingested: unknown "
            "means a required check could not be made, invalid means the input was not an "
            "http(s) URL.",
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
        serves="Code 1.2(a); COMPLIANCE 7 (access_barrier)",
        paragraphs=[
            "tdmscan reads a page only in runs made with --deep, and then only its head. It sends "
            "no credentials, pays nothing and solves no CAPTCHA, so it cannot get round an access "
            "barrier; the table below lists the barriers it met (HTTP 401, 402, 403 and 451, and "
            "redirects to a login page). Paywalls or CAPTCHAs served inside an ordinary 200 page "
            "are not detected. An allowed verdict on such a URL means that no reservation was "
            "found, not that its content may be obtained by getting round the barrier.",
            (
                f"{n_pages:,} pages were fetched in scope."
                if n_pages
                else "No page was fetched in scope (no run used --deep): access barriers were "
                "not observed, and this section shows nothing about them."
            ),
        ],
        tables=[access, barriers],
    )

    s9 = Section(
        "not-recorded",
        "9. Not recorded by this ledger",
        serves="Code 1.2(b), 1.5; COMPLIANCE 3.5(3)",
        paragraphs=[
            "Piracy exclusions (Code 1.2(b)): tdmscan does not consult the EU/EEA lists of "
            "websites recognised as infringing; the lists used, their versions and the domains "
            "excluded must be documented separately. [LEGAL: lists and versions.]",
            "Natural-language reservations (terms of service, imprint): tdmscan reads "
            "machine-readable protocols only (section 3); whether a reservation written in prose "
            "binds is unsettled case law (OLG Hamburg, 10 Dec 2025, 5 U 104/24, appeal to the "
            "BGH allowed). [LEGAL: how such reservations are found and handled.]",
            "Complaints (Code 1.5): complaints from rightsholders and their handling are not "
            "recorded in this ledger; a complaint about a URL is answered from it with "
            "SELECT * FROM evidence WHERE url = '...'. [LEGAL: point of contact, complaint log.]",
        ],
    )

    sample = q.table(
        "evidence_sample",
        "Sample of decisions with the robots.txt line and hashes they rest on",
        records_layout=True,
        note="robots_line_in_snapshot is read back from the stored robots.txt bytes; "
        "robots_snapshot_verified compares their SHA-256 with the hash the decision recorded.",
    )
    s10 = Section(
        "sample",
        "10. Sample of decisions with their evidence",
        serves="Code 1.5 (per-URL lookups); COMPLIANCE 4.2",
        paragraphs=[
            f"Up to {sample_per_group} decisions per verdict, first reason and robots branch, "
            "chosen by the MD5 of the decision id (deterministic, not cherry-picked). Any "
            "decision can be looked up the same way in the evidence view: "
            "SELECT * FROM evidence WHERE url = '...'.",
        ],
        tables=[sample],
    )

    chain = q.table("evidence_chain", "Hash chain of the ledger", kv=True)
    integrity = q.table("evidence_integrity", "Stored evidence integrity checks", kv=True)
    head = chain.one().get("chain_head") or ledger.head()
    s11 = Section(
        "integrity",
        "11. Integrity annex",
        serves="COMPLIANCE 4.2; AI Act Art. 101 (no misleading information)",
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
        s11.paragraphs.append(
            f"Verified when this report was generated: {'OK' if vr.ok else 'FAILED'} "
            f"({vr.segments} segments, {vr.snapshots_checked} snapshot bodies checked"
            + (f"; {len(vr.issues)} issues, first: {vr.issues[0]}" if vr.issues else "")
            + ")."
        )
    else:
        s11.paragraphs.append(
            "The full verification was not run for this report (add --verify to include it)."
        )

    s12 = Section(
        "draft",
        "12. Draft text for the public summary (Template 2.3 and 3.1)",
        serves="Template 2.3, 3.1",
        draft=True,
    )
    rep.sections = [s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12]
    rep.number_tables()  # the draft cites tables by number
    s12.paragraphs = _draft_text(period.one(), crawlers, protocols, totals, reserved, branches)
    return finish(rep, q)


def _draft_text(
    period: dict[str, Any],
    crawlers: Table,
    protocols: Table,
    totals: Table,
    reserved: Table,
    branches: Table,
) -> list[str]:
    crs = crawlers.records()
    tokens = sorted({r["own_token"] for r in crs if r["own_token"]})
    uas = sorted({r["user_agent"] for r in crs if r["user_agent"]})
    purposes = sorted({r["purpose"] for r in crs if r["purpose"]})
    n_tokens = max((r["tokens_evaluated"] or 0 for r in crs), default=0)
    deep = any(r["page_signals_checked"] for r in crs)
    honoured = [
        r["name"] + (f" ({r['spec_version']})" if r["spec_version"] else "")
        for r in protocols.records()
        if r["protocol"] not in ("robots", "licence")
        and (deep or not str(r["checked_in"]).startswith("page"))
    ]
    v = {r["verdict"]: r["urls_own_token"] or 0 for r in totals.records()}
    unreachable = next(
        (r["decisions_own_token"] for r in branches.records() if r["branch"] == "unreachable"), 0
    )
    first, last = period.get("first_checked_at"), period.get("last_checked_at")
    t_tot, t_res, t_br = totals.id, reserved.id, branches.id
    ua_text = ", ".join(f'"{u}"' for u in uas) if uas else "[LEGAL: User-Agent string]"
    return [
        "2.3 Data crawled and scraped from online sources. "
        f"(i) Crawler: {', '.join(tokens) or '[token]'}, identified by the User-Agent {ua_text}. "
        f"(ii) Purpose: {', '.join(purposes) or '[purpose]'} (collection of training data for "
        "[LEGAL: model name]). "
        "(iii) Before any page was used, the crawler read robots.txt and followed it under RFC "
        f"9309 for its own product token; {max(n_tokens - 1, 0)} product tokens of AI-training "
        "crawlers were evaluated as well, and a disallow aimed at any of them was treated as a "
        "reservation. "
        "When robots.txt could not be retrieved because of a server error or network failure, "
        "the site was treated as fully disallowed. It also honoured "
        + (", ".join(honoured) if honoured else "no other protocol")
        + ". [LEGAL: paywalls, CAPTCHAs and password-protected pages.] "
        f"(iv) Period of data collection: {month(first)} to {month(last)}. "
        "(vii) Most relevant domain names: see the attached list (tdmscan report domains). "
        f"(viii) {period.get('urls', 0):,} URLs on {period.get('registrable_domains', 0):,} "
        "registrable domains were checked.",
        "3.1 Respect of reservation of rights from the TDM exception. "
        "[LEGAL: signatory of the Code of Practice yes/no.] Reservations were identified "
        "before and during data collection: every URL was checked against robots.txt (RFC 9309) "
        "and the machine-readable protocols listed in section 3 of this report before it could "
        f"enter the training data. Of the URLs checked, {v.get('allowed', 0):,} were allowed, "
        f"{v.get('reserved', 0):,} were excluded because of a reservation (on "
        f"{len(reserved.rows):,} registrable domains, see {t_res}) and "
        f"{v.get('unknown', 0):,} were not used because a required check failed "
        f"({unreachable:,} decisions with robots.txt unreachable, see {t_br}); figures from "
        f"{t_tot}. Each decision is recorded with the exact robots.txt bytes and their "
        "SHA-256 in an append-only, hash-chained provenance ledger. "
        "[LEGAL: opt-outs honoured by third parties from which datasets were obtained; "
        "re-check before training.]",
    ]


__all__ = ["PROTOCOLS", "build_evidence"]
