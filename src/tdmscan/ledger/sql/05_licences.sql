-- licences: the licence inventory (COMPLIANCE.md section 5), appended by imports.
CREATE OR REPLACE VIEW licences AS
SELECT *
FROM read_parquet('{ledger}/licences/*/*.parquet', union_by_name = true, hive_partitioning = false);
