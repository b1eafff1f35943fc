"""The complaints register (Code of Practice, copyright chapter, measure 1.5).

A complaint is an event log in the ledger's ``complaints`` table, chained like every segment:
``received`` (who, when, which domains and URLs, the claim), ``rechecked`` (the run that
re-decided the named URLs, and the decision ids it wrote) and ``resolved`` (the outcome and
when). A complaint that names domains can exclude them until it is resolved
(``exclude_until_resolved``): :func:`open_complaint_exclusions` turns those into an exclusion
list that ``check`` and ``audit`` apply to the ledger they write to (reason
``complaint:open``).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .signals.exclusions import ExclusionEntry, ExclusionList
from .urls import InvalidURL, parse_url

__all__ = [
    "Complaint",
    "add_complaint",
    "complaint_targets",
    "list_complaints",
    "open_complaint_exclusions",
    "recheck",
    "resolve_complaint",
]

COMPLAINT_REASON = "complaint:open"


@dataclass(frozen=True, slots=True)
class Complaint:
    complaint_id: str
    received_at: datetime
    complainant: str
    domains: tuple[str, ...]
    urls: tuple[str, ...]
    claim: str
    contact: str | None = None
    exclude_until_resolved: bool = False


def _new_id(now: datetime) -> str:
    return f"c-{now:%Y%m%d}-{secrets.token_hex(4)}"


def _run(ledger: Any, kind: str, events: list[dict[str, Any]]) -> str:
    from .ledger import RunInfo

    run = RunInfo(kind=kind, config={"command": f"complaints {kind.split('-', 1)[-1]}"})
    with ledger.writer(run, flush_seconds=None) as w:
        w.add_complaint_events(events)
    return run.run_id


def add_complaint(
    ledger: Any,
    *,
    complainant: str,
    claim: str,
    domains: Sequence[str] = (),
    urls: Sequence[str] = (),
    received_at: datetime | None = None,
    contact: str | None = None,
    exclude_until_resolved: bool = False,
) -> Complaint:
    """Record a received complaint; raises ValueError for a complaint that names nothing."""
    if not complainant.strip():
        raise ValueError("a complaint needs a complainant")
    if not claim.strip():
        raise ValueError("a complaint needs a claim")
    clean_urls = []
    for u in urls:
        try:
            clean_urls.append(parse_url(u).url)
        except InvalidURL as exc:
            raise ValueError(f"not an http(s) URL: {u!r} ({exc.reason})") from None
    clean_domains = []
    for d in domains:
        dom = d.strip().lower().rstrip(".")
        if "://" in dom:
            dom = dom.split("://", 1)[1].split("/", 1)[0]
        if not dom or "." not in dom or " " in dom:
            raise ValueError(f"not a domain name: {d!r}")
        clean_domains.append(dom)
    if not clean_urls and not clean_domains:
        raise ValueError("a complaint must name at least one URL or domain")
    if exclude_until_resolved and not clean_domains:
        raise ValueError("--exclude-until-resolved needs at least one --domain")
    now = datetime.now(UTC)
    received = received_at or now
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    c = Complaint(
        complaint_id=_new_id(now),
        received_at=received,
        complainant=complainant.strip(),
        domains=tuple(dict.fromkeys(clean_domains)),
        urls=tuple(dict.fromkeys(clean_urls)),
        claim=claim.strip(),
        contact=contact,
        exclude_until_resolved=exclude_until_resolved,
    )
    _run(
        ledger,
        "complaint-add",
        [
            {
                "complaint_id": c.complaint_id,
                "event": "received",
                "received_at": c.received_at,
                "complainant": c.complainant,
                "contact": c.contact,
                "domains": list(c.domains),
                "urls": list(c.urls),
                "claim": c.claim,
                "status": "open",
                "exclude_until_resolved": c.exclude_until_resolved,
            }
        ],
    )
    return c


def _state(ledger: Any, complaint_id: str | None = None) -> list[dict[str, Any]]:
    con = ledger.connect()
    sql = "SELECT * FROM complaints_state"
    params: list[Any] = []
    if complaint_id is not None:
        sql += " WHERE complaint_id = ?"
        params.append(complaint_id)
    rel = con.execute(sql + " ORDER BY received_at, complaint_id", params)
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def list_complaints(ledger: Any, status: str | None = None) -> list[dict[str, Any]]:
    """Every complaint's current state (``status``: open / resolved to filter)."""
    rows = _state(ledger)
    return [r for r in rows if status is None or r["status"] == status]


