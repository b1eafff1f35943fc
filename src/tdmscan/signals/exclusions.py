"""Lists of websites that must never be crawled for training: infringing-site lists.

Measure 1.2 of the copyright chapter of the GPAI Code of Practice asks providers to exclude
websites that courts or public authorities in the EU/EEA recognise as persistently and
repeatedly infringing copyright on a commercial scale, as listed at the time of crawling. A
list here is versioned and dated and cites a source per entry, so every exclusion can name the
list, its version and why the domain is on it.

The package ships a small seed list (``data/infringing_sites.json``); users add their own
(``--exclude-list FILE.csv`` with ``domain,source,date`` columns). A host matches an entry when
it is the listed domain or one of its subdomains. Loading is pure (bytes in, list out) apart
from :func:`load_exclusion_list`, which reads a file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

__all__ = [
    "ExclusionEntry",
    "ExclusionError",
    "ExclusionList",
    "ExclusionLists",
    "default_exclusions",
    "load_exclusion_list",
    "parse_exclusion_csv",
    "seed_list",
]

_DATE = re.compile(r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")
MAX_ENTRIES = 1_000_000


class ExclusionError(ValueError):
    """A list that cannot be used; the message is one line naming the file and row."""


@dataclass(frozen=True, slots=True)
class ExclusionEntry:
    domain: str
    source: str
    date: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ExclusionList:
    """One versioned list: ``name`` and ``version`` go into every exclusion's evidence."""

    name: str
    version: str
    date: str | None
    entries: dict[str, ExclusionEntry] = field(default_factory=dict)
    kind: str = "user"  # shipped | user | complaints
    #: The reason code a match records (complaint exclusions have their own).
    reason: str = "access:listed-infringing"

    def __len__(self) -> int:
        return len(self.entries)

    def match(self, host: str) -> ExclusionEntry | None:
        """The entry for ``host`` or its closest listed parent domain."""
        host = host.rstrip(".").lower()
        while host:
            hit = self.entries.get(host)
            if hit is not None:
                return hit
            dot = host.find(".")
            if dot < 0:
                return None
            host = host[dot + 1 :]
        return None


class ExclusionLists:
    """The lists in force for a run; ``match(host)`` is memoised (hosts repeat a lot)."""

    def __init__(self, lists: tuple[ExclusionList, ...] | list[ExclusionList]) -> None:
        self.lists = tuple(lists)
        self._memo: dict[str, tuple[tuple[ExclusionList, ExclusionEntry], ...]] = {}

    def __iter__(self):
        return iter(self.lists)

    def __len__(self) -> int:
        return len(self.lists)

    def describe(self) -> list[dict[str, object]]:
        """Name, version, date, kind and entry count of each list (for run metadata)."""
        return [
            {
                "name": x.name,
                "version": x.version,
                "date": x.date,
                "kind": x.kind,
                "entries": len(x),
            }
            for x in self.lists
        ]

    def match(self, host: str) -> tuple[tuple[ExclusionList, ExclusionEntry], ...]:
        hit = self._memo.get(host)
        if hit is None:
            hit = tuple((x, e) for x in self.lists if (e := x.match(host)) is not None)
            if len(self._memo) >= 65_536:
                self._memo.clear()
            self._memo[host] = hit
        return hit


def _domain(raw: str) -> str | None:
    d = raw.strip().lower().rstrip(".")
    if d.startswith("*."):
        d = d[2:]
    if "://" in d:
        d = d.split("://", 1)[1].split("/", 1)[0]
    if not d.isascii():
        try:
            d = d.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return d if _DOMAIN.match(d) else None


def parse_exclusion_csv(
    data: bytes | str, name: str, *, version: str | None = None
) -> ExclusionList:
    """A user list from CSV text: a header with ``domain`` and ``source`` (and ``date``,
    optional ``url``), one row per domain. The version defaults to the content's sha256 prefix,
    so the evidence pins exactly which copy of the file was in force. Raises
    :class:`ExclusionError` with the first bad row."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExclusionError(f"{name}: not UTF-8 text") from exc
    reader = csv.DictReader(io.StringIO(text))
    cols = [c.strip().lower() for c in reader.fieldnames or []]
    if "domain" not in cols or "source" not in cols:
        raise ExclusionError(f"{name}: the header must name the columns domain, source and date")
    reader.fieldnames = cols
    entries: dict[str, ExclusionEntry] = {}
    dates: list[str] = []
    for n, row in enumerate(reader, start=2):
        dom_raw = (row.get("domain") or "").strip()
        if not dom_raw or dom_raw.startswith("#"):
            continue
        dom = _domain(dom_raw)
        if dom is None:
            raise ExclusionError(f"{name} line {n}: {dom_raw[:80]!r} is not a domain name")
        source = (row.get("source") or "").strip()
        if not source:
            raise ExclusionError(f"{name} line {n}: {dom} has no source")
        date = (row.get("date") or "").strip()
        if date and not _DATE.match(date):
            raise ExclusionError(f"{name} line {n}: date {date[:40]!r} is not YYYY[-MM[-DD]]")
        if date:
            dates.append(date)
        entries[dom] = ExclusionEntry(dom, source, date, (row.get("url") or "").strip() or None)
        if len(entries) > MAX_ENTRIES:
            raise ExclusionError(f"{name}: more than {MAX_ENTRIES} entries")
    if not entries:
        raise ExclusionError(f"{name}: no entries")
    return ExclusionList(
        name=name,
        version=version or f"sha256:{digest[:16]}",
        date=max(dates) if dates else None,
        entries=entries,
        kind="user",
    )


def load_exclusion_list(path: str | os.PathLike[str]) -> ExclusionList:
    """Read a user list (CSV) from disk; its name is the file name without extension."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ExclusionError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    return parse_exclusion_csv(data, p.stem)


@lru_cache(maxsize=1)
def seed_list() -> ExclusionList:
    """The list shipped with the package (name, version, date and a source per entry)."""
    raw = resources.files(__package__).joinpath("data/infringing_sites.json").read_bytes()
    doc = json.loads(raw)
    entries = {}
    for e in doc["entries"]:
        dom = _domain(e["domain"])
        if dom is None:  # pragma: no cover - guarded by tests on the shipped file
            raise ExclusionError(f"shipped list: bad domain {e['domain']!r}")
        entries[dom] = ExclusionEntry(dom, e["source"], e["date"], e.get("url"))
    return ExclusionList(doc["name"], doc["version"], doc["date"], entries, kind="shipped")


def default_exclusions(*user: ExclusionList) -> ExclusionLists:
    """The shipped seed list plus ``user`` lists, in that order."""
    if not user:
        return _shipped_only()
    return ExclusionLists((seed_list(), *user))


@lru_cache(maxsize=1)
def _shipped_only() -> ExclusionLists:
    # One shared instance, so its host memo serves every decision that uses only the seed list.
    return ExclusionLists((seed_list(),))
