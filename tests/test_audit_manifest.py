"""Manifest readers and the DuckDB plan: formats, bad rows, grouping, sharding, resume."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from tdmscan.audit.manifest import ManifestError, ManifestOptions, open_manifest
from tdmscan.audit.plan import Plan
from tdmscan.ledger.domains import registrable_domain, shard_of

URLS = [
    "http://a.test/1",
    "https://b.test/2",
    "http://a.test/3",
]


def rows_of(path: Path, **opts: object) -> list[dict[str, object]]:
    m = open_manifest(path, ManifestOptions(**opts))  # type: ignore[arg-type]
    out: list[dict[str, object]] = []
    for b in m.batches():
        out.extend(b.to_pylist())
    return out


def write(path: Path, data: bytes) -> Path:
    if path.name.endswith(".gz"):
        data = gzip.compress(data)
    elif path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["m.txt", "m.txt.gz", "m.txt.zst", "m"])
def test_txt_variants(tmp_path: Path, name: str) -> None:
    p = write(tmp_path / name, ("\n".join(URLS) + "\n").encode())
    rows = rows_of(p)
    assert [r["url"] for r in rows] == URLS
    assert [r["input_row"] for r in rows] == [0, 1, 2]


def test_txt_blank_comment_crlf_bom_junk(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbfhttp://a.test/1\r\n\r\n# comment\n   \nhttp://b.test/\xff\xfe\nhttp://c.test/\x00x\n"
    rows = rows_of(write(tmp_path / "m.txt", data))
    # Blank and comment lines are not rows but keep their line numbers.
    assert [r["input_row"] for r in rows] == [0, 4, 5]
    assert rows[0]["url"] == "http://a.test/1"
    assert rows[1]["pre_reason"] == "bad-encoding"
    assert rows[1]["url"] == "http://b.test/\\xff\\xfe"
    assert rows[2]["pre_reason"] is None  # NUL is valid UTF-8: parse_url rejects it later


@pytest.mark.parametrize("name", ["m.csv", "m.csv.gz", "m.csv.zst"])
def test_csv_with_columns(tmp_path: Path, name: str) -> None:
    text = "id,link,bytes,snap\n1,http://a.test/1,100,s1\n2,http://b.test/2,x,s1\n3\n"
    p = write(tmp_path / name, text.encode())
    rows = rows_of(p, url_column="link", size_column="bytes", dataset_column="snap")
    assert [r["url"] for r in rows] == ["http://a.test/1", "http://b.test/2", ""]
    assert [r["size"] for r in rows] == [100, None, None]
    assert [r["dataset"] for r in rows] == ["s1", "s1", None]
    assert rows[2]["pre_reason"] == "missing-column"


def test_tsv_and_sniffed_semicolon(tmp_path: Path) -> None:
    p = write(tmp_path / "m.tsv", b"url\tn\nhttp://a.test/,x\t1\n")
    assert [r["url"] for r in rows_of(p)] == ["http://a.test/,x"]
    p = write(tmp_path / "s.csv", b"url;n\nhttp://a.test/1;1\nhttp://a.test/2;2\n")
    assert [r["url"] for r in rows_of(p)] == ["http://a.test/1", "http://a.test/2"]


def test_csv_unknown_column_lists_available(tmp_path: Path) -> None:
    p = write(tmp_path / "m.csv", b"id,address\n1,http://a.test/\n")
    with pytest.raises(ManifestError, match=r"no URL column.*available: id, address"):
        open_manifest(p)
    with pytest.raises(ManifestError, match=r"unknown column 'nope'.*available: id, address"):
        open_manifest(p, ManifestOptions(url_column="nope"))


def test_csv_junk_bytes_and_long_field(tmp_path: Path) -> None:
    long = "http://a.test/" + "x" * 10_000
    data = b"url\nhttp://a.test/\xff\n" + long.encode() + b"\n"
    rows = rows_of(write(tmp_path / "m.csv", data))
    assert rows[0]["pre_reason"] == "bad-encoding"
    assert rows[1]["url"] == long


@pytest.mark.parametrize("name", ["m.jsonl", "m.jsonl.gz", "m.ndjson.zst"])
def test_jsonl(tmp_path: Path, name: str) -> None:
    lines = [
        json.dumps({"url": "http://a.test/1", "size": 5, "ds": "x"}),
        "",
        "{not json",
        json.dumps({"other": 1}),
        json.dumps("http://b.test/bare"),
        json.dumps({"url": 12}),
    ]
    p = write(tmp_path / name, ("\n".join(lines) + "\n").encode())
    rows = rows_of(p, size_column="size", dataset_column="ds")
    assert [r["input_row"] for r in rows] == [0, 2, 3, 4, 5]
    assert (
        rows[0]["url"] == "http://a.test/1" and rows[0]["size"] == 5 and rows[0]["dataset"] == "x"
    )
    assert rows[1]["pre_reason"] == "bad-json"
    assert rows[2]["pre_reason"] == "missing-column"
    assert rows[3]["url"] == "http://b.test/bare" and rows[3]["pre_reason"] is None
    assert rows[4]["pre_reason"] == "not-a-string"


def test_jsonl_unknown_key(tmp_path: Path) -> None:
    p = write(tmp_path / "m.jsonl", b'{"u": "http://a.test/"}\n')
    with pytest.raises(ManifestError, match=r"available: u"):
        open_manifest(p)


def test_parquet_generic_and_cc_index(tmp_path: Path) -> None:
    t = pa.table({"url": URLS, "n": [1, 2, 3]})
    pq.write_table(t, tmp_path / "g.parquet")
    assert [r["url"] for r in rows_of(tmp_path / "g.parquet")] == URLS

    cc = pa.table(
        {
            "url_surtkey": ["test,a)/1", "test,b)/2"],
            "url": URLS[:2],
            "url_host_registered_domain": ["a.test", "b.test"],
            "warc_record_length": pa.array([1234, 99], pa.int32()),
            "warc_filename": ["f", "f"],
        }
    )
    d = tmp_path / "cc" / "crawl=CC-MAIN-2026-01" / "subset=warc"
    d.mkdir(parents=True)
    pq.write_table(cc, d / "part-0.parquet")
    rows = rows_of(tmp_path / "cc")
    assert [r["size"] for r in rows] == [1234, 99]
    assert [r["dataset"] for r in rows] == ["CC-MAIN-2026-01"] * 2
    assert [r["input_row"] for r in rows] == [0, 1]


def test_parquet_binary_urls_with_junk(tmp_path: Path) -> None:
    t = pa.table({"url": pa.array([b"http://a.test/", b"http://b.test/\xff", None], pa.binary())})
    pq.write_table(t, tmp_path / "b.parquet")
    rows = rows_of(tmp_path / "b.parquet")
    assert [r["pre_reason"] for r in rows] == [None, "bad-encoding", "missing-value"]


def test_corrupt_and_missing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ManifestError, match="not a readable Parquet file"):
        open_manifest(bad)
    with pytest.raises(ManifestError, match="no such file"):
        open_manifest(tmp_path / "nope.txt")
    gz = tmp_path / "trunc.txt.gz"
    gz.write_bytes(gzip.compress(b"http://a.test/\n" * 1000)[:40])
    m = open_manifest(gz)
    with pytest.raises(ManifestError, match="cannot read"):
        list(m.batches())


def test_parquet_string_urls_with_nulls_and_dictionary(tmp_path: Path) -> None:
    t = pa.table(
        {
            "url": pa.array(["http://a.test/", None, "http://b.test/x"], pa.string()),
            "u2": pa.array(["http://a.test/", "http://a.test/", None]).dictionary_encode(),
        }
    )
    pq.write_table(t, tmp_path / "s.parquet")
    rows = rows_of(tmp_path / "s.parquet")
    assert [r["url"] for r in rows] == ["http://a.test/", "", "http://b.test/x"]
    assert [r["pre_reason"] for r in rows] == [None, "missing-value", None]
    m = open_manifest(tmp_path / "s.parquet", ManifestOptions(url_column="u2"))
    got = [r for b in m.batches() for r in b.to_pylist()]
    assert [r["url"] for r in got] == ["http://a.test/", "http://a.test/", ""]
    assert [r["pre_reason"] for r in got] == [None, None, "missing-value"]


def test_plan_load_surfaces_a_mid_stream_failure_as_itself(tmp_path: Path) -> None:
    """The single streaming INSERT must not swallow or re-wrap what the reader raised."""
    gz = tmp_path / "trunc.txt.gz"
    body = "".join(f"http://h{i % 50}.test/{i}\n" for i in range(200_000)).encode()
    gz.write_bytes(gzip.compress(body)[:200_000])
    with (
        Plan(tmp_path / "w1", memory_limit="256MB", threads=1) as plan,
        pytest.raises(ManifestError, match="cannot read"),
    ):
        plan.load(open_manifest(gz))

    def interrupted():
        m = open_manifest(write(tmp_path / "m.txt", b"http://a.test/\n"))
        yield from m.batches()
        raise KeyboardInterrupt

    with (
        Plan(tmp_path / "w2", memory_limit="256MB", threads=1) as plan,
        pytest.raises(KeyboardInterrupt),
    ):
        plan.load_batches(interrupted())


def test_plan_load_many_batches(tmp_path: Path) -> None:
    lines = [f"http://h{i % 97}.test/p{i}" for i in range(5000)]
    p = write(tmp_path / "m.txt", ("\n".join(lines) + "\n").encode())
    m = open_manifest(p, ManifestOptions(batch_rows=128))
    assert sum(1 for _ in m.batches()) > 30
    with Plan(tmp_path / "work", memory_limit="256MB", threads=1) as plan:
        assert plan.load(m) == 5000
        plan.resolve(None)
        st = plan.stats()
        assert st.todo_rows == 5000 and st.todo_origins == 97
        got = sorted(r["input_row"] for b in plan.rows() for r in b.to_pylist())
        assert got == list(range(5000))


def test_format_override(tmp_path: Path) -> None:
    p = write(tmp_path / "data.bin", b"url\nhttp://a.test/\n")
    assert open_manifest(p, ManifestOptions(format="csv")).format == "csv"
    with pytest.raises(ManifestError, match="unknown format"):
        open_manifest(p, ManifestOptions(format="xml"))


def _plan(tmp_path: Path, lines: list[str], shard: tuple[int, int] | None = None) -> Plan:
    tmp_path.mkdir(parents=True, exist_ok=True)
    p = write(tmp_path / "m.txt", ("\n".join(lines) + "\n").encode("utf-8"))
    plan = Plan(tmp_path / "work", memory_limit="256MB", threads=1)
    plan.load(open_manifest(p))
    plan.resolve(shard)
    return plan


def test_plan_groups_by_origin(tmp_path: Path) -> None:
    lines = [
        "http://a.test/1",
        "HTTP://A.TEST:80/2",
        "ftp://x.test/",
        "https://bücher.test/z",
        "http://a.test/1",  # a duplicate is a row too
        "http://a.test:8080/",
        "not a url",
    ]
    with _plan(tmp_path, lines) as plan:
        st = plan.stats()
        assert st.manifest_rows == st.todo_rows == 7
        assert st.invalid_origin_rows == 2
        groups = list(plan.groups())
        assert groups[0].origin is None and groups[0].rows == 2
        by_origin = {g.origin: g.rows for g in groups[1:]}
        assert by_origin == {
            "http://a.test": 3,
            "http://a.test:8080": 1,
            "https://xn--bcher-kva.test": 1,
        }
        got = [r for b in plan.rows() for r in b.to_pylist()]
        assert sorted(r["input_row"] for r in got) == list(range(7))
        oids = [r["origin_id"] for r in got]
        assert oids == sorted(oids)


def test_plan_shards_partition_rows(tmp_path: Path) -> None:
    lines = [f"http://h{i}.d{i % 7}.test/p" for i in range(50)] + ["junk", "mailto:x@y"]
    seen: list[int] = []
    n = 4
    for k in range(n):
        with _plan(tmp_path / str(k), lines, (k, n)) as plan:
            for b in plan.rows():
                for r in b.to_pylist():
                    seen.append(r["input_row"])
                    if r["origin_id"]:
                        host = r["url"].split("/")[2]
                        assert shard_of(registrable_domain(host), n) == k
    assert sorted(seen) == list(range(52))


def test_plan_exclude_done(tmp_path: Path) -> None:
    with _plan(tmp_path, URLS) as plan:
        done = pa.table(
            {
                "input_row": pa.array([0, 1], pa.int64()),
                "agents": pa.array([["tdmscan", "GPTBot"], ["tdmscan"]], pa.list_(pa.string())),
            }
        )
        plan.exclude_done(done, n_agents=2)
        got = {r["input_row"]: r["agents_done"] for b in plan.rows() for r in b.to_pylist()}
        assert got == {1: ["tdmscan"], 2: None}


def test_plan_empty_manifest(tmp_path: Path) -> None:
    p = write(tmp_path / "m.txt", b"\n# nothing\n")
    plan = Plan(tmp_path / "work")
    with pytest.raises(ManifestError, match="empty manifest"):
        plan.load(open_manifest(p))
    plan.close()


# --- the hot loop's URL fast path must agree with parse_url wherever it applies -------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tdmscan.audit.runner import fast_parse  # noqa: E402
from tdmscan.urls import InvalidURL, parse_url  # noqa: E402

_ORIGINS = ["http://a.test", "https://a.test", "http://a.test:8080", "http://xn--bcher-kva.test"]
_TAILS = st.lists(
    st.sampled_from([*"/?#%&=.;:@!$'()*+,-_~[]\\ aZ09ü\t", "%2F", "%7e"]), max_size=30
).map("".join)


@settings(max_examples=600, deadline=None)
@given(
    origin=st.sampled_from(_ORIGINS),
    head=st.sampled_from(["", "HTTP://A.TEST", "http://a.test:80"]),
    tail=_TAILS,
)
def test_fast_parse_agrees_with_parse_url(origin: str, head: str, tail: str) -> None:
    url = (head or origin) + "/" + tail
    base = parse_url(origin + "/")
    fast = fast_parse(url, origin + "/", base)
    if fast is None:
        return
    try:
        full = parse_url(url)
    except InvalidURL:
        pytest.fail(f"fast path accepted {url!r}, which parse_url rejects")
    assert fast == full
