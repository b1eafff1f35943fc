"""``tdmscan audit MANIFEST --ledger DIR``: decide every URL of a manifest into the ledger."""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from ._common import (
    agent_options,
    allow_damaged_option,
    exclude_list_option,
    fail,
    fetch_options,
    key_option,
    open_ledger,
    quiet_option,
    stderr_console,
    stderr_is_terminal,
    stdout_console,
)

_SHARD_RE = re.compile(r"^\s*(\d*)\s*/\s*(\d+)\s*$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str, name: str) -> float:
    """``24h``, ``90m``, ``2d``, ``3600`` (seconds) -> seconds."""
    m = _DURATION_RE.match(value)
    if not m:
        raise fail(f"{name} {value!r}: expected a duration such as 24h, 90m, 2d")
    return float(m.group(1)) * _UNITS[m.group(2)]


_INDEX_ENV = ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX")


def parse_shard(
    value: str | None, num_shards: int | None, env: dict[str, str]
) -> tuple[int, int] | None:
    """``K/N``; K omitted (``/N``) or ``--num-shards N`` alone takes K from the job array env."""
    n: int | None = None
    k: int | None = None
    if value:
        m = _SHARD_RE.match(value)
        if not m:
            raise fail(f"--shard {value!r}: expected K/N, e.g. 3/16")
        k = int(m.group(1)) if m.group(1) else None
        n = int(m.group(2))
        if num_shards is not None and num_shards != n:
            raise fail("--shard and --num-shards disagree")
    elif num_shards is not None:
        n = num_shards
    if n is None:
        return None
    if n < 1:
        raise fail("shard count must be at least 1")
    if k is None:
        for name in _INDEX_ENV:
            raw = env.get(name)
            if raw is None or not raw.strip():
                continue
            try:
                k = int(raw)
            except ValueError as exc:
                raise fail(f"{name}={raw!r} is not a shard index") from exc
            if name == "SLURM_ARRAY_TASK_ID" and env.get("SLURM_ARRAY_TASK_MIN", "").isdigit():
                # --array=1-16 numbers tasks from 1; shards are numbered from 0.
                k -= int(env["SLURM_ARRAY_TASK_MIN"])
            break
        if k is None:
            raise fail(
                f"shard index missing: give --shard K/{n}, or run as a job array "
                f"({' or '.join(_INDEX_ENV)} set)"
            )
    if not 0 <= k < n:
        raise fail(f"shard {k} out of range for {n} shards (0..{n - 1})")
    return (k, n)


def storage_failure(
    exc: OSError, root: Any, manifest: str, ledger_dir: Any, runner: Any, shard_kv: Any
) -> str:
    """One line for an audit that stopped on an OS error: what, where, and the resume command."""
    what = exc.strerror or type(exc).__name__
    where = exc.filename or root
    run_id = getattr(runner.result, "run_id", None) or getattr(runner, "run_id", None)
    resume = f"--resume {run_id}" if run_id else "--resume"
    shard = f" --shard {shard_kv[0]}/{shard_kv[1]}" if shard_kv else ""
    return (
        f"cannot write the ledger: {what} ({where}); decisions committed before this are kept. "
        f"Fix it, then resume with: tdmscan audit {manifest} --ledger {ledger_dir} {resume}{shard}"
    )


@click.command()
@click.argument("manifest", metavar="MANIFEST")
@click.option(
    "--ledger",
    "ledger_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Ledger directory to write (created when missing).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["txt", "csv", "tsv", "jsonl", "parquet"]),
    default=None,
    help="Manifest format [default: from the file extension, else sniffed].",
)
@click.option("--url-column", metavar="NAME", help="Column holding the URL [default: url].")
@click.option(
    "--size-column",
    metavar="NAME",
    help="Column with the content size, recorded as content_size "
    "[default for the Common Crawl index: warc_record_length / content_length].",
)
@click.option("--dataset-column", metavar="NAME", help="Column with a dataset or snapshot id.")
@click.option("--dataset-id", metavar="ID", help="Dataset or snapshot id for every row.")
@click.option(
    "--captured-at-column",
    metavar="NAME",
    help="Column with each URL's capture time (14-digit yyyymmddhhmmss or ISO 8601), kept as "
    "captured_at [default: captured_at, timestamp (Common Crawl CDX), fetch_time (columnar "
    "index) or WARC-Date when present].",
)
@click.option(
    "--as-of",
    "as_of",
    metavar="archive|DATE",
    default=None,
    help="Decide against archived site files instead of the live web: 'archive' uses each "
    "row's capture time, a date (2024-03-01) or ISO time uses that time for every row. "
    "Needs --archive.",
)
@click.option(
    "--archive",
    "archive",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="INDEX_OR_WARC",
    help="Archive to decide against: an index from 'tdmscan archive index', or WARC files / "
    "directories (indexed for this run). Repeatable.",
)
@click.option(
    "--window-before",
    default="24h",
    show_default=True,
    help="How long before a URL's capture time an archived copy may be (it is preferred).",
)
@click.option(
    "--window-after",
    default="24h",
    show_default=True,
    help="How long after the capture time a copy may be, when none precedes it in the window.",
)
@agent_options
@click.option(
    "--training-agents/--no-training-agents",
    default=False,
    show_default=True,
    help="Also decide for the catalogue's AI-training agents (one ledger row per URL per agent).",
)
@click.option("--deep", is_flag=True, help="Also fetch each page's head for page-level signals.")
@exclude_list_option
@click.option(
    "--terms",
    is_flag=True,
    help="Also find each origin's terms-of-use page (home-page link or well-known path), keep "
    "it as a snapshot and read it for natural-language reservations (tos:* reasons, inferred).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 10_000),
    default=200,
    show_default=True,
    help="Origins fetched at once.",
)
@fetch_options(default_timeout=15.0)
@click.option(
    "--shard",
    metavar="K/N",
    default=None,
    help="Only origins whose registrable domain hashes to shard K of N (K from "
    "SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX when written /N).",
)
@click.option(
    "--num-shards",
    type=int,
    default=None,
    metavar="N",
    help="Shard count; the index comes from SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX.",
)
@click.option(
    "--resume",
    "resume",
    is_flag=False,
    flag_value="auto",
    default=None,
    metavar="[RUN_ID]",
    help="Continue an unfinished run (the latest for this manifest when no id is given). "
    "Without this option an unfinished run of the same manifest and settings is resumed "
    "automatically.",
)
@click.option(
    "--new-run",
    is_flag=True,
    help="Always start a new run, even if an unfinished one matches.",
)
@click.option(
    "--run-id",
    metavar="ID",
    default=None,
    help="Run id to use; continued if it exists. Shard jobs without it share the run id "
    "derived from the manifest and the decision settings.",
)
@click.option(
    "--rerun",
    metavar="LABEL",
    default=None,
    help="With --shard: audit a manifest again although its derived run finished; every job "
    "of the array passes the same LABEL and they share a new run.",
)
@click.option(
    "--memory-limit",
    default="1GB",
    show_default=True,
    help="DuckDB memory limit for planning; beyond it the plan spills to --tmp-dir.",
)
@click.option(
    "--tmp-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the plan spills (and stdin is spooled) [default: the system temp dir].",
)
@click.option(
    "--fetcher",
    type=click.Choice(["aiohttp", "httpx"]),
    default="aiohttp",
    show_default=True,
    hidden=True,
)
@click.option("--flush-rows", type=click.IntRange(1), default=10_000, hidden=True)
@click.option(
    "--commit-seconds",
    type=click.FloatRange(0.1),
    default=2.0,
    show_default=True,
    help="Commit decisions to the ledger at least this often, so a killed run loses at most "
    "about this much work (resume redoes it).",
)
@click.option(
    "--fetch-process",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Fetch origins' files in a second process, so fetching and deciding use two cores "
    "(auto: with 1,000+ origins, more than one CPU and no --deep).",
)
@click.option(
    "--progress-interval",
    type=float,
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between progress lines when stderr is not a terminal.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this process; ray: partitions on a Ray cluster (pip install 'tdmscan[ray]').",
)
@click.option(
    "--address", metavar="ADDR", help="Ray cluster address [default: RAY_ADDRESS or local]."
)
@click.option(
    "--partitions",
    type=click.IntRange(1),
    metavar="N",
    help="Ray: registrable-domain partitions [default: one per worker CPU].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@quiet_option
@allow_damaged_option
@key_option
def audit(
    manifest: str,
    ledger_dir: str,
    fmt: str | None,
    url_column: str | None,
    size_column: str | None,
    dataset_column: str | None,
    dataset_id: str | None,
    captured_at_column: str | None,
    as_of: str | None,
    archive: tuple[Path, ...],
    window_before: str,
    window_after: str,
    agents: tuple[str, ...],
    mode: str,
    purpose: str,
    training_agents: bool,
    deep: bool,
    exclude_lists: list[Any],
    terms: bool,
    concurrency: int,
    timeout: float,
    ttl: float | None,
    user_agent: str | None,
    allow_private: bool,
    shard: str | None,
    num_shards: int | None,
    resume: str | None,
    new_run: bool,
    run_id: str | None,
    rerun: str | None,
    memory_limit: str,
    tmp_dir: Path | None,
    fetcher: str,
    flush_rows: int,
    commit_seconds: float,
    fetch_process: str,
    progress_interval: float,
    engine: str,
    address: str | None,
    partitions: int | None,
    as_json: bool,
    quiet: bool,
    allow_damaged: bool,
) -> None:
    """Decide every URL of MANIFEST and record each decision in the ledger.

    MANIFEST is a text file (one URL per line), CSV/TSV, JSONL or Parquet (a file or a
    directory such as the Common Crawl columnar index), optionally gzip or zstd
    compressed, or - for stdin. Every row ends in the ledger: rows that are not http(s)
    URLs get verdict invalid.
    """
    from ..audit.archive import ArchiveError
    from ..audit.manifest import ManifestError, ManifestOptions, open_manifest, spool_stdin
    from ..audit.progress import make_reporter
    from ..audit.runner import (
        AuditConfig,
        AuditRunner,
        RunFinished,
        check_same_input,
        find_resumable_run,
        install_sigterm_as_interrupt,
        is_interrupt,
        result_json,
        run_exists,
    )
    from ..engines import EngineUnavailable, require_engine

    try:
        ray_engine = require_engine(engine)
    except EngineUnavailable as exc:
        raise fail(str(exc)) from exc
    if ray_engine is None and (address or partitions):
        raise fail("--address and --partitions go with --engine ray")
    shard_kv = parse_shard(shard, num_shards, dict(os.environ))
    if ray_engine is not None:
        if shard_kv is not None:
            raise fail("--shard is for in-process audits; --engine ray partitions by itself")
        if manifest == "-":
            raise fail("--engine ray needs a manifest path every node can read, not stdin")
    wb = parse_duration(window_before, "--window-before")
    wa = parse_duration(window_after, "--window-after")
    if archive and not as_of:
        raise fail("--archive goes with --as-of (archive, or a date)")
    if as_of:
        from ..audit.manifest import parse_capture_time

        if not archive:
            raise fail("--as-of needs --archive INDEX_OR_WARC (what the web said then)")
        if as_of != "archive" and parse_capture_time(as_of) is None:
            raise fail(f"--as-of {as_of!r}: expected 'archive' or a date such as 2024-03-01")
        if deep:
            raise fail("--as-of decides against archived site files; --deep fetches live pages")
        if ray_engine is not None:
            raise fail("--as-of runs with --engine local")
        for a in archive:
            if not a.exists():
                raise fail(f"--archive {a}: no such file or directory")
    if rerun is not None and shard_kv is None:
        raise fail("--rerun goes with --shard (an unsharded audit starts a new run by itself)")
    if rerun is not None and (new_run or run_id):
        raise fail("--rerun cannot be combined with --new-run or --run-id")
    if new_run and (resume or run_id):
        raise fail("--new-run cannot be combined with --resume or --run-id")
    if resume and resume != "auto" and run_id and resume != run_id:
        raise fail("--resume RUN_ID and --run-id name different runs")
    err = stderr_console()
    tmp_root = tmp_dir or Path(tempfile.gettempdir())
    try:
        tmp_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail(f"--tmp-dir {tmp_root}: {exc.strerror or exc}") from exc

    spool_dir: tempfile.TemporaryDirectory[str] | None = None
    try:
        if manifest == "-":
            if sys.stdin is None or (sys.stdin.isatty() if hasattr(sys.stdin, "isatty") else False):
                raise fail("reading the manifest from stdin, but stdin is a terminal")
            spool_dir = tempfile.TemporaryDirectory(prefix="tdmscan-stdin-", dir=tmp_root)
            path = spool_stdin(Path(spool_dir.name))
        else:
            path = Path(manifest)
        try:
            m = open_manifest(
                path,
                ManifestOptions(
                    format=fmt,
                    url_column=url_column,
                    size_column=size_column,
                    dataset_column=dataset_column,
                    dataset_id=dataset_id,
                    captured_at_column=captured_at_column,
                ),
            )
        except ManifestError as exc:
            raise fail(
                str(exc).replace(str(path), "<stdin>") if manifest == "-" else str(exc)
            ) from exc

        if fetch_process == "on" and deep:
            # --deep fetches every page through the in-process scanner's page cache.
            raise fail("--fetch-process on cannot be combined with --deep")
        ledger = open_ledger(ledger_dir, allow_damaged=allow_damaged)
        from ..complaints import open_complaint_exclusions

        # Open complaints that asked for it exclude their domains until resolved.
        held = open_complaint_exclusions(ledger)
        if held is not None:
            exclude_lists = [*exclude_lists, held]
        config = AuditConfig(
            agents=agents,
            training_agents=training_agents,
            mode=mode,
            purpose=purpose,
            deep=deep,
            terms=terms,
            exclude_lists=exclude_lists,
            concurrency=concurrency,
            timeout=timeout,
            ttl=ttl,
            user_agent=user_agent,
            allow_private=allow_private,
            shard=shard_kv,
            memory_limit=memory_limit,
            fetcher=fetcher,
            flush_rows=flush_rows,
            flush_seconds=commit_seconds,
            workdir=tmp_root,
            fetch_process={"auto": None, "on": True, "off": False}[fetch_process],
            as_of=as_of,
            archive=tuple(str(a) for a in archive),
            window_before=wb,
            window_after=wa,
            rerun=rerun,
        )
        try:
            input_sha = m.content_hash()
        except OSError as exc:
            raise fail(f"{manifest}: cannot read: {exc.strerror or exc}") from exc

        chosen: str | None = run_id
        auto: bool | None = None
        if new_run:
            auto = False
        elif resume == "auto":
            from ..ledger import RunInfo

            probe = RunInfo(kind="audit", config=config.decision_config(m))
            chosen = find_resumable_run(ledger, input_sha, probe.config_sha256, shard_kv)
            if chosen is None:
                raise fail(
                    f"--resume: no unfinished audit of this manifest with these settings in "
                    f"{ledger.root}"
                )
        elif resume:
            chosen = resume
            if not run_exists(ledger, resume):
                raise fail(f"--resume {resume}: no such run in {ledger.root}")
        if chosen is not None:
            try:
                check_same_input(ledger, chosen, input_sha)
            except ValueError as exc:
                raise fail(str(exc)) from exc

        reporter = make_reporter(quiet or as_json, stderr_is_terminal(), progress_interval)
        if ray_engine is not None:
            _audit_on_ray(
                ray_engine,
                path,
                ledger,
                config,
                m,
                chosen,
                auto,
                reporter,
                partitions,
                address,
                manifest,
                ledger_dir,
                as_json,
                quiet,
            )
            return
        runner = AuditRunner(
            m,
            ledger,
            config,
            reporter=reporter,
            run_id=chosen,
            resume=auto,
            input_sha256=input_sha,
        )
        if not quiet and not as_json:
            runner.on_plan = lambda st: err.print(
                f"Plan: {st.manifest_rows:,} rows"
                + (f", {st.shard_rows:,} in shard {shard_kv[0]}/{shard_kv[1]}" if shard_kv else "")
                + f", {st.origins:,} origins"
                + (
                    f", {st.shard_rows - st.todo_rows:,} already decided"
                    if st.todo_rows != st.shard_rows
                    else ""
                )
                + (
                    f", {st.invalid_origin_rows:,} without a usable origin"
                    if st.invalid_origin_rows
                    else ""
                )
            )
        restore = install_sigterm_as_interrupt()
        try:
            try:
                result = runner.run()
            except Exception as exc:
                if is_interrupt(exc):  # a signal that arrived inside a DuckDB query
                    raise KeyboardInterrupt from exc
                raise
        except KeyboardInterrupt:
            r = runner.result
            if r is None:
                err.print("\nInterrupted while planning; nothing was written to the ledger.")
                sys.exit(130)
            err.print(
                f"\nInterrupted: {r.counters.rows:,} URLs decided in this session were flushed to "
                f"{ledger.root}; run {r.run_id} is marked interrupted."
            )
            err.print(
                f"Resume with: tdmscan audit {manifest} --ledger {ledger_dir} --resume {r.run_id}"
                + (f" --shard {shard_kv[0]}/{shard_kv[1]}" if shard_kv else "")
            )
            sys.exit(130)
        except ManifestError as exc:
            raise fail(str(exc)) from exc
        except RunFinished as exc:
            raise fail(str(exc)) from exc
        except ArchiveError as exc:
            raise fail(str(exc)) from exc
        except OSError as exc:
            # Disk full, quota, file too large, permission, read-only file system: the ledger
            # is consistent up to its last commit, so say what failed, where, and how to go on.
            msg = storage_failure(exc, ledger.root, manifest, ledger_dir, runner, shard_kv)
            raise fail(msg) from exc
        finally:
            restore()
    finally:
        if spool_dir is not None:
            spool_dir.cleanup()

    if as_json:
        click.echo(json.dumps(result_json(result), default=str, sort_keys=True))
        return
    if quiet:
        return
    from ..audit.summary import render_summary, summarise

    s = summarise(ledger, result.run_id, result.agents[0], result.status)
    render_summary(s, stdout_console(), elapsed=result.counters.elapsed)
    if result.resumed:
        err.print(
            f"Resumed run {result.run_id}: {result.counters.skipped_rows:,} rows were already "
            "decided and were skipped."
        )


def _audit_on_ray(
    eng: Any,
    path: Path,
    ledger: Any,
    config: Any,
    m: Any,
    run_id: str | None,
    resume: bool | None,
    reporter: Any,
    partitions: int | None,
    address: str | None,
    manifest: str,
    ledger_dir: str,
    as_json: bool,
    quiet: bool,
) -> None:
    try:
        rr = eng.run_audit_ray(
            path,
            ledger.root,
            config,
            options=m.options,
            partitions=partitions,
            address=address,
            run_id=run_id,
            resume=resume,
            reporter=reporter,
        )
    except eng.PartitionFailed as exc:
        stderr_console().print(f"Some partitions failed: {exc}")
        rid = exc.result.run_id if getattr(exc, "result", None) is not None else run_id
        stderr_console().print(
            f"Resume with: tdmscan audit {manifest} --ledger {ledger_dir} --engine ray "
            f"--run-id {rid}"
        )
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(eng.result_json(rr), default=str, sort_keys=True))
        return
    if quiet:
        return
    from ..audit.summary import render_summary, summarise

    result = rr.as_audit_result()
    s = summarise(ledger, result.run_id, result.agents[0], result.status)
    render_summary(s, stdout_console(), elapsed=result.counters.elapsed)
