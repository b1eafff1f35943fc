-- snapshots: content-addressed bodies, one row per sha256. Two processes may each store the
-- same body once; the view keeps the earliest copy so joins never multiply rows.
CREATE OR REPLACE VIEW snapshots AS
SELECT *
FROM read_parquet('{ledger}/snapshots/*.parquet', union_by_name = true, hive_partitioning = false)
QUALIFY row_number() OVER (PARTITION BY sha256 ORDER BY fetched_at, run_id) = 1;
