"""Flat memory: snapshot de-duplication is a bounded LRU plus a view keyed by sha256."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tdmscan.ledger import Ledger, RunInfo
from tdmscan.ledger import writer as W
from tdmscan.ledger.writer import LRUKeys
from tdmscan.types import Decision, Fetched


def robots(i: int) -> Fetched:
    body = f"User-agent: *\nDisallow: /{i}/\n".encode()
    return Fetched(
        status=200,
        headers=[("Content-Type", "text/plain")],
        body=body,
        url=f"https://h{i}.test/robots.txt",
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
        sha256=hashlib.sha256(body).hexdigest(),
    )


def test_lru_keys_forget_the_least_recently_used() -> None:
    lru = LRUKeys(3, ["a", "b", "c"])
    assert "a" in lru  # touched: now the newest
    lru.add("d")  # evicts b, the least recently used
    assert "b" not in lru and {"a", "c", "d"} <= {k for k in "acd" if k in lru}
    assert len(lru) == 3


def test_bounded_cache_duplicates_are_invisible_to_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(W, "SNAPSHOT_CACHE_KEYS", 2)
    led = Ledger(tmp_path / "L")
    with led.writer(RunInfo(run_id="r"), flush_seconds=None) as w:
        for i in [0, 1, 2, 3, 0, 1]:  # 0 and 1 were evicted by 2 and 3
            w.add_fetch(robots(i), "robots", f"https://h{i}.test")
            w.add(Decision(url=f"https://h{i}.test/x", agent="B", verdict="allowed"))
    stored = sum(e["rows"] for e in led.live_segments("snapshots"))
    assert stored == 6  # a bounded cache stores a forgotten body again...
    con = led.connect()
    # ...and the view keeps one row per body, so joins on sha256 never multiply rows.
    assert con.execute("SELECT count(*), count(DISTINCT sha256) FROM snapshots").fetchone() == (
        4,
        4,
    )
    assert led.verify().ok


def test_writer_warms_its_cache_with_a_bounded_number_of_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    led = Ledger(tmp_path / "L")
    with led.writer(RunInfo(run_id="a"), flush_seconds=None) as w:
        for i in range(5):
            w.add_fetch(robots(i), "robots", f"https://h{i}.test")
    asked: list[int | None] = []
    orig = Ledger.snapshot_keys

    def spy(self: Ledger, limit: int | None = None) -> list[str]:
        asked.append(limit)
        return orig(self, limit)

    monkeypatch.setattr(Ledger, "snapshot_keys", spy)
    monkeypatch.setattr(W, "SNAPSHOT_CACHE_KEYS", 3)
    with led.writer(RunInfo(run_id="b"), flush_seconds=None) as w:
        for i in (4, 3, 2, 0):  # the three newest are remembered; 0 is not
            w.add_fetch(robots(i), "robots", f"https://h{i}.test")
    assert asked == [3]  # never "every key of the ledger"
    new = [e for e in led.live_segments("snapshots") if e["run_id"] == "b" and e["rows"]]
    assert sum(e["rows"] for e in new) == 1


def test_run_counts_aggregate_in_duckdb(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    with led.writer(RunInfo(run_id="r"), shards=4, flush_rows=7, flush_seconds=None) as w:
        for i in range(100):
            w.add(
                Decision(
                    url=f"https://d{i % 11}.test/{i}",
                    agent="B",
                    verdict=("allowed", "reserved", "unknown")[i % 3],
                )
            )
    c = led.run_counts("r")
    assert c["decisions"] == 100
    assert c["verdicts"]["allowed"] == 34 and c["verdicts"]["reserved"] == 33
    per_shard = sum(led.run_counts("r", shard=k)["decisions"] for k in range(4))
    assert per_shard == 100
