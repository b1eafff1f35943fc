"""``tdmscan serve``: the Scanner, its cache and the ledger as a JSON HTTP service."""

from __future__ import annotations

import asyncio
import ipaddress
import sys
from pathlib import Path
from typing import Any

import click

from ._common import agent_options, fail, fetch_options, open_ledger, quiet_option


def _read_token(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"--token-file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise fail(f"--token-file {path}: not UTF-8 text") from exc
    token = text.strip()
    if not token:
        raise fail(f"--token-file {path}: empty")
    if any(ch.isspace() for ch in token) or not token.isprintable():
        raise fail(f"--token-file {path}: the token must be one line without spaces")
    return token


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option(
    "--ledger",
    "ledger_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Ledger every decision is recorded in (one run per server lifetime).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8787,
    show_default=True,
    help="Port to listen on (0: any free port, printed at start).",
)
@agent_options
@click.option(
    "--training-agents/--no-training-agents",
    default=True,
    show_default=True,
    help="Decide for the catalogue's AI-training agents too when a request asks all=true.",
)
@click.option(
    "--terms",
    is_flag=True,
    help="Also find and read each origin's terms-of-use page for natural-language reservations "
    "(tos:* reasons; one more fetch per origin).",
)
@fetch_options(default_timeout=10.0)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File holding a bearer token every route but /healthz then requires.",
)
@click.option(
    "--max-urls",
    type=click.IntRange(1),
    default=10_000,
    show_default=True,
    help="URLs per POST /v1/check at most.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1),
    default=4 << 20,
    show_default=True,
    help="Request body size cap.",
)
@click.option(
    "--batch-concurrency",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    help="Checks in flight per POST /v1/check.",
)
@click.option(
    "--fetch-concurrency",
    type=click.IntRange(2),
    default=512,
    show_default=True,
    help="Fetches in flight at once; a dead origin holds one until --timeout.",
)
@click.option(
    "--flush-seconds",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="Ledger flush interval: what a SIGKILL can lose at most (SIGTERM loses nothing).",
)
@quiet_option
def serve(
    ledger_dir: Path,
    host: str,
    port: int,
    agents: tuple[str, ...],
    mode: str,
    purpose: str,
    training_agents: bool,
    terms: bool,
    timeout: float,
    ttl: float | None,
    user_agent: str | None,
    allow_private: bool,
    token_file: Path | None,
    max_urls: int,
    max_body_bytes: int,
    batch_concurrency: int,
    fetch_concurrency: int,
    flush_seconds: float,
    quiet: bool,
) -> None:
    """Serve decisions over HTTP for crawlers in any language, recording each in the ledger.

    GET /v1/check?url=...&agent=...&purpose=..., POST /v1/check (a JSON array or lines of
    URLs, answered as NDJSON in order), POST /v1/response (a fetched page), GET /healthz,
    GET /metrics, GET /openapi.json. Stops on SIGTERM or Ctrl-C, flushing the ledger.
    """
    from ..serve import ServeConfig
    from ..serve import serve as run

    token = _read_token(token_file) if token_file is not None else None
    ledger = open_ledger(ledger_dir)
    config = ServeConfig(
        ledger=ledger,
        agents=agents,
        purpose=purpose,
        mode=mode,
        training_agents=training_agents,
        terms=terms,
        host=host,
        port=port,
        token=token,
        timeout=timeout,
        ttl=ttl,
        user_agent=user_agent,
        allow_private=allow_private,
        max_body_bytes=max_body_bytes,
        max_urls=max_urls,
        batch_concurrency=batch_concurrency,
        fetch_concurrency=fetch_concurrency,
        flush_seconds=flush_seconds,
    )
    if not _is_loopback(host) and token is None:
        click.echo(
            f"warning: listening on {host} without --token-file: anyone who can reach it "
            "can use this server and write to its ledger",
            err=True,
        )

    def ready(url: str, gate: Any) -> None:
        if not quiet:
            click.echo(
                f"tdmscan serve: listening on {url} (ledger {ledger.root}, run {gate.run_id}, "
                f"flush every {flush_seconds:g} s)",
                err=True,
            )
        else:
            click.echo(url, err=True)
        sys.stderr.flush()

    try:
        gate = asyncio.run(run(config, ready=ready))
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    if not quiet:
        w = gate.stats()
        click.echo(
            f"tdmscan serve: stopped; run {gate.run_id} finished with "
            f"{w.get('decisions_written', 0)} decisions recorded",
            err=True,
        )
