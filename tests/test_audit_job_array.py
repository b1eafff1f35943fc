"""Job arrays without coordination: shard jobs derive one run id; a finished run is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tdmscan.cli import main
from tdmscan.engines.sharding import shard_of_url
from tdmscan.fakeweb import Resp, Site
from tdmscan.ledger import Ledger

N = 3
SITES = [
    Site(f"s{i}.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /private/\n")})
    for i in range(8)
]
URLS = [f"http://s{i}.test/{p}" for i in range(8) for p in ("ok", "private/x")]


@pytest.fixture
def web(fakeweb: Any, fakeweb_env: Any) -> Any:
    fw = fakeweb(SITES)
    fakeweb_env(fw)
    return fw


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    p = tmp_path / "m.txt"
    p.write_text("\n".join(URLS) + "\n")
    assert {shard_of_url(u, N) for u in URLS} == set(range(N))
    return p


def job(manifest: Path, led: Path, k: int, *extra: str) -> Any:
    return CliRunner().invoke(
        main,
        [
            "audit",
            str(manifest),
            "--ledger",
            str(led),
            "--shard",
            f"{k}/{N}",
            "--json",
            "--timeout",
            "3",
            *extra,
        ],
        catch_exceptions=False,
    )


def test_shard_jobs_share_one_derived_run(tmp_path: Path, web: Any, manifest: Path) -> None:
    led = tmp_path / "led"
    ids = set()
    for k in range(N):
        r = job(manifest, led, k)
        assert r.exit_code == 0, r.output
        ids.add(json.loads(r.output)["run_id"])
    assert len(ids) == 1
    (run_id,) = ids
    con = Ledger(led).connect()
    status, decisions = con.execute(
        "SELECT status, decisions FROM runs WHERE run_id = ?", [run_id]
    ).fetchone()
    assert (status, decisions) == ("finished", len(URLS))
    assert con.execute("SELECT count(DISTINCT run_id) FROM decisions").fetchone() == (1,)

    # The same job again: refused, one line, nothing written.
    before = Ledger(led).head()
    r = job(manifest, led, 1)
    assert r.exit_code == 2
    assert f"shard 1/{N} of run {run_id}" in r.output and "--rerun" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert Ledger(led).head() == before

    # Asked for: every job with the same label shares a second, new run.
    again = {
        json.loads(job(manifest, led, k, "--rerun", "second").output)["run_id"] for k in range(N)
    }
    assert len(again) == 1 and run_id not in again
    (second,) = again
    assert con.execute(
        "SELECT status, decisions FROM runs WHERE run_id = ?", [second]
    ).fetchone() == ("finished", len(URLS))


def test_derived_id_follows_manifest_and_settings(tmp_path: Path, web: Any, manifest: Path) -> None:
    led = tmp_path / "led"
    base = json.loads(job(manifest, led, 0).output)["run_id"]
    strict = json.loads(job(manifest, led, 0, "--mode", "strict").output)["run_id"]
    other = tmp_path / "m2.txt"
    other.write_text("\n".join(URLS[:-1]) + "\n")
    moved = json.loads(job(other, led, 0).output)["run_id"]
    assert len({base, strict, moved}) == 3
    # Speed knobs are not decision settings: same run (refused, since shard 0 finished).
    r = job(manifest, led, 0, "--concurrency", "7")
    assert r.exit_code == 2 and base in r.output


def test_rerun_needs_shard(tmp_path: Path, manifest: Path) -> None:
    r = CliRunner().invoke(
        main, ["audit", str(manifest), "--ledger", str(tmp_path / "l"), "--rerun", "x"]
    )
    assert r.exit_code == 2 and "--rerun goes with --shard" in r.output
