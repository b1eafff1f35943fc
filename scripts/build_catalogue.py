#!/usr/bin/env python3
"""Build ``src/tdmscan/signals/data/ai_agents.json`` from the ai.robots.txt list (SIGNALS §9).

The seed (``robots.json`` of ai-robots-txt/ai.robots.txt, MIT) describes each agent in free
text. Every agent gets a category: curated overrides for the well-known agents, keyword
heuristics for the rest (recorded as ``"classified": "heuristic"`` so a reviewer can tell).
Heuristic "training" guesses are then checked against :data:`REVIEWED` (``"reviewed"``,
with a ``review_note``): they drive the conservative training-agent inference.

Usage: python scripts/build_catalogue.py [SEED_JSON] [OUT_JSON]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEED = ROOT.parent / "shared" / "data" / "ai-robots-2026-08-22.json"
DEFAULT_OUT = ROOT / "src" / "tdmscan" / "signals" / "data" / "ai_agents.json"

SOURCE = "https://github.com/ai-robots-txt/ai.robots.txt (robots.json)"
SOURCE_COMMIT = "738c80d"
SOURCE_DATE = "2026-08-22"
#: Bump the suffix whenever the overrides or heuristics change for the same seed.
CATALOGUE_VERSION = f"{SOURCE_DATE}.2"

CATEGORIES = ("training", "search", "user-fetch", "control-token", "data-provider", "other")

# token (lower-case) -> (category, trains, note). ``trains`` marks tokens whose robots.txt
# groups speak about AI training: training crawlers and control tokens for training.
CURATED: dict[str, tuple[str, bool, str]] = {
    "gptbot": ("training", True, "OpenAI training crawler"),
    "oai-searchbot": ("search", False, "OpenAI search index"),
    "chatgpt-user": ("user-fetch", False, "OpenAI: robots.txt may not apply to user actions"),
    "chatgpt agent": ("user-fetch", False, ""),
    "openai": ("other", False, ""),
    "ccbot": ("training", True, "open dataset crawl, widely used for training"),
    "google-extended": ("control-token", True, "Gemini/Vertex training and grounding"),
    "googleother": ("other", False, "generic Google R&D fetching"),
    "googleother-image": ("other", False, "generic Google R&D fetching"),
    "googleother-video": ("other", False, "generic Google R&D fetching"),
    "google-cloudvertexbot": ("other", False, "owner-requested crawl for Vertex AI agents"),
    "anthropic-ai": ("training", True, "legacy Anthropic training token"),
    "claudebot": ("training", True, "Anthropic training crawler"),
    "claude-web": ("other", False, "legacy / undocumented"),
    "claude-user": ("user-fetch", False, ""),
    "claude-searchbot": ("search", False, ""),
    "applebot": ("search", False, "Siri/Spotlight search"),
    "applebot-extended": ("control-token", True, "Apple foundation-model training"),
    "perplexitybot": ("search", False, ""),
    "perplexity-user": ("user-fetch", False, "vendor says robots.txt is not applied"),
    "bytespider": ("training", True, ""),
    "tiktokspider": ("training", True, ""),
    "meta-externalagent": ("training", True, "training and indexing"),
    "meta-externalfetcher": ("user-fetch", False, ""),
    "facebookbot": ("training", True, "speech model training"),
    "facebookexternalhit": ("other", False, "link previews"),
    "cohere-ai": ("user-fetch", False, "user-prompt retrieval"),
    "cohere-training-data-crawler": ("training", True, ""),
    "diffbot": ("data-provider", False, ""),
    "amazonbot": ("other", False, "Alexa answers / service improvement; reads noarchive"),
    "amzn-user": ("user-fetch", False, ""),
    "amzn-searchbot": ("search", False, ""),
    "duckassistbot": ("user-fetch", False, ""),
    "mistralai-user": ("user-fetch", False, ""),
    "mistralai-user/1.0": ("user-fetch", False, ""),
    "deepseekbot": ("training", True, ""),
    "ai2bot": ("training", True, "open model training"),
    "ai2bot-dolma": ("training", True, "open model training"),
    "omgili": ("data-provider", False, "Webz.io: data sold, incl. for LLM training"),
    "omgilibot": ("data-provider", False, "Webz.io: data sold, incl. for LLM training"),
    "webzio-extended": ("control-token", True, "Webz.io token for AI/LLM use of its data"),
    "img2dataset": ("training", True, "dataset downloader"),
    "laiondownloader": ("training", True, "dataset downloader"),
    "imagesiftbot": ("other", False, "image index"),
    "youbot": ("search", False, "search + LLM"),
    "petalbot": ("search", False, "search / assistant"),
    "yandexadditional": ("training", True, "YandexGPT"),
    "yandexadditionalbot": ("training", True, "YandexGPT"),
    "timpibot": ("training", True, "training data"),
    "linguee bot": ("other", False, "translation service"),
    "bedrockbot": ("other", False, "customer-configured crawl for Bedrock knowledge bases"),
    "scrapy": ("other", False, "generic crawling framework default user agent"),
    "semrushbot-swa": ("other", False, "SEO tool"),
    "semrushbot-ocob": ("other", False, "SEO content tool"),
}

_HEURISTICS: list[tuple[str, re.Pattern[str]]] = [
    ("control-token", re.compile(r"-extended$")),
    (
        "training",
        re.compile(
            r"\btrain|llm training|data scraper|scrapes|scraper|datasets? for machine"
            r"|machine learning models",
            re.I,
        ),
    ),
    ("data-provider", re.compile(r"data provider|data is sold|sold", re.I)),
    ("search", re.compile(r"\bsearch", re.I)),
    ("user-fetch", re.compile(r"assistant|agent|user|prompt|coding", re.I)),
]

_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")


def _plain(text: str) -> str:
    """Markdown links -> their label; collapse whitespace."""
    return " ".join(_MD_LINK_RE.sub(r"\1", text or "").split())


def _respect(text: str) -> str:
    t = _plain(text).lower()
    if t.startswith("yes"):
        return "yes"
    if t.startswith("no"):
        return "no"
    if "discretion" in t:
        return "discretion"
    return "unclear"


def _token_ok(token: str) -> bool:
    return re.fullmatch(r"[A-Za-z_-]+", token) is not None


#: Keyword guesses that said "training", checked by hand against the seed's description
#: (token, lower-case -> whether it trains, why). Every training token drives the conservative
#: ``robots:training-agent-disallow`` inference, so a generic or non-AI name here would turn
#: ordinary crawl rules into training reservations.
_NOT_TRAINING = "not a training crawler: "
REVIEWED: dict[str, tuple[bool, str]] = {
    "spider": (
        False,
        _NOT_TRAINING + "a generic word many unrelated crawlers use; the seed "
        "documents no operator or purpose",
    ),
    "imagespider": (False, _NOT_TRAINING + "no description in the seed; a generic name"),
    "lcc": (False, _NOT_TRAINING + "no description in the seed; purpose unknown"),
    "awario": (False, _NOT_TRAINING + "the seed says it is not known to be AI-related"),
    "datenbank crawler": (False, _NOT_TRAINING + "the seed says it is not known to be AI-related"),
    "echobot bot": (False, _NOT_TRAINING + "the seed says it is not known to be AI-related"),
    "wardbot": (False, _NOT_TRAINING + "the seed says it is not known to be AI-related"),
    "netestate imprint crawler": (
        False,
        _NOT_TRAINING + "collects site imprints for business data; no AI use documented",
    ),
    "lightpanda": (False, _NOT_TRAINING + "a headless browser, not a crawler with a purpose"),
    "agenttimes": (
        False,
        _NOT_TRAINING + "AI news aggregation from feeds (AI input), not training",
    ),
}
_CONFIRMED = "the seed documents collection to train or feed AI models or datasets"


def review(token: str, category: str, trains: bool, how: str) -> tuple[str, bool, str, str]:
    """Apply :data:`REVIEWED` to a heuristic "trains" guess; returns (category, trains, how,
    note)."""
    if how != "heuristic" or not trains:
        return category, trains, how, ""
    found = REVIEWED.get(token.lower())
    if found is None:
        return category, trains, "reviewed", _CONFIRMED
    keep, note = found
    return (category if keep else "other"), keep, "reviewed", note


def classify(token: str, entry: dict[str, str]) -> tuple[str, bool, str]:
    cur = CURATED.get(token.lower())
    if cur is not None:
        return cur[0], cur[1], "curated"
    fn = _plain(entry.get("function", ""))
    desc = _plain(entry.get("description", ""))
    if re.search(r"-extended$", token, re.I):
        return "control-token", True, "heuristic"
    if fn.lower().startswith(("undocumented", "unclear")):
        return "other", False, "heuristic"
    for cat, rx in _HEURISTICS[1:]:
        if rx.search(fn):
            return cat, cat == "training", "heuristic"
    for cat, rx in _HEURISTICS[1:]:
        if rx.search(desc):
            return cat, cat == "training", "heuristic"
    return "other", False, "heuristic"


def build(seed: dict[str, dict[str, str]]) -> dict[str, object]:
    agents = []
    for token, entry in seed.items():
        if not isinstance(entry, dict):
            continue
        category, trains, how, note = review(token, *classify(token, entry))
        extra = {"review_note": note} if note else {}
        agents.append(
            {
                "token": token,
                "operator": _plain(entry.get("operator", "")),
                "category": category,
                "trains": trains,
                "respects_robots": _respect(entry.get("respect", "")),
                "function": _plain(entry.get("function", "")),
                "description": _plain(entry.get("description", "")),
                "valid_token": _token_ok(token),
                "classified": how,
                **extra,
            }
        )
    return {
        "version": CATALOGUE_VERSION,
        "source": SOURCE,
        "source_commit": SOURCE_COMMIT,
        "source_date": SOURCE_DATE,
        "licence": "MIT (see ai-robots-LICENSE.txt)",
        "categories": list(CATEGORIES),
        "agents": agents,
    }


def main(argv: list[str]) -> int:
    seed_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_SEED
    out_path = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    seed = json.loads(seed_path.read_text(encoding="utf-8"))
    data = build(seed)
    out_path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    n = len(data["agents"])  # type: ignore[arg-type]
    print(f"wrote {n} agents to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
