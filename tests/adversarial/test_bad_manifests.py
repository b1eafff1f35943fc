"""Hostile or broken manifests: every reader error is a counted invalid row or one line (exit 2).

Each case is generated here: nesting deeper than Python's stack, corrupt and truncated zstd and
gzip streams, sizes and capture times out of range, undecodable bytes, a corrupt Parquet file.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest
import zstandard
from click.testing import CliRunner

from tdmscan.audit.manifest import ManifestError, ManifestOptions, open_manifest
from tdmscan.cli import main
from tdmscan.fakeweb import Resp, Site

GOOD = b'{"url": "http://a.test/x", "size": 3, "ds": "d", "t": "2020-01-01"}\n'
DEEP = b"[" * 100_000

#: name -> (bytes, options, expected invalid reasons in row order)
ROW_CASES: dict[str, tuple[bytes, dict[str, str], list[str | None]]] = {
    "deep-line.jsonl": (GOOD + DEEP + b"\n", {}, [None, "bad-json"]),
    "deep-first-line.jsonl": (DEEP + b"\n" + GOOD, {}, ["bad-json", None]),
    "deep-value.jsonl": (b'{"url": ' + DEEP + b"}\n" + GOOD, {}, ["bad-json", None]),
    "deep-dataset.jsonl": (
        b'{"url": "http://a.test/", "ds": ' + b"[" * 900 + b"]" * 900 + b"}\n",
        {"dataset_column": "ds"},
        [None],
    ),
    "huge-size.jsonl": (
        GOOD + b'{"url": "http://a.test/y", "size": 99999999999999999999999999}\n',
        {"size_column": "size"},
        [None, None],
    ),
    "odd-times.jsonl": (
        GOOD
        + b'{"url": "http://a.test/y", "t": [1, [2]]}\n'
        + b'{"url": "http://a.test/z", "t": 1e300}\n'
        + b'{"url": "http://a.test/w", "t": "0001-01-01T00:00:00+05:00"}\n',
        {"captured_at_column": "t"},
        [None, None, None, None],
    ),
    "bytes.jsonl": (GOOD + b'\xff\xfe{"url": "\xc3("}\n', {}, [None, "bad-encoding"]),
    "huge-size.csv": (
        b"url,size\nhttp://a.test/,99999999999999999999999999\n",
        {"size_column": "size"},
        [None],
    ),
    "latin1.csv": (b"url,size\nhttp://a.test/\xe9,3\n", {}, ["bad-encoding"]),
}


def _read(path: Path, **opts: str) -> list[Any]:
    m = open_manifest(path, ManifestOptions(**opts))
    return [r for b in m.batches() for r in b.column("pre_reason").to_pylist()]


@pytest.mark.parametrize("name", sorted(ROW_CASES))
def test_bad_rows_are_counted_not_raised(tmp_path: Path, name: str) -> None:
    data, opts, reasons = ROW_CASES[name]
    p = tmp_path / name
    p.write_bytes(data)
    assert _read(p, **opts) == reasons


def _zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=True).compress(data)


FILE_CASES: dict[str, bytes] = {
    "garbage.jsonl.zst": _zst(GOOD * 100)[:10] + b"\x00garbage" * 10,
    "truncated.jsonl.zst": _zst(GOOD * 1000)[:-40],
    "truncated.txt.zst": _zst(b"http://a.test/x\n" * 5000)[:-4],  # checksum cut off
    "truncated.jsonl.gz": gzip.compress(GOOD * 1000)[:-30],
    "corrupt.parquet": b"PAR1" + b"\x00" * 100 + b"PAR1",
}


@pytest.mark.parametrize("name", sorted(FILE_CASES))
def test_unreadable_files_are_one_manifest_error(tmp_path: Path, name: str) -> None:
    p = tmp_path / name
    p.write_bytes(FILE_CASES[name])
    with pytest.raises(ManifestError) as info:
        _read(p)
    assert "\n" not in str(info.value) and name in str(info.value)


def test_multi_frame_zstd_reads_every_frame(tmp_path: Path) -> None:
    p = tmp_path / "frames.txt.zst"
    p.write_bytes(_zst(b"http://a.test/1\n") + _zst(b"http://a.test/2\n" * 3))
    assert len(_read(p)) == 4


def test_zstd_bomb_is_read_in_bounded_steps(tmp_path: Path) -> None:
    """64 MiB of one repeated line from a few KiB: read without holding it all at once."""
    import tracemalloc

    p = tmp_path / "bomb.txt.zst"
    p.write_bytes(_zst(b"http://a.test/x\n" * (4 << 20)))
    m = open_manifest(p, ManifestOptions(batch_rows=4096))
    tracemalloc.start()
    rows = 0
    for batch in m.batches():
        rows += batch.num_rows
        if rows > 100_000:
            break
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rows > 100_000 and peak < 32 << 20


@pytest.fixture
def web(fakeweb: Any, fakeweb_env: Any) -> Any:
    fw = fakeweb([Site("a.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /p\n")})])
    fakeweb_env(fw)
    return fw


def _cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_cli_counts_a_deeply_nested_line_as_invalid(web: Any, tmp_path: Path) -> None:
    p = tmp_path / "m.jsonl"
    p.write_bytes(b'{"url": "http://a.test/x"}\n' + DEEP + b'\n{"url": "http://a.test/p"}\n')
    r = _cli("audit", str(p), "--ledger", str(tmp_path / "l"), "--json", "--quiet")
    assert r.exit_code == 0, r.output
    import json

    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["rows_decided"] == 3 and out["verdicts_own_token"].get("invalid") == 1, out


@pytest.mark.parametrize("name", ["garbage.jsonl.zst", "truncated.jsonl.zst", "corrupt.parquet"])
def test_cli_unreadable_manifest_is_one_line_exit_2(web: Any, tmp_path: Path, name: str) -> None:
    p = tmp_path / name
    p.write_bytes(FILE_CASES[name])
    r = _cli("audit", str(p), "--ledger", str(tmp_path / "l"))
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and name in lines[0], r.output
