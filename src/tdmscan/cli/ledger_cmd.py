"""``tdmscan ledger verify|compact|repair|export-warc``: tamper evidence and maintenance."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from ._common import key_option

if TYPE_CHECKING:
    from ..ledger import Ledger

ledger_option = click.option(
    "--ledger",
    "ledger_dir",
    required=True,
    metavar="DIR|URI",
    type=click.Path(file_okay=False, path_type=str),
    help="Ledger directory, or s3://, gs://, az:// URI.",
)


def open_ledger(path: str) -> Ledger:
    """An existing ledger, or a usage error (exit 2): reading commands never create one."""
    from ..ledger import Ledger
    from ..ledger.storage import LedgerLocationError, is_object_uri

    if is_object_uri(path):
        from ._common import open_object_ledger

        return open_object_ledger(path, create=False)  # type: ignore[no-any-return]
    try:
        return Ledger(path, create=False)
    except LedgerLocationError as exc:
        raise click.BadParameter(str(exc), param_hint="'--ledger'") from None
    except FileNotFoundError:
        raise click.BadParameter(
            f"{path!r} is not a tdmscan ledger (no chain.jsonl or table folders)",
            param_hint="'--ledger'",
        ) from None


@click.group()
def ledger() -> None:
    """Verify, compact, repair and export a provenance ledger."""


@ledger.command()
@ledger_option
@click.option(
    "--head",
    "expected_head",
    metavar="HASH",
    help="A chain head published earlier; fail unless it is still part of the chain.",
)
@click.option(
    "--trust",
    multiple=True,
    metavar="KEYFILE",
    type=click.Path(dir_okay=False, exists=True, path_type=str),
    help="Public key (.pub from keygen) every signature must come from; repeatable.",
)
@click.option(
    "--tsa-root",
    "tsa_roots",
    multiple=True,
    metavar="PEM",
    type=click.Path(dir_okay=False, exists=True, path_type=str),
    help="Root certificate of the time-stamping authority; each seal's signature must chain "
    "to one of these (without it, seals are checked against the chain but not their "
    "signatures); repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="Print only problems and the head.")
def verify(
    ledger_dir: str,
    expected_head: str | None,
    trust: tuple[str, ...],
    tsa_roots: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Check the hash chain and its signatures, every segment and every snapshot body.

    Exit 0 when clean, 1 when anything is modified, missing, extra, unlinked or not signed by
    the key that signs the rest of the chain (or by a --trust key).
    """
    from ..ledger.signing import KeyError_, load_public_key_id

    try:
        trusted = [load_public_key_id(p) for p in trust] if trust else None
    except KeyError_ as exc:
        raise click.BadParameter(str(exc), param_hint="'--trust'") from None
    led = open_ledger(ledger_dir)
    try:
        rep = led.verify(expected_head=expected_head, trusted=trusted)
    except OSError as exc:
        raise click.ClickException(f"cannot read the ledger: {exc}") from None
    seals = _check_seals(led, tsa_roots)
    seals_ok = all(s.ok for s in seals)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": rep.ok,
                    "head": rep.head,
                    "entries": rep.entries,
                    "segments": rep.segments,
                    "rows": rep.rows,
                    "snapshots_checked": rep.snapshots_checked,
                    "pending": rep.pending,
                    "issues": [_issue(i) for i in rep.issues],
                    "warnings": rep.warnings,
                    "signature": rep.signature,
                    "signers": rep.signers,
                    "unsigned_entries": rep.unsigned_entries,
                    "seals": [
                        {
                            "seal_id": s.seal_id,
                            "chain_head": s.chain_head,
                            "gen_time": s.gen_time.isoformat() if s.gen_time else None,
                            "tsa_url": s.tsa_url,
                            "ok": s.ok,
                            "signature": s.signature,
                            "problems": s.problems,
                        }
                        for s in seals
                    ],
                },
                indent=2,
            )
        )
    else:
        for issue in rep.issues:
            click.echo(f"FAIL {issue}")
        for w in rep.warnings:
            click.echo(f"warning: {w}", err=True)
        if not quiet:
            rows = ", ".join(f"{t} {n:,}" for t, n in sorted(rep.rows.items()))
            click.echo(
                f"{rep.entries} chain entries, {rep.segments} segments ({rows}), "
                f"{rep.snapshots_checked} snapshot bodies re-hashed"
            )
            if rep.pending:
                click.echo(
                    f"{len(rep.pending)} interrupted commit(s) pending (fixed by the next writer)"
                )
            click.echo(signature_line(rep))
        for s in seals:
            if not quiet or not s.ok:
                click.echo(("" if s.ok else "FAIL ") + s.line())
        if not quiet:
            bad = sum(not s.ok for s in seals)
            click.echo(
                "OK" if rep.ok and not bad else f"{len(rep.issues) + bad} problem(s)"
            )
        click.echo(f"chain head: {rep.head}")
    raise SystemExit(0 if rep.ok and seals_ok else 1)


