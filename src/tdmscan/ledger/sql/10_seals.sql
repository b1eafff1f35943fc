-- seals: RFC 3161 time-stamp tokens over the chain head, one row per `tdmscan ledger seal`
CREATE OR REPLACE VIEW seals AS
SELECT *
FROM read_parquet('{ledger}/seals/*/*.parquet', union_by_name = true, hive_partitioning = false);
