"""tdmscan.batch: the Arrow UDF and its Ray Data and Spark adapters give the audit's decisions."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

from tdmscan.batch import DECISION_FIELDS, BatchDecider, decide_table, output_schema
from tdmscan.cli import main
from tdmscan.fakeweb import Resp, Site
from tdmscan.ledger import Ledger

AGENTS = ("tdmscan", "GPTBot")
SITES = [
    Site("a.test", {"/robots.txt": Resp(body="User-agent: *\nDisallow: /private/\n")}),
    Site("g.test", {"/robots.txt": Resp(body="User-agent: GPTBot\nDisallow: /\n")}),
    Site("b.test", {"/robots.txt": Resp(404)}),
    Site("e.test", {"/robots.txt": Resp(503)}),
    Site(
        "t.test",
        {
            "/robots.txt": Resp(body="User-agent: *\nAllow: /\n"),
            "/.well-known/tdmrep.json": Resp(
                body='[{"location": "/", "tdm-reservation": 1}]', content_type="application/json"
            ),
        },
    ),
]
URLS = [f"http://{h}.test/{p}" for h in "agbet" for p in ("ok", "private/x")]
URLS += ["not a url", "http://a.test/ok"]  # an invalid row and a duplicate

Key = tuple[str, str, str, tuple[str, ...]]


@pytest.fixture
def web(fakeweb: Any, fakeweb_env: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    fw = fakeweb(SITES)
    fakeweb_env(fw)
    for k, v in fw.proxy_env().items():
        monkeypatch.setenv(k, v)
    return fw


def audit_keys(tmp_path: Path) -> list[Key]:
    m = tmp_path / "m.txt"
    m.write_text("\n".join(URLS) + "\n")
    led = tmp_path / "audit"
    args = ["audit", str(m), "--ledger", str(led), "--timeout", "3", "--json"]
    for a in AGENTS:
        args += ["--agent", a]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    rows = (
        Ledger(led)
        .connect()
        .execute("SELECT url, agent, verdict, reasons FROM decisions")
        .fetchall()
    )
    return sorted((u, a, v, tuple(rs)) for u, a, v, rs in rows)


def keys(t: pa.Table) -> list[Key]:
    return sorted(
        (u, a, v, tuple(rs))
        for u, a, v, rs in zip(
            t.column("url").to_pylist(),
            t.column("agent").to_pylist(),
            t.column("verdict").to_pylist(),
            t.column("reasons").to_pylist(),
            strict=True,
        )
    )


def source() -> pa.Table:
    return pa.table({"url": URLS, "doc_id": list(range(len(URLS)))})


def test_arrow_udf_matches_audit_and_keeps_input_columns(tmp_path: Path, web: Any) -> None:
    expected = audit_keys(tmp_path)
    web.reset_counts()
    out = decide_table(source(), agents=AGENTS)
    assert out.schema == output_schema(source().schema)
    assert out.num_rows == len(URLS) * len(AGENTS)
    assert keys(out) == expected
    # Input columns travel with their rows.
    for url, doc in zip(
        out.column("url").to_pylist(), out.column("doc_id").to_pylist(), strict=True
    ):
        assert URLS[doc] == url
    # One scanner per decider: each origin's robots.txt fetched once for the whole table.
    assert web.counts().get(("a.test", "/robots.txt")) == 1


def test_udf_records_a_verifiable_ledger_and_reuses_its_scanner(tmp_path: Path, web: Any) -> None:
    led = tmp_path / "led"
    with BatchDecider(AGENTS, ledger=str(led), run_id="batch-1") as d:
        first = d(source().slice(0, 6))
        second = d(source().slice(6))
        # Rows are on disk after every batch, before close.
        n = Ledger(led).connect().execute("SELECT count(*) FROM decisions").fetchone()
        assert n == (len(URLS) * len(AGENTS),)
    assert first.num_rows + second.num_rows == len(URLS) * len(AGENTS)
    con = Ledger(led).connect()
    assert con.execute("SELECT DISTINCT kind, status FROM runs").fetchall() == [
        ("batch", "finished")
    ]
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] >= 3
    assert Ledger(led).verify().ok
    assert web.counts().get(("a.test", "/robots.txt")) == 1


def test_clashing_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="clash"):
        output_schema(pa.schema([("url", pa.string()), ("verdict", pa.string())]))
    assert DECISION_FIELDS.names[:2] == ["agent", "verdict"]


def test_ray_data_adapter(tmp_path: Path, web: Any) -> None:
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    from tdmscan.batch import ray_map_batches

    expected = audit_keys(tmp_path)
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=100 * 1024 * 1024,
            runtime_env={"env_vars": {**web.proxy_env(), "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}},
        )
    try:
        ds = ray.data.from_arrow(source()).repartition(3)
        out = ray_map_batches(ds, concurrency=1, agents=AGENTS).to_arrow_refs()
        table = pa.concat_tables(ray.get(out))
    finally:
        if started:
            ray.shutdown()
    assert keys(table) == expected


def test_spark_adapter(tmp_path: Path, web: Any) -> None:
    pytest.importorskip("pyspark")
    if os.system("java -version >/dev/null 2>&1") != 0:
        pytest.skip("no Java runtime for Spark")
    from pyspark.sql import SparkSession

    from tdmscan.batch import spark_schema, spark_udf

    expected = audit_keys(tmp_path)
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("tdmscan-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    try:
        df = spark.createDataFrame([(u, i) for i, u in enumerate(URLS)], "url string, doc_id long")
        out = df.mapInArrow(spark_udf(agents=AGENTS), spark_schema(df.schema))
        table = pa.Table.from_pylist([r.asDict() for r in out.collect()])
    finally:
        spark.stop()
    assert keys(table) == expected
