"""The AI agent catalogue, shipped as versioned package data.

Built by ``scripts/build_catalogue.py`` from ai.robots.txt; the JSON records the source commit
and date so a decision can name the catalogue version it used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from .matching import is_valid_token, product_token

CATEGORIES = ("training", "search", "user-fetch", "control-token", "data-provider", "other")


@dataclass(frozen=True, slots=True)
class Agent:
    token: str
    operator: str
    category: str
    respects_robots: str  # "yes" | "no" | "unclear" | "discretion"
    description: str
    valid_token: bool
    trains: bool = False  # its robots.txt group speaks about AI training
    function: str = ""
    # "curated" (from the source's own wording), "reviewed" (a keyword guess checked by hand
    # against the source's description; ``review_note`` says why) or "heuristic" (unchecked).
    classified: str = "curated"
    review_note: str = ""


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    source: str
    source_commit: str
    source_date: str
    agents: tuple[Agent, ...]
    _index: dict[str, Agent] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        idx: dict[str, Agent] = {}
        # Exact (case-insensitive) spellings first, then product tokens; a valid token wins a
        # shared product token ("MistralAI-User" over "MistralAI-User/1.0").
        for a in self.agents:
            idx.setdefault(a.token.lower(), a)
        for a in sorted(self.agents, key=lambda a: not a.valid_token):
            pt = product_token(a.token)
            if pt and pt != "*":
                idx.setdefault(pt, a)
        object.__setattr__(self, "_index", idx)

    def get(self, token: str) -> Agent | None:
        """Case-insensitive lookup by exact spelling or product token (``GPTBot/1.2``)."""
        if not isinstance(token, str):
            return None
        key = token.strip().lower()
        hit = self._index.get(key)
        if hit is None:
            pt = product_token(token)
            hit = self._index.get(pt) if pt else None
        return hit

    def category(self, token: str) -> str | None:
        a = self.get(token)
        return a.category if a else None

    def training_tokens(self) -> tuple[str, ...]:
        """Tokens evaluated by default as statements about training (§10.1 proxy tokens).

        Training crawlers and training control tokens; entries that are not valid tokens are
        given without their version suffix (``Brightbot 1.0`` -> ``Brightbot``).
        """
        out: list[str] = []
        seen: set[str] = set()
        for a in self.agents:
            if not a.trains:
                continue
            # "Brightbot 1.0" / "iaskspider/2.0" -> the name before the version; digits stay
            # ("AI2Bot"): cutting them would yield tokens such as "AI" that name nobody.
            tok = re.split(r"[\s/]", a.token.strip(), maxsplit=1)[0]
            if not tok or tok == "*":
                continue
            if tok.lower() in seen:
                continue
            seen.add(tok.lower())
            out.append(tok)
        return tuple(out)

    def tokens(self, category: str) -> tuple[str, ...]:
        return tuple(a.token for a in self.agents if a.category == category)


def _agent(d: Any) -> Agent | None:
    if not isinstance(d, dict) or not isinstance(d.get("token"), str):
        return None
    return Agent(
        token=d["token"],
        operator=str(d.get("operator", "")),
        category=str(d.get("category", "other")),
        respects_robots=str(d.get("respects_robots", "unclear")),
        description=str(d.get("description", "")),
        valid_token=bool(d.get("valid_token", is_valid_token(d["token"]))),
        trains=bool(d.get("trains", False)),
        function=str(d.get("function", "")),
        classified=str(d.get("classified", "curated")),
        review_note=str(d.get("review_note", "")),
    )


def catalogue_from_json(data: Any) -> Catalogue:
    agents = tuple(a for a in (_agent(x) for x in data.get("agents", ())) if a is not None)
    return Catalogue(
        version=str(data.get("version", "")),
        source=str(data.get("source", "")),
        source_commit=str(data.get("source_commit", "")),
        source_date=str(data.get("source_date", "")),
        agents=agents,
    )


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The shipped catalogue (read once per process)."""
    text = (
        resources.files("tdmscan.signals")
        .joinpath("data", "ai_agents.json")
        .read_text(encoding="utf-8")
    )
    return catalogue_from_json(json.loads(text))
