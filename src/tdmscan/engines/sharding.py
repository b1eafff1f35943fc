"""The engine-agnostic primitive: audit one shard of a manifest into a shared ledger.

A shard is every origin whose registrable domain satisfies ``md5_number(domain) % n == k``
(:func:`tdmscan.ledger.shard_of`), so one site's hosts are always fetched by one worker and
each robots.txt is requested once in the whole cluster. :func:`run_shard` is what
``tdmscan audit --shard K/N`` runs, what a Slurm array task or a Kubernetes indexed job runs,
and what each Ray actor runs; any other engine (Dask, Spark ``mapInArrow``) can call it too.

Shards of one run share a run id. Running a shard of a run that already holds decisions is a
resume: the (input_row, agent) pairs already on disk are skipped, so a retried or relaunched
shard never decides a row twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..audit.manifest import Manifest, ManifestOptions, open_manifest
from ..audit.plan import PlanStats
from ..audit.progress import Reporter
from ..audit.runner import AuditConfig, AuditResult, AuditRunner
from ..ledger import Ledger, registrable_domain, shard_of
from ..ledger.storage import normalise
from ..urls import InvalidURL, parse_url

__all__ = ["LedgerFactory", "run_shard", "shard_of_url", "shard_status"]

#: Builds the :class:`Ledger` a worker writes to from the ledger path (the default is
#: ``Ledger``); an extension point for wrapped ledgers, and for fault injection in tests.
LedgerFactory = Callable[[str], Ledger]


def shard_of_url(url: str, n: int) -> int:
    """The shard (of ``n``) that owns ``url``; rows that are not URLs share the empty domain's."""
    try:
        host: str | None = parse_url(url).host
    except InvalidURL:
        host = None
    return shard_of(registrable_domain(host), n)


def run_shard(
    manifest: str | os.PathLike[str] | Manifest,
    ledger: str | os.PathLike[str] | Ledger,
    config: AuditConfig,
    *,
    shard: tuple[int, int] | None,
    run_id: str | None = None,
    options: ManifestOptions | None = None,
    input_sha256: str | None = None,
    reporter: Reporter | None = None,
    on_plan: Callable[[PlanStats], None] | None = None,
    on_runner: Callable[[AuditRunner], None] | None = None,
    ledger_factory: LedgerFactory | None = None,
) -> AuditResult:
    """Audit shard ``(k, n)`` of ``manifest`` (all of it when ``shard`` is None) into ``ledger``.

    ``run_id`` names the run every shard writes; if it already exists this shard resumes it.
    ``input_sha256`` spares each shard re-hashing the manifest when the caller did it once.
    ``on_runner`` receives the runner before it starts, so a caller can read its live
    counters from another thread (the Ray actor's progress method does).
    """
    if shard is not None:
        k, n = shard
        if n < 1 or not 0 <= k < n:
            raise ValueError(f"shard {k}/{n} out of range")
    m = manifest if isinstance(manifest, Manifest) else open_manifest(Path(manifest), options)
    led = ledger if isinstance(ledger, Ledger) else (ledger_factory or Ledger)(normalise(ledger))
    # A worker killed between appending a chain entry and renaming its segment leaves the
    # rows in a temporary file. Finishing that commit now, before the runner lists what is
    # already decided, keeps those rows from being decided a second time.
    led.recover()
    runner = AuditRunner(
        m,
        led,
        replace(config, shard=shard),
        reporter=reporter,
        run_id=run_id,
        input_sha256=input_sha256,
        on_plan=on_plan,
    )
    if on_runner is not None:
        on_runner(runner)
    return runner.run()


def shard_status(ledger: Ledger, run_id: str) -> dict[int, str]:
    """Latest status (running | finished | interrupted) of each shard that wrote ``run_id``.

    Each shard's writer records its own state rows (``runs.shard_k`` / ``shard_n``); this is
    the ``run_shards`` view. The run's own row in ``runs`` combines them: ``finished`` only
    when every shard k in ``range(n)`` is.
    """
    con = ledger.connect()
    try:
        rows = con.execute(
            "SELECT shard_k, status FROM run_shards WHERE run_id = ? ORDER BY shard_k",
            [run_id],
        ).fetchall()
    finally:
        con.close()
    return {int(k): str(status) for k, status in rows}
