"""``tdmscan diff RUN_A RUN_B``: what changed between two runs of the same URLs.

Typical use: RUN_A at crawl time, RUN_B a re-check just before training; everything that
became reserved in B must be removed from the corpus before training.
"""

from __future__ import annotations

from ..ledger import Ledger
from .common import finish, new_report, page_coverage_text, plural, sources_section, start
from .model import Report, Section

CHANGE_KINDS = (
    "became_reserved",
    "became_allowed",
    "became_unknown",
    "became_invalid",
    "reason_changed",
)


def build_diff(ledger: Ledger, run_a: str, run_b: str) -> Report:
    rep = new_report(
        "diff", f"Changes from run {run_a} to run {run_b}", ledger, {"run_a": run_a, "run_b": run_b}
    )
    q = start(ledger, {"run_a": run_a, "run_b": run_b}, scope=False)
    q.setup("diff_base")
    summary = q.table("diff_summary", "(url, agent) pairs by kind of change")
    sides = q.table("diff_runs", "What each run was decided against")
    protocols = q.table(
        "diff_protocols",
        "Reservations added and withdrawn, per registrable domain and protocol",
        max_rows=None,
    )
    domains = q.table("diff_domains", "Changes per registrable domain and agent", max_rows=None)
    changes = q.table("diff_changes", "Every change", max_rows=None)
    coverage = q.table("diff_page_coverage", "Page-level signals read in each run")
    n_pairs = sum(r["pairs"] or 0 for r in summary.records())
    paras = [
        "Counting rule: a pair is a (url, agent, purpose) decided in run A or run B, each "
        "counted once with its latest decision in that run. Every pair falls in exactly one "
        f"kind of change, so the pairs of {summary.id} add up to the {plural(n_pairs, 'pair')} "
        "compared, and the columns of the domain table add up to the same figures. A URL "
        "evaluated for several agents counts once per agent.",
        "Kinds: became_reserved (remove this content before training), became_allowed, "
        "became_unknown (a required check failed in run B), became_invalid, reason_changed "
        "(same verdict, other reasons), unchanged, only_in_a, only_in_b.",
    ]
    side = {r["side"]: r for r in sides.records()}
    if side.get("A", {}).get("as_of", "live") != "live":
        paras.append(
            f"Then and now: run A was decided as of {side['A']['as_of']} (against the archived "
            "site files captured around when the content was collected), run B as of "
            f"{side.get('B', {}).get('as_of', 'live')}. In the table of reservations per "
            "protocol, added are reservations a site made after the content was collected and "
            "withdrawn those it lifted since."
        )
    for r in coverage.records():
        paras.append(
            f"Run {r['side']} ({r['run_id']}): "
            + page_coverage_text(r, "the run did not use --deep")
        )
    rep.sections = [
        Section(
            "diff",
            "Changes",
            serves="Code of Practice, Measure 1.3 (complying with reservations as they "
            "change); Template, section 3.1",
            paragraphs=paras,
            tables=[summary, sides, protocols, domains, changes, coverage],
        ),
        sources_section(),
    ]
    rep.csv_table = "diff_changes"
    return finish(rep, q)
