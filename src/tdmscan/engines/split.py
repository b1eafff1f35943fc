"""Split a manifest once by shard, so partition k reads about 1/n of the rows.

Without a split every partition loads the whole manifest and keeps its shard (the plan's
``rows_in_shard``): n partitions read n times the manifest, which dominates at Common Crawl
scale. :func:`split_manifest` reads the manifest once, assigns each row its shard exactly as
the plan does (``shard_of(registrable_domain) % n``; rows without a usable origin go to the
shard of the empty domain), and writes hive-partitioned Parquet::

    <out>/shard=<k>/data_0.parquet     rows of BATCH_SCHEMA, original input_row kept

:class:`ShardPart` is a :class:`~tdmscan.audit.manifest.Manifest` whose batches are those of
one shard only; every other attribute (path, format, columns) is the original manifest's, so
decision settings, resume keys and the ledger's ``input_row`` are what an unsplit run records.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from ..audit.manifest import BATCH_SCHEMA, Manifest
from ..audit.plan import Plan
from ..ledger.domains import shard_of

DONE_FILE = "_split.json"


@dataclass
class ShardPart(Manifest):
    """The rows of shard ``k`` of a split manifest, read from ``<split_dir>/shard=<k>/``."""

    split_dir: str = ""
    k: int = 0
    #: An empty shard is a shard with nothing to do, not an empty manifest.
    partial: bool = True

    def batches(self) -> Iterator[pa.RecordBatch]:
        part = os.path.join(self.split_dir, f"shard={self.k}")
        if not os.path.isdir(part):
            return
        dataset = ds.dataset(part, format="parquet", schema=BATCH_SCHEMA)
        yield from dataset.to_batches(batch_size=self.options.batch_rows)

    @classmethod
    def of(cls, manifest: Manifest, split_dir: str, k: int) -> ShardPart:
        kw = {f.name: getattr(manifest, f.name) for f in fields(Manifest)}
        return cls(**kw, split_dir=split_dir, k=k)


def split_manifest(
    manifest: Manifest,
    n: int,
    out_dir: str | os.PathLike[str],
    *,
    memory_limit: str = "1GB",
    workdir: str | os.PathLike[str] | None = None,
) -> dict[int, int]:
    """Write ``manifest`` into ``out_dir/shard=<k>/`` for k < n; returns rows per shard.

    Reuses a finished split of the same n (its ``_split.json``), so a resumed run does not
    split again. The split is written to a temporary sibling and renamed into place whole.
    """
    out = os.fspath(out_dir)
    done = os.path.join(out, DONE_FILE)
    try:
        with open(done, encoding="utf-8") as fh:
            info = json.load(fh)
        if info.get("n") == n:
            return {int(k): int(v) for k, v in info["rows"].items()}
    except (FileNotFoundError, ValueError, KeyError):
        pass
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".split-", dir=parent)
    try:
        with tempfile.TemporaryDirectory(prefix="tdmscan-split-", dir=workdir) as work:
            plan = Plan(Path(work), memory_limit=memory_limit)
            try:
                plan.load(manifest)
                # resolve() computes every origin's shard for n; k only filters its origins.
                plan.resolve((0, n))
                invalid = shard_of(None, n)
                target = os.path.join(tmp, "parts").replace("'", "''")
                plan.con.execute(
                    f"""
                    COPY (
                        SELECT m.input_row, m.url, m.size, m.dataset, m.pre_reason,
                               m.captured_at,
                               CASE WHEN om.origin IS NULL THEN {int(invalid)}
                                    ELSE om.shard END AS shard
                        FROM manifest m
                        LEFT JOIN origin_map om ON om.raw_origin = m.raw_origin
                    ) TO '{target}'
                    (FORMAT parquet, PARTITION_BY (shard), COMPRESSION zstd,
                     OVERWRITE_OR_IGNORE true)
                    """
                )
                rows = dict(
                    plan.con.execute(
                        "SELECT CASE WHEN om.origin IS NULL THEN ? ELSE om.shard END AS s,"
                        " count(*) FROM manifest m"
                        " LEFT JOIN origin_map om ON om.raw_origin = m.raw_origin GROUP BY s",
                        [int(invalid)],
                    ).fetchall()
                )
            finally:
                plan.close()
        counts = {k: int(rows.get(k, 0)) for k in range(n)}
        with open(os.path.join(tmp, "parts", DONE_FILE), "w", encoding="utf-8") as fh:
            json.dump({"n": n, "rows": counts}, fh)
        if os.path.isdir(out):  # an unfinished or different split: replace it
            shutil.rmtree(out)
        os.replace(os.path.join(tmp, "parts"), out)
        return counts
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
