"""Precision and recall of the terms-of-use detector (tdmscan.signals.tos) on the labelled
excerpts in fixtures/tos/ (see fixtures/tos/README.md for how they were written).

Each excerpt is read as a whole terms page; its predicted label is ``tdm`` when any clause is
``tdm-reserved``, else ``scraping`` when any clause is ``scraping-prohibited``, else ``none``.
Figures are given per class (a ``scraping`` excerpt read as ``tdm`` counts as a reservation
found but misfiled), overall and per language.

    python benchmarks/bench_tos.py [FILE.jsonl ...] [--errors]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from tdmscan.signals.tos import parse_terms

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [ROOT / "fixtures/tos" / f"{n}.jsonl" for n in ("dev", "heldout", "blind")]


def predict(text: str, fmt: str) -> str:
    page = parse_terms(text.encode(), content_type="text/html" if fmt == "html" else "text/plain")
    if page.tdm_reserved:
        return "tdm"
    if page.scraping_prohibited:
        return "scraping"
    return "none"


def prf(rows: list[tuple[str, str]], positive: set[str]) -> tuple[int, int, int, float, float]:
    tp = sum(1 for gold, pred in rows if gold in positive and pred in positive)
    fp = sum(1 for gold, pred in rows if gold not in positive and pred in positive)
    fn = sum(1 for gold, pred in rows if gold in positive and pred not in positive)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return tp, fp, fn, p, r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--errors", action="store_true", help="list misread excerpts")
    args = ap.parse_args(argv)
    files = args.files or [f for f in DEFAULT if f.exists()]
    for f in files:
        rows: list[tuple[str, str, str, str]] = []
        for line in f.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            ex = json.loads(line)
            pred = predict(ex["text"], ex.get("format", "text"))
            rows.append((ex["id"], ex["lang"], ex["label"], pred))
        pairs = [(g, p) for _, _, g, p in rows]
        print(f"## {f.relative_to(ROOT) if f.is_relative_to(ROOT) else f}: {len(rows)} excerpts, "
              f"{sum(g == 'none' for g in [r[2] for r in rows])} negatives")
        print("| class | tp | fp | fn | precision | recall |")
        print("|---|---|---|---|---|---|")
        for name, pos in (
            ("any reservation (tdm or scraping)", {"tdm", "scraping"}),
            ("tos:tdm-reserved", {"tdm"}),
            ("tos:scraping-prohibited", {"scraping"}),
        ):
            tp, fp, fn, p, r = prf(pairs, pos)
            print(f"| {name} | {tp} | {fp} | {fn} | {p:.1%} | {r:.1%} |")
        exact = sum(g == p for g, p in pairs) / len(pairs)
        print(f"\nexact label accuracy: {exact:.1%}\n")
        by_lang: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for _, lang, g, p in rows:
            by_lang[lang].append((g, p))
        print("| lang | n | tdm P | tdm R | any P | any R |")
        print("|---|---|---|---|---|---|")
        for lang in sorted(by_lang, key=lambda k: (-len(by_lang[k]), k)):
            lp = by_lang[lang]
            _, _, _, tp_, tr_ = prf(lp, {"tdm"})
            _, _, _, ap_, ar_ = prf(lp, {"tdm", "scraping"})
            print(f"| {lang} | {len(lp)} | {tp_:.0%} | {tr_:.0%} | {ap_:.0%} | {ar_:.0%} |")
        if args.errors:
            print()
            for i, _lang, g, p in rows:
                if g != p:
                    print(f"MISS {i} gold={g} pred={p}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
