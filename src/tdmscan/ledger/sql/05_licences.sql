-- licences: the licence inventory (declared datasets and their licence terms), appended by imports.
CREATE OR REPLACE VIEW licences AS
SELECT *
FROM read_parquet('{ledger}/licences/*/*.parquet', union_by_name = true, hive_partitioning = false);
