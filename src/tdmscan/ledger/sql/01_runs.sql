-- runs: one row per run, its latest state. The writer appends a row when a run starts
-- (status 'running') and another when it ends ('finished' or 'interrupted'); a run whose
-- latest row is still 'running' with no live process (hostname, pid) crashed.
-- run_history keeps every row.
CREATE OR REPLACE VIEW run_history AS
SELECT *
FROM read_parquet('{ledger}/runs/*/*.parquet', union_by_name = true, hive_partitioning = false);

CREATE OR REPLACE VIEW runs AS
SELECT *
FROM run_history
QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY updated_at DESC, status = 'running') = 1;
