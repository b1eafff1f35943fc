"""The licence inventory: ``tdmscan licences import`` and ``tdmscan report licences``.

Import files are TOML (an array of tables named ``dataset``) or CSV (a header row), one record
per dataset version. Every record is validated before anything is written, so a bad file
changes nothing; the first problem is reported with its row (CSV line or TOML entry) and field.
Records go into the ledger's ``licences`` table through the ledger writer (one append-only,
hash-chained segment per import).
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import os
import re
import tomllib
from collections.abc import Callable
from typing import Any

from ..ledger import Ledger, RunInfo
from .common import (
    COUNTING_RULE,
    Scope,
    finish,
    new_report,
    page_coverage_text,
    sources_section,
    start,
)
from .model import Report, Section

TEMPLATE_CATEGORIES = ("2.1", "2.2.1", "2.2.2", "2.5", "2.6")
YES_NO = ("yes", "no", "unknown")
AI_TRAINING = ("express", "implied", "silent", "prohibited", "unknown")

_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}


class LicenceImportError(ValueError):
    """A problem in an import file; ``str()`` is the one-line message for the user."""


def _s(v: Any) -> str:
    return str(v).strip()


def _yes_no(v: Any) -> str:
    t = _s(v).lower()
    if isinstance(v, bool):
        return "yes" if v else "no"
    if t in _TRUE:
        return "yes"
    if t in _FALSE:
        return "no"
    if t in ("unknown", "?", ""):
        return "unknown"
    raise ValueError(f"{v!r} is not one of yes, no, unknown")


def _ai_training(v: Any) -> str:
    if isinstance(v, bool):
        return "express" if v else "prohibited"
    t = _s(v).lower()
    if t in _TRUE:
        return "express"
    if t in _FALSE:
        return "prohibited"
    if t in AI_TRAINING:
        return t
    if t == "":
        return "unknown"
    raise ValueError(f"{v!r} is not one of {', '.join(AI_TRAINING)} (or yes/no)")


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    t = _s(v).lower()
    if t in _TRUE:
        return True
    if t in _FALSE or t == "":
        return False
    raise ValueError(f"{v!r} is not yes or no")


def _category(v: Any) -> str:
    # TOML readers give 2.1 unquoted as a float; 2.2.1 must be quoted anyway.
    t = _s(v)
    if t not in TEMPLATE_CATEGORIES:
        raise ValueError(f"{t!r} is not one of {', '.join(TEMPLATE_CATEGORIES)}")
    return t


def _date(v: Any) -> _dt.date | None:
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    t = _s(v)
    if not t:
        return None
    try:
        return _dt.date.fromisoformat(t)
    except ValueError:
        raise ValueError(f"{t!r} is not a date (YYYY-MM-DD)") from None


def _term(v: Any) -> tuple[_dt.date | None, _dt.date | None]:
    t = _s(v)
    if not t or t.lower() in ("perpetual", "unlimited", "open"):
        return None, None
    parts = re.split(r"\s*(?:/|\.\.)\s*", t, maxsplit=1)
    if len(parts) != 2:
        raise ValueError(f"{t!r} is not START/END (YYYY-MM-DD/YYYY-MM-DD; either may be empty)")
    return _date(parts[0]), _date(parts[1])


def _list(v: Any) -> list[str]:
    if isinstance(v, list | tuple):
        return [_s(x) for x in v if _s(x)]
    return [x for x in re.split(r"[;\s]+", _s(v)) if x]


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a whole number")
    if isinstance(v, int):
        if v < 0:
            raise ValueError(f"{v} is negative")
        return v
    t = _s(v).replace("_", "").replace(",", "")
    if not t:
        return None
    if not t.isdigit():
        raise ValueError(f"{v!r} is not a whole number")
    return int(t)


def _text(v: Any) -> str | None:
    t = _s(v)
    return t or None


# field -> (ledger column, converter). Aliases map onto these names.
_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "dataset": ("dataset_id", _text),
    "name": ("name", _text),
    "version": ("version_or_snapshot", _text),
    "licensor": ("licensor", _text),
    "licensor_type": ("licensor_type", _text),
    "licence": ("licence_id", _text),
    "licence_url": ("licence_url_or_doc_hash", _text),
    "commercial_use": ("permitted_commercial", _yes_no),
    "derivatives": ("permitted_derivatives", _yes_no),
    "ai_training": ("permitted_ai_training", _ai_training),
    "term": ("term", _term),
    "term_start": ("term_start", _date),
    "term_end": ("term_end", _date),
    "agreement_date": ("agreement_date", _date),
    "territory": ("territory", _text),
    "evidence": ("evidence_refs", _list),
    "category": ("template_category", _category),
    "used": ("used", _bool),
    "models": ("used_in_models", _list),
    "source_url": ("source_url", _text),
    "modalities": ("modalities", _list),
    "attribution_required": ("attribution_required", _yes_no),
    "redistribution_allowed": ("redistribution_allowed", _yes_no),
    "size_bytes": ("size_bytes", _int),
    "size_tokens": ("size_tokens", _int),
    "owner": ("owner", _text),
    "notes": ("notes", _text),
}
_ALIASES = {
    "dataset_id": "dataset",
    "snapshot": "version",
    "snapshot_id": "version",
    "version_or_snapshot": "version",
    "license": "licence",
    "licence_id": "licence",
    "license_id": "licence",
    "license_url": "licence_url",
    "commercial": "commercial_use",
    "permitted_commercial": "commercial_use",
    "permitted_derivatives": "derivatives",
    "ai_training_permitted": "ai_training",
    "permitted_ai_training": "ai_training",
    "evidence_link": "evidence",
    "evidence_url": "evidence",
    "evidence_refs": "evidence",
    "template_category": "category",
    "used_in_models": "models",
}
_REQUIRED = ("dataset", "licence", "category")


def _canonical(key: str) -> str:
    k = key.strip().lower().replace("-", "_").replace(" ", "_")
    return _ALIASES.get(k, k)


def _record(raw: dict[str, Any], where: str) -> dict[str, Any]:
    seen: dict[str, str] = {}
    rec: dict[str, Any] = {}
    for key, value in raw.items():
        if key is None:  # csv.DictReader: more cells than header fields
            raise LicenceImportError(f"{where}: more values than header fields")
        field = _canonical(key)
        if field not in _FIELDS:
            raise LicenceImportError(
                f"{where}: unknown field {key!r} (known: {', '.join(sorted(_FIELDS))})"
            )
        if field in seen:
            raise LicenceImportError(
                f"{where}: fields {seen[field]!r} and {key!r} both set {field}"
            )
        seen[field] = key
        column, conv = _FIELDS[field]
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # an empty CSV cell: not stated
        try:
            converted = conv(value)
        except ValueError as exc:
            raise LicenceImportError(f"{where}, field {key!r}: {exc}") from None
        if column == "term":
            rec["term_start"], rec["term_end"] = converted
        else:
            rec[column] = converted
    for field in _REQUIRED:
        if rec.get(_FIELDS[field][0]) in (None, ""):
            raise LicenceImportError(f"{where}: required field {field!r} is missing or empty")
    if rec.get("term_start") and rec.get("term_end") and rec["term_end"] < rec["term_start"]:
        raise LicenceImportError(f"{where}, field 'term': the term ends before it starts")
    rec.setdefault("name", rec["dataset_id"])
    return rec


def parse_licence_file(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Validated licence records from a TOML or CSV file; raises :class:`LicenceImportError`."""
    p = os.fspath(path)
    name = os.path.basename(p)
    try:
        with open(p, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise LicenceImportError(f"{name}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LicenceImportError(f"{name}: not UTF-8 (byte {exc.start})") from None
    if p.lower().endswith(".toml"):
        return _parse_toml(text, name)
    if p.lower().endswith((".csv", ".tsv", ".txt")):
        return _parse_csv(text, name, "\t" if p.lower().endswith(".tsv") else ",")
    raise LicenceImportError(f"{name}: unknown file type (use .toml or .csv)")


def _parse_toml(text: str, name: str) -> list[dict[str, Any]]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LicenceImportError(f"{name}: invalid TOML: {exc}") from None
    entries = doc.get("dataset", doc.get("datasets"))
    other = sorted(set(doc) - {"dataset", "datasets"})
    if other:
        raise LicenceImportError(
            f"{name}: unexpected top-level key {other[0]!r} (use [[dataset]] tables)"
        )
    if not isinstance(entries, list) or not entries:
        raise LicenceImportError(f"{name}: no [[dataset]] entries")
    out = []
    for i, entry in enumerate(entries, 1):
        where = f"{name} [[dataset]] entry {i}"
        if not isinstance(entry, dict):
            raise LicenceImportError(f"{where}: not a table")
        for k, v in entry.items():
            if isinstance(v, dict):
                raise LicenceImportError(f"{where}, field {k!r}: nested tables are not supported")
        out.append(_record(entry, where))
    return out


def _parse_csv(text: str, name: str, delimiter: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    out = []
    try:
        if not reader.fieldnames:
            raise LicenceImportError(f"{name}: empty file (a header row is required)")
        for row in reader:
            where = f"{name} line {reader.line_num}"
            if not any((v or "").strip() for k, v in row.items() if k is not None):
                continue
            out.append(_record({k: v for k, v in row.items()}, where))
    except csv.Error as exc:
        raise LicenceImportError(f"{name} line {reader.line_num}: {exc}") from None
    if not out:
        raise LicenceImportError(f"{name}: no records after the header")
    return out


def import_licences(ledger: Ledger, path: str | os.PathLike[str]) -> tuple[str, int]:
    """Validate ``path`` and append its records to the ledger; returns (run id, records)."""
    records = parse_licence_file(path)
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    run = RunInfo(
        kind="licence-import",
        input_description=os.path.abspath(os.fspath(path)),
        input_sha256=digest,
        config={"command": "licences import"},
    )
    with ledger.writer(run, flush_seconds=None) as w:
        n = w.add_licences(records)
    return run.run_id, n


def build_licences(ledger: Ledger, scope: Scope = Scope()) -> Report:
    rep = new_report("licences", "Licence inventory", ledger, scope.parameters())
    q = start(ledger, scope.variables())
    q.setup("licences_base")
    by_cat = q.table("licences_by_category", "Declared datasets by Template category")
    inventory = q.table(
        "licences_inventory", "Declared licensed datasets", max_rows=None, records_layout=True
    )
    conflicts = q.table("licences_conflicts", "Conflicts: licence terms vs use")
    web = q.table("licences_web", "Licences detected on the web")
    tdm = q.table("licences_tdm_policies", "TDMRep policies found")
    rsl = q.table("licences_rsl", "RSL licence terms found")
    coverage = q.table("scope_page_coverage", "Page-level signals read", kv=True)
    n_conf = len(conflicts.rows)
    rep.sections = [
        Section(
            "summary",
            "1. Summary by Template category",
            serves="Template, sections 1.3, 2.1, 2.2.1, 2.2.2, 2.5 and 2.6",
            paragraphs=[
                "Datasets declared with the command tdmscan licences import. Each import is "
                "appended to "
                "the ledger; the latest record of a dataset version supersedes earlier ones.",
            ],
            tables=[by_cat],
        ),
        Section(
            "inventory",
            "2. Licensed datasets",
            serves="Code of Practice, Measure 1.1; Template, sections 2.1 and 2.2",
            tables=[inventory],
        ),
        Section(
            "conflicts",
            "3. Conflicts",
            serves="Code of Practice, Measure 1.1 (implementation of the copyright policy)",
            paragraphs=[
                (
                    f"{n_conf} conflict(s) need review: datasets marked used whose licence "
                    "prohibits AI training or commercial use, whose term has ended, or whose "
                    "licence is unknown."
                )
                if n_conf
                else "No conflicts: no dataset marked used has a licence that prohibits AI "
                "training or commercial use, an ended term or an unknown licence."
            ],
            tables=[conflicts],
        ),
        Section(
            "web",
            "4. Licences detected on the web",
            serves="Template, section 2.3(viii); Code of Practice, Measure 1.3(2)",
            paragraphs=[
                "Licence statements read from pages (rel=license links, Link headers, JSON-LD) "
                "in runs made with --deep; SPDX identifiers where one exists. "
                f"Scope: {scope.describe()}.",
                page_coverage_text(coverage.one()),
                COUNTING_RULE,
            ],
            tables=[web, coverage],
        ),
        Section(
            "policies",
            "5. TDM policies and RSL terms",
            serves="Code of Practice, Measure 1.3(2); Template, section 3.1",
            paragraphs=[
                "Policies rights holders point to for licensing text and data mining. Contacts "
                "are shown where the fetched document records one.",
            ],
            tables=[tdm, rsl],
        ),
        sources_section(),
    ]
    rep.csv_table = "licences_inventory"
    return finish(rep, q)
