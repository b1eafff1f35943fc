-- fetches: one row per signal-file fetch (robots.txt, tdmrep.json, ai.txt, page, rsl).
CREATE OR REPLACE VIEW fetches AS
SELECT *
FROM read_parquet('{ledger}/fetches/*/*.parquet', union_by_name = true, hive_partitioning = false);
