"""One damaged Parquet segment must not block the ledger: readers skip it with one warning,
writers refuse until ``ledger repair`` quarantines it (or --allow-damaged), compact refuses."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tdmscan.cli import main
from tdmscan.fakeweb import Resp, Site
from tdmscan.ledger import DamagedSegmentWarning, Ledger, LedgerDamaged

ROBOTS = "User-agent: *\nDisallow: /private/\n"


@pytest.fixture
def web(fakeweb: Any, fakeweb_env: Any) -> Any:
    fw = fakeweb([Site(f"s{i}.test", {"/robots.txt": Resp(body=ROBOTS)}) for i in range(6)])
    fakeweb_env(fw)
    return fw


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def audited(tmp_path: Path) -> Path:
    """A ledger with one audit of 12 URLs over 6 hosts (several decision segments)."""
    m = tmp_path / "m.txt"
    m.write_text("".join(f"http://s{i}.test/a\nhttp://s{i}.test/private/b\n" for i in range(6)))
    led = tmp_path / "led"
    r = run("audit", str(m), "--ledger", str(led), "-q")
    assert r.exit_code == 0, r.output + r.stderr
    return led


def decision_segments(led: Path) -> list[Path]:
    return sorted(p for p in (led / "decisions").rglob("part-*.parquet"))


def count(led: Path) -> int:
    r = run("sql", "--ledger", str(led), "--format", "json", "SELECT count(*) AS n FROM decisions")
    assert r.exit_code == 0, r.output + r.stderr
    return int(json.loads(r.stdout)[0]["n"])


def test_truncated_segment_is_skipped_by_readers_and_blocks_writers(
    tmp_path: Path, web: Any
) -> None:
    led = audited(tmp_path)
    segs = decision_segments(led)
    assert len(segs) > 1
    victim = segs[0]
    rows_in_victim = len(
        __import__("pyarrow.parquet", fromlist=["x"]).read_table(victim).column("url")
    )
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])  # a torn copy, a full disk, a bad sector

    # Readers: the rest of the ledger answers, with one warning naming the segment.
    r = run("sql", "--ledger", str(led), "SELECT count(*) FROM decisions")
    assert r.exit_code == 0, r.stderr
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1, r.stderr
    rel = victim.relative_to(led).as_posix()
    assert rel in warnings[0] and "tdmscan ledger verify" in warnings[0]
    assert "Traceback" not in r.stderr
    assert count(led) == 12 - rows_in_victim
    r = run(
        "report",
        "evidence",
        "--ledger",
        str(led),
        "--format",
        "json",
        "-o",
        str(tmp_path / "e.json"),
    )
    assert r.exit_code == 0, r.output + r.stderr
    assert "damaged" in r.stderr

    # Writers refuse, in one line, unless told to.
    m = tmp_path / "m2.txt"
    m.write_text("http://s1.test/c\n")
    r = run("audit", str(m), "--ledger", str(led), "-q")
    assert r.exit_code == 2 and "damaged segment" in r.stderr + r.output
    assert "Traceback" not in r.stderr + r.output
    assert len((r.stderr + r.output).strip().splitlines()) <= 2
    r = run("check", "http://s1.test/c", "--ledger", str(led), "-q", "--shallow")
    assert r.exit_code == 2 and "--allow-damaged" in r.stderr + r.output
    with pytest.raises(LedgerDamaged):
        Ledger(led).writer()

    # compact does not exit 0 in silence.
    r = run("ledger", "compact", "--ledger", str(led))
    assert r.exit_code == 1 and "damaged" in r.stderr + r.output

    # --allow-damaged appends anyway.
    r = run("audit", str(m), "--ledger", str(led), "-q", "--allow-damaged")
    assert r.exit_code == 0, r.output + r.stderr

    # repair: quarantined, recorded in the chain, and the ledger verifies again.
    r = run("ledger", "repair", "--ledger", str(led))
    assert r.exit_code == 0, r.output + r.stderr
    assert f"quarantined {rel}" in r.output and "OK" in r.output
    assert not victim.exists() and (led / "quarantine" / rel).exists()
    last = [json.loads(x) for x in (led / "chain.jsonl").read_text().splitlines()]
    q = [e for e in last if e["op"] == "quarantine"]
    assert len(q) == 1 and q[0]["replaces"] == [rel] and "modified" in q[0]["note"]
    assert Ledger(led).verify().ok
    r = run("sql", "--ledger", str(led), "SELECT count(*) FROM decisions")
    assert "warning" not in r.stderr
    r = run("check", "http://s1.test/c", "--ledger", str(led), "-q", "--shallow")
    assert r.exit_code == 0, r.output + r.stderr
    r = run("ledger", "compact", "--ledger", str(led))
    assert r.exit_code == 0, r.output + r.stderr


def test_damage_only_a_hash_sees_is_skipped_after_verify(tmp_path: Path, web: Any) -> None:
    led = audited(tmp_path)
    victim = decision_segments(led)[-1]
    data = bytearray(victim.read_bytes())
    mid = len(data) // 2
    data[mid] ^= 0xFF  # same size, same magic bytes: only the sha256 differs
    st = victim.stat()
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))

    r = run("ledger", "verify", "--ledger", str(led))
    assert r.exit_code == 1 and "modified" in r.output
    # The failed verification is remembered: writers refuse, readers leave the segment out.
    with pytest.raises(LedgerDamaged, match="damaged segment"):
        Ledger(led).writer()
    with pytest.warns(DamagedSegmentWarning, match=victim.name):
        Ledger(led, create=False).connect().close()
    # The library can be told to append anyway.
    Ledger(led, allow_damaged=True).writer().close()
    r = run("ledger", "repair", "--ledger", str(led))
    assert r.exit_code == 0, r.output
    Ledger(led).writer().close()


def test_failed_verify_of_the_chain_blocks_writers_until_verified_clean(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "L")
    led.writer().close()
    chain = Path(led.chain.path)
    good = chain.read_bytes()
    chain.write_bytes(good.replace(b'"rows":0', b'"rows":1', 1))
    assert not led.verify().ok
    with pytest.raises(LedgerDamaged, match="last `tdmscan ledger verify`"):
        led.writer()
    chain.write_bytes(good)
    assert led.verify().ok
    led.writer().close()
