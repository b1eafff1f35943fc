"""``tdmscan diff RUN_A RUN_B``: what changed between two runs of the same URLs.

Typical use: RUN_A at crawl time, RUN_B a re-check just before training; everything that
became reserved in B must be removed from the corpus before training (COMPLIANCE.md 4.1).
"""

from __future__ import annotations

from ..ledger import Ledger
from .common import finish, new_report, start
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
    domains = q.table("diff_domains", "Changes per registrable domain and agent", max_rows=None)
    changes = q.table("diff_changes", "Every change", max_rows=None)
    rep.sections = [
        Section(
            "diff",
            "Changes",
            serves="COMPLIANCE 4.1 (re-checks and retroactive removal); Template 3.1",
            paragraphs=[
                "Pairs are (url, agent, purpose) decided in both runs. became_reserved: "
                "remove this content before training."
            ],
            tables=[summary, domains, changes],
        )
    ]
    rep.csv_table = "diff_changes"
    return finish(rep, q)
