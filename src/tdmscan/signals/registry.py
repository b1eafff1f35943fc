"""The versioned protocol registry (``data/protocols.toml``): every protocol tdmscan reads,
its specification and version, where it is read, its legal standing and last review date.

Evidence rows name their entry: ``Evidence.protocol`` is the entry's ``id`` and
``Evidence.spec_version`` its ``version``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

LEGAL_STANDINGS = (
    "code-1.3",
    "listed",
    "standard",
    "draft",
    "convention",
    "lawful-access",
    "natural-language",
    "information",
)


@dataclass(frozen=True, slots=True)
class Protocol:
    id: str
    name: str
    spec: str
    version: str
    url: str
    read_from: tuple[str, ...]
    legal_standing: str
    tier: str
    reviewed: str


@dataclass(frozen=True, slots=True)
class Registry:
    version: str
    protocols: tuple[Protocol, ...]

    def get(self, protocol_id: str) -> Protocol | None:
        for p in self.protocols:
            if p.id == protocol_id:
                return p
        return None

    def versions(self) -> dict[str, str]:
        return {p.id: p.version for p in self.protocols}


def parse_registry(text: str) -> Registry:
    """Parse and check a registry document; raises ValueError on a malformed entry (the file
    ships with the package, so a mistake must fail the tests, not pass silently)."""
    data = tomllib.loads(text)
    out = []
    seen: set[str] = set()
    for raw in data.get("protocol", []):
        try:
            p = Protocol(
                id=raw["id"],
                name=raw["name"],
                spec=raw["spec"],
                version=raw["version"],
                url=raw.get("url", ""),
                read_from=tuple(raw.get("read_from", ())),
                legal_standing=raw["legal_standing"],
                tier=raw["tier"],
                reviewed=raw["reviewed"],
            )
        except KeyError as exc:
            raise ValueError(f"registry entry {raw.get('id')!r} lacks {exc}") from exc
        if p.legal_standing not in LEGAL_STANDINGS:
            raise ValueError(f"registry entry {p.id!r}: unknown legal_standing")
        if p.id in seen:
            raise ValueError(f"registry entry {p.id!r} listed twice")
        seen.add(p.id)
        out.append(p)
    return Registry(str(data.get("registry_version", "")), tuple(out))


@lru_cache(maxsize=1)
def load_registry() -> Registry:
    text = resources.files("tdmscan.signals").joinpath("data", "protocols.toml").read_text("utf-8")
    return parse_registry(text)
