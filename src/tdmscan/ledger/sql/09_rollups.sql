-- rollups: compact counts per registrable domain x agent x purpose x verdict x first reason x
-- decisive protocol, written when a run (or one shard of it) closes. A writer that closes
-- again (a resumed run) writes its shard's rollup anew; only the newest counts. A run whose
-- shards wrote rollups is counted by them, not by a run-level writer's (the Ray driver's).
CREATE OR REPLACE VIEW rollups AS
WITH stored AS (
    SELECT *
    FROM read_parquet('{ledger}/rollups/*/*.parquet', union_by_name = true,
                      hive_partitioning = false)
),
latest AS (
    SELECT *
    FROM stored
    QUALIFY written_at = max(written_at) OVER (PARTITION BY run_id, shard_k)
)
SELECT * EXCLUDE (written_at)
FROM latest l
WHERE l.shard_k IS NOT NULL
   OR NOT EXISTS (SELECT 1 FROM latest s WHERE s.run_id = l.run_id AND s.shard_k IS NOT NULL);
