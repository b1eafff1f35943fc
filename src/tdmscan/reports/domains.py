"""``tdmscan report domains``: the Template section 2.3(vii) list of top domains.

The Commission's Template (section 2.3(vii), footnote 16) asks for the domain names "in the
top 10 % of all domain names determined by the size of the content scraped"; SMEs may list
the top 5 % or the top 1,000 domains, whichever is lower. The text says nothing about
rounding. We round the count up (``ceil``), because rounding down would list nothing for fewer
than ten domains and would under-disclose, which is the riskier error under AI Act Art. 101
(incomplete information).
URLs are counted by the rule every report states (``COUNTING_RULE``).
"""

from __future__ import annotations

from ..ledger import Ledger
from .common import (
    COUNTING_RULE,
    Scope,
    finish,
    new_report,
    page_coverage_text,
    sources_section,
    start,
)
from .model import Chart, Report, Section

#: The SME cap: the top 5 % or this many domains, whichever is lower.
SME_CAP = 1000


def top_domain_count(n_domains: int, *, sme: bool = False) -> int:
    """How many domains the 2.3(vii) list holds for ``n_domains`` ranked domains.

    Standard: ceil(10 % of n). SME: min(ceil(5 % of n), 1,000). Integer arithmetic, so the
    boundaries are exact (20 domains -> 2, 21 -> 3; SME 20,000 -> 1,000, 19,980 -> 999).
    """
    if n_domains <= 0:
        return 0
    if sme:
        return min((n_domains + 19) // 20, SME_CAP)
    return (n_domains + 9) // 10


def build_domains(ledger: Ledger, scope: Scope = Scope(), *, sme: bool = False) -> Report:
    rep = new_report(
        "domains",
        "Top domains by content retained for training (Template 2.3(vii))",
        ledger,
        {**scope.parameters(), "sme": sme},
    )
    q = start(ledger, {**scope.variables(), "sme": sme})
    q.setup("domains_base")
    summary = q.table("domains_summary", "Ranking: metric, cut-off and totals", kv=True)
    top = q.table(
        "domains_top",
        "Registrable domains in the list",
        chart=Chart("domain", "size", max_bars=15),
        max_rows=None,
    )
    coverage = q.table("scope_page_coverage", "Page-level signals read", kv=True)
    s = summary.one()
    metric = s.get("metric", "urls")
    if metric == "bytes":
        basis = (
            "Metric: bytes of content retained for training (URLs whose latest decision for "
            "the crawler's own token is allowed), taken from the manifest's content size, "
            "else from a recorded page fetch."
        )
        if s.get("urls_without_size"):
            basis += (
                f" {s['urls_without_size']:,} retained URLs have no known size and count as "
                "0 bytes; the URL count is shown alongside."
            )
    else:
        basis = (
            "Metric: number of URLs retained for training. No content size is known for any "
            "retained URL (the manifest had no size column and no page fetches were "
            "recorded), so the ranking falls back to URL counts. State this in the summary, "
            "or rerun the audit with --size-column to rank by bytes."
        )
    rule = (
        "SME variant: the top 5 % of ranked domains rounded up, or 1,000 domains, whichever "
        "is lower."
        if sme
        else "The top 10 % of ranked domains, rounded up (ceil(n / 10)); SMEs may use --sme."
    )
    section = Section(
        "domains",
        "Most relevant domain names crawled",
        serves="Template, section 2.3(vii) (footnote 16)",
        paragraphs=[
            basis,
            rule + " The Template does not say how to round; rounding up never lists fewer "
            "domains than the percentage and never lists none when any domain was retained.",
            "Domains are registrable domains (eTLD+1, Public Suffix List ICANN section, version "
            "recorded in each run). Domains whose content was entirely excluded because of "
            "reservations are not content scraped for training; they are listed in the "
            "evidence report instead. Ties are broken by URL count, then by name; "
            "ties_at_cutoff counts domains left out with the same size as the last one listed.",
            f"Scope: {scope.describe()}.",
            COUNTING_RULE,
            page_coverage_text(coverage.one()),
        ],
        tables=[summary, top, coverage],
    )
    rep.sections = [section, sources_section()]
    rep.csv_table = "domains_top"
    return finish(rep, q)
