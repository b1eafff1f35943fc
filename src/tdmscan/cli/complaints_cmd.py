"""``tdmscan complaints``: the complaints register (Code of Practice measure 1.5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from ._common import agent_options, fail, open_ledger

_LEDGER = click.option(
    "--ledger",
    "ledger_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The ledger holding the complaints register.",
)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{name} {value!r}: expected an ISO date or date-time (2026-03-01)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@click.group()
def complaints() -> None:
    """Record rightsholders' complaints, re-check what they name, and resolve them."""


@complaints.command("add")
@_LEDGER
@click.option("--complainant", required=True, help="Who complains (name, organisation).")
@click.option("--contact", help="How to reach the complainant.")
@click.option("--claim", required=True, help="What is claimed, in the complainant's terms.")
@click.option("--url", "urls", multiple=True, help="A URL concerned; repeatable.")
@click.option("--domain", "domains", multiple=True, help="A domain concerned; repeatable.")
@click.option("--received", help="When the complaint was received (ISO date); default now.")
@click.option(
    "--exclude-until-resolved",
    is_flag=True,
    help="Exclude the named domains (and subdomains) from every later check and audit "
    "recorded in this ledger until the complaint is resolved (reason complaint:open).",
)
@click.option(
    "--recheck/--no-recheck",
    default=True,
    show_default=True,
    help="Re-decide the named URLs and domains now (a recheck run linked to the complaint); "
    "--no-recheck queues them for `tdmscan complaints recheck`.",
)
@agent_options
@click.option("--allow-private", is_flag=True, help="Let the re-check fetch private addresses.")
@click.option("--json", "as_json", is_flag=True, help="Print the complaint as JSON.")
def add(
    ledger_dir: Path,
    complainant: str,
    contact: str | None,
    claim: str,
    urls: tuple[str, ...],
    domains: tuple[str, ...],
    received: str | None,
    exclude_until_resolved: bool,
    recheck: bool,
    agents: tuple[str, ...],
    mode: str,
    purpose: str,
    allow_private: bool,
    as_json: bool,
) -> None:
    """Record a complaint received from a rightsholder."""
    from ..complaints import add_complaint
    from ..complaints import recheck as do_recheck

    led = open_ledger(ledger_dir)
    try:
        c = add_complaint(
            led,
            complainant=complainant,
            claim=claim,
            domains=domains,
            urls=urls,
            received_at=_when(received, "--received"),
            contact=contact,
            exclude_until_resolved=exclude_until_resolved,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    linked: tuple[str, list[str]] | None = None
    if recheck:
        kw: dict[str, Any] = {
            "agents": list(agents),
            "mode": mode,
            "purpose": purpose,
            "allow_private": allow_private,
            "include_training_agents": False,
        }
        linked = do_recheck(led, [c.complaint_id], scanner_kw=kw).get(c.complaint_id)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "complaint_id": c.complaint_id,
                    "recheck_run_id": linked[0] if linked else None,
                    "decision_ids": linked[1] if linked else [],
                }
            )
        )
        return
    click.echo(c.complaint_id)
    if linked:
        click.echo(f"re-checked in run {linked[0]}: {len(linked[1])} decisions linked", err=True)
    else:
        click.echo("queued for `tdmscan complaints recheck`", err=True)


@complaints.command("list")
@_LEDGER
@click.option("--status", type=click.Choice(["open", "resolved"]), help="Only these.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, one per complaint.")
def list_cmd(ledger_dir: Path, status: str | None, as_json: bool) -> None:
    """List the complaints and their state."""
    from ..complaints import list_complaints

    led = open_ledger(ledger_dir, create=False)
    for r in list_complaints(led, status):
        if as_json:
            click.echo(json.dumps(r, default=str))
            continue
        named = ", ".join([*(r["domains"] or []), *(r["urls"] or [])])
        checked = "rechecked" if r["recheck_run_id"] else "not rechecked"
        click.echo(
            f"{r['complaint_id']}\t{r['status']}\t{r['received_at']:%Y-%m-%d}\t"
            f"{r['complainant']}\t{named}\t{checked}\t{r['resolution'] or ''}"
        )


@complaints.command("resolve")
@_LEDGER
@click.argument("complaint_id")
@click.option(
    "--resolution",
    required=True,
    help="The outcome, e.g. excluded, already-excluded, rejected, licensed.",
)
@click.option("--note", help="Free text kept with the resolution.")
@click.option("--resolved", help="When it was resolved (ISO date); default now.")
def resolve(
    ledger_dir: Path, complaint_id: str, resolution: str, note: str | None, resolved: str | None
) -> None:
    """Record the outcome of an open complaint."""
    from ..complaints import resolve_complaint

    led = open_ledger(ledger_dir, create=False)
    try:
        resolve_complaint(
            led, complaint_id, resolution, note=note, resolved_at=_when(resolved, "--resolved")
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    click.echo(f"{complaint_id} resolved: {resolution}")


@complaints.command("recheck")
@_LEDGER
@click.argument("complaint_ids", nargs=-1)
@agent_options
@click.option("--allow-private", is_flag=True, help="Let the re-check fetch private addresses.")
def recheck_cmd(
    ledger_dir: Path,
    complaint_ids: tuple[str, ...],
    agents: tuple[str, ...],
    mode: str,
    purpose: str,
    allow_private: bool,
) -> None:
    """Re-decide what complaints name (default: every open complaint not yet re-checked)."""
    from ..complaints import recheck

    led = open_ledger(ledger_dir, create=False)
    kw: dict[str, Any] = {
        "agents": list(agents),
        "mode": mode,
        "purpose": purpose,
        "allow_private": allow_private,
        "include_training_agents": False,
    }
    try:
        done = recheck(led, list(complaint_ids) or None, scanner_kw=kw)
    except ValueError as exc:
        raise fail(str(exc)) from None
    for cid, (run_id, ids) in done.items():
        click.echo(f"{cid}\t{run_id}\t{len(ids)} decisions")
    if not done:
        click.echo("nothing to re-check", err=True)