def resolve_complaint(
    ledger: Any,
    complaint_id: str,
    resolution: str,
    *,
    note: str | None = None,
    resolved_at: datetime | None = None,
) -> dict[str, Any]:
    """Record the outcome of an open complaint; raises ValueError (unknown id, already resolved)."""
    rows = _state(ledger, complaint_id)
    if not rows:
        raise ValueError(f"no complaint {complaint_id!r} in this ledger")
    if rows[0]["status"] == "resolved":
        raise ValueError(f"complaint {complaint_id} is already resolved")
    if not resolution.strip():
        raise ValueError("a resolution is required")
    when = resolved_at or datetime.now(UTC)
    _run(
        ledger,
        "complaint-resolve",
        [
            {
                "complaint_id": complaint_id,
                "event": "resolved",
                "status": "resolved",
                "resolution": resolution.strip(),
                "resolved_at": when,
                "note": note,
            }
        ],
    )
    return _state(ledger, complaint_id)[0]


def complaint_targets(row: dict[str, Any]) -> list[str]:
    """The URLs a re-check decides: the named URLs, and each named domain's home page."""
    out = list(row.get("urls") or [])
    for d in row.get("domains") or []:
        out.append(f"https://{d}/")
    return list(dict.fromkeys(out))


def recheck(
    ledger: Any,
    complaint_ids: Sequence[str] | None = None,
    *,
    scanner_kw: dict[str, Any] | None = None,
) -> dict[str, tuple[str, list[str]]]:
    """Re-decide the URLs of the given complaints (default: every open complaint not yet
    rechecked) in one ``recheck`` run, and link each complaint to the run and the decision ids
    it got. Returns ``{complaint_id: (run_id, decision_ids)}``."""
    from .ledger import RunInfo
    from .ledger.recorder import SiteRecorder
    from .scanner import Scanner

    rows = _state(ledger)
    if complaint_ids is None:
        todo = [r for r in rows if r["status"] == "open" and r["recheck_run_id"] is None]
    else:
        known = {r["complaint_id"]: r for r in rows}
        missing = [c for c in complaint_ids if c not in known]
        if missing:
            raise ValueError(f"no complaint {missing[0]!r} in this ledger")
        todo = [known[c] for c in complaint_ids]
    if not todo:
        return {}
    kw = dict(scanner_kw or {})
    kw.setdefault("agents", ["tdmscan"])
    run = RunInfo(
        kind="recheck",
        agents=tuple(kw["agents"]),
        config={"command": "complaints recheck", "complaints": [r["complaint_id"] for r in todo]},
    )
    targets = {r["complaint_id"]: complaint_targets(r) for r in todo}
    all_urls = list(dict.fromkeys(u for us in targets.values() for u in us))

    with ledger.writer(run, flush_seconds=None) as w:
        recorder = SiteRecorder(w)

        async def go() -> None:
            async with Scanner(ledger=recorder, **kw) as s:
                for u in all_urls:
                    await s.check_all(u, deep=True)

        asyncio.run(go())
    con = ledger.connect()
    got: dict[str, list[str]] = {}
    for url, did in con.execute(
        "SELECT url, decision_id FROM decisions WHERE run_id = ? ORDER BY decision_id",
        [run.run_id],
    ).fetchall():
        got.setdefault(url, []).append(did)
    out = {}
    events = []
    for cid, urls in targets.items():
        ids = [d for u in urls for d in got.get(parse_url(u).url, [])]
        out[cid] = (run.run_id, ids)
        events.append(
            {
                "complaint_id": cid,
                "event": "rechecked",
                "recheck_run_id": run.run_id,
                "decision_ids": ids,
            }
        )
    _run(ledger, "complaint-recheck", events)
    return out


def open_complaint_exclusions(ledger: Any) -> ExclusionList | None:
    """The domains of open complaints marked ``exclude_until_resolved`` as an exclusion list
    (name ``complaints``, version: a digest of the complaint ids), or None when there are none."""
    rows = [r for r in _state(ledger) if r["status"] == "open" and r["exclude_until_resolved"]]
    entries: dict[str, ExclusionEntry] = {}
    for r in rows:
        for d in r["domains"] or []:
            # The named domain and its subdomains, not its whole registrable domain: a
            # complaint about blog.example.com does not speak for shop.example.com.
            entries.setdefault(
                d,
                ExclusionEntry(
                    d,
                    f"complaint {r['complaint_id']} from {r['complainant']}: {r['claim'][:200]}",
                    f"{r['received_at']:%Y-%m-%d}",
                ),
            )
    if not entries:
        return None
    ids = ",".join(sorted(r["complaint_id"] for r in rows))
    return ExclusionList(
        name="complaints",
        version="open:" + hashlib.sha256(ids.encode()).hexdigest()[:12],
        date=None,
        entries=entries,
        kind="complaints",
        reason=COMPLAINT_REASON,
    )
