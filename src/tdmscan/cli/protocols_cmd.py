"""``tdmscan protocols``: the protocol registry this build applies."""

from __future__ import annotations

import json

import click

from ._common import fail


@click.command("protocols")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
@click.argument("protocol_id", required=False)
def protocols(as_json: bool, protocol_id: str | None) -> None:
    """List the protocols tdmscan reads: spec, version, legal standing, last review."""
    from ..signals.registry import load_registry

    reg = load_registry()
    entries = list(reg.protocols)
    if protocol_id is not None:
        entry = reg.get(protocol_id)
        if entry is None:
            known = ", ".join(p.id for p in entries)
            raise fail(f"unknown protocol {protocol_id!r} (known: {known})")
        entries = [entry]
    if as_json:
        doc = {
            "registry_version": reg.version,
            "protocols": [
                {
                    "id": p.id,
                    "name": p.name,
                    "spec": p.spec,
                    "version": p.version,
                    "url": p.url,
                    "read_from": list(p.read_from),
                    "legal_standing": p.legal_standing,
                    "tier": p.tier,
                    "reviewed": p.reviewed,
                }
                for p in entries
            ],
        }
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    click.echo(f"protocol registry {reg.version} ({len(entries)} protocols)")
    for p in entries:
        click.echo("")
        click.echo(f"{p.id}: {p.name}")
        click.echo(f"  version         {p.version}")
        click.echo(f"  specification   {p.spec}" + (f" <{p.url}>" if p.url else ""))
        click.echo(f"  legal standing  {p.legal_standing}: {p.tier}")
        click.echo(f"  read from       {'; '.join(p.read_from)}")
        click.echo(f"  last reviewed   {p.reviewed}")
