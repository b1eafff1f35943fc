"""Splitting a manifest once by shard: every row in exactly its shard, input_row kept."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from tdmscan.audit.manifest import BATCH_SCHEMA, open_manifest
from tdmscan.engines.sharding import shard_of_url
from tdmscan.engines.split import DONE_FILE, ShardPart, split_manifest

URLS = [f"http://h{i % 40}.d{i % 23}.test/p{i}" for i in range(600)]
URLS += ["not a url", "ftp://x.test/y", "http://[::1/bad"]


def _rows(part: ShardPart) -> list[tuple[int, str]]:
    t = pa.Table.from_batches(list(part.batches()), schema=BATCH_SCHEMA)
    return list(zip(t.column("input_row").to_pylist(), t.column("url").to_pylist(), strict=True))


def test_split_puts_each_row_in_its_shard(tmp_path: Path) -> None:
    src = tmp_path / "m.txt"
    src.write_text("\n".join(URLS) + "\n")
    m = open_manifest(src)
    n = 4
    out = tmp_path / "split"
    counts = split_manifest(m, n, out)
    assert sum(counts.values()) == len(URLS)
    seen: dict[int, str] = {}
    for k in range(n):
        part = ShardPart.of(m, str(out), k)
        rows = _rows(part)
        assert len(rows) == counts[k] < len(URLS)
        for input_row, url in rows:
            assert shard_of_url(url, n) == k, url
            seen[input_row] = url
    # Every row once, with the input_row an unsplit read gives it.
    whole = pa.Table.from_batches(list(m.batches()))
    assert seen == dict(
        zip(whole.column("input_row").to_pylist(), whole.column("url").to_pylist(), strict=True)
    )
    # The part keeps the manifest's identity (resume keys and decision settings).
    part = ShardPart.of(m, str(out), 0)
    assert (part.path, part.format, part.url_column) == (m.path, m.format, m.url_column)


def test_finished_split_is_reused_and_empty_shards_are_empty(tmp_path: Path) -> None:
    src = tmp_path / "m.txt"
    src.write_text("http://only.test/a\nhttp://only.test/b\n")
    m = open_manifest(src)
    out = tmp_path / "split"
    counts = split_manifest(m, 8, out)
    assert sorted(counts.values(), reverse=True)[:2] == [2, 0]
    info = json.loads((out / DONE_FILE).read_text())
    assert info["n"] == 8
    marker = out / "keep"
    marker.write_text("x")
    assert split_manifest(m, 8, out) == counts  # reused: not rewritten
    assert marker.exists()
    empty = next(k for k, v in counts.items() if v == 0)
    assert _rows(ShardPart.of(m, str(out), empty)) == []