def _check_seals(led: Ledger, roots: tuple[str, ...]) -> list:
    from cryptography import x509

    from ..ledger.seal import verify_seals

    certs = []
    for p in roots:
        try:
            with open(p, "rb") as fh:
                certs.append(x509.load_pem_x509_certificate(fh.read()))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(
                f"{p}: not a PEM certificate ({exc})", param_hint="'--tsa-root'"
            ) from None
    try:
        return verify_seals(led, certs or None)
    except ImportError:
        return []


@ledger.command()
@ledger_option
@click.option("--tsa", "tsa_url", required=True, metavar="URL", help="The TSA's RFC 3161 URL.")
@click.option("--timeout", type=float, default=15.0, show_default=True, help="Seconds.")
def seal(ledger_dir: str, tsa_url: str, timeout: float) -> None:
    """Time-stamp the chain head with an RFC 3161 TSA and store the token in the ledger."""
    try:
        from ..ledger.seal import SealError
        from ..ledger.seal import seal as do_seal
    except ImportError:  # pragma: no cover - the extra is missing
        raise click.ClickException("install tdmscan[seal] (rfc3161-client)") from None
    led = open_ledger(ledger_dir)
    try:
        row = do_seal(led, tsa_url, timeout=timeout)
    except SealError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"sealed chain head {row['chain_head']} ({row['chain_entries']} entries): existed no "
        f"later than {row['gen_time']:%Y-%m-%d %H:%M:%S}Z per {tsa_url} "
        f"(serial {row['serial_number']}); seal {row['seal_id']}"
    )


def signature_line(rep: object) -> str:
    """Who signed the chain, in one line (the key id to compare with the one you published)."""
    signers = getattr(rep, "signers", {})
    unsigned = getattr(rep, "unsigned_entries", 0)
    if not signers:
        return (
            "unsigned: chain entries carry no signature (create a key with `tdmscan ledger "
            "keygen` and pass --key to writers)"
        )
    who = ", ".join(f"ed25519 key {k} ({n} entries)" for k, n in sorted(signers.items()))
    extra = f"; {unsigned} unsigned entries before signing began" if unsigned else ""
    return f"signed by {who}{extra}"


@ledger.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=str))
def keygen(path: str) -> None:
    """Create an Ed25519 signing key for ledger chain entries (PATH and PATH.pub)."""
    from ..ledger.signing import generate_key

    try:
        kid, pub = generate_key(path)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; not overwriting a key") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
    click.echo(f"key id {kid}")
    click.echo(f"private key: {path} (keep it secret; pass it as --key to writers)")
    click.echo(f"public key:  {pub} (publish it; verify with --trust {pub})")


def _issue(i: object) -> dict[str, str]:
    return {k: getattr(i, k) for k in ("kind", "path", "detail")}


@ledger.command()
@ledger_option
@key_option
@click.option(
    "--small-rows",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Segments with fewer rows are merged.",
)
@click.option(
    "--target-rows",
    default=1_000_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Upper bound of rows per merged segment.",
)
def compact(ledger_dir: str, small_rows: int, target_rows: int) -> None:
    """Merge small segments per table partition (the chain records what each replaces)."""
    from ..ledger import LedgerDamaged

    led = open_ledger(ledger_dir)
    try:
        rep = led.compact(small_rows=small_rows, target_rows=target_rows)
    except LedgerDamaged as exc:
        raise click.ClickException(f"nothing compacted: {exc}") from None
    except OSError as exc:
        raise click.ClickException(f"compaction failed: {exc}") from None
    click.echo(
        f"merged {rep.merged} segments into {rep.written} ({rep.rows:,} rows); "
        f"removed {rep.removed_tmp} stale temporary files"
    )
    click.echo(f"chain head: {led.head()}")


@ledger.command()
@ledger_option
def repair(ledger_dir: str) -> None:
    """Move damaged segments to quarantine/ (the chain records each move), then verify.

    A segment whose bytes no longer match the chain, or that is missing, is taken out of its
    table: its rows are no longer read, and the chain entry saying so keeps the history whole.
    Exit 0 when the ledger verifies afterwards, 1 when problems remain that moving files
    cannot fix (a broken chain).
    """
    led = open_ledger(ledger_dir)
    try:
        moved = led.repair()
    except (OSError, ValueError) as exc:  # ValueError: an object-store ledger (local only)
        raise click.ClickException(f"cannot repair the ledger: {exc}") from None
    for d in moved:
        click.echo(f"quarantined {d}")
    if not moved:
        click.echo("no damaged segment found")
    rep = led.verify()
    for issue in rep.issues:
        click.echo(f"FAIL {issue}")
    click.echo("OK" if rep.ok else f"{len(rep.issues)} problem(s) remain")
    click.echo(f"chain head: {rep.head}")
    raise SystemExit(0 if rep.ok else 1)


@ledger.command("export-warc")
@ledger_option
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=str),
    help="WARC file to write (gzip per record when it ends in .gz).",
)
def export_warc(ledger_dir: str, output: str) -> None:
    """Write every snapshot as a WARC response record (original status, headers, fetch time)."""
    led = open_ledger(ledger_dir)
    try:
        n = led.export_warc(output)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc}") from None
    click.echo(f"wrote {n} response records to {output}")
