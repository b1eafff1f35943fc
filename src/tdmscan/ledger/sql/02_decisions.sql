-- decisions: one row per (url, agent, purpose) decided in a run. `shard` comes from the
-- directory name (hive partitioning) and equals md5_number(registrable_domain) % N, so
-- WHERE shard = k reads one partition only.
CREATE OR REPLACE VIEW decisions AS
SELECT * EXCLUDE (run)
FROM read_parquet('{ledger}/decisions/*/*/*.parquet', union_by_name = true,
                  hive_partitioning = true, hive_types = {'run': VARCHAR, 'shard': INTEGER});
