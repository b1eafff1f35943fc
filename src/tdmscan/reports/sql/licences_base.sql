-- licences_base: the declared licence inventory, the latest record of each dataset version
-- (imports are append-only: re-importing a dataset supersedes its earlier record).
-- used: the dataset is marked used (used = true in the import) or names models it is used in.
CREATE OR REPLACE TEMP VIEW licence_inventory AS
SELECT
    *,
    coalesce(try_cast(json_extract_string(extra_json, '$.used') AS BOOLEAN), false)
        OR coalesce(len(used_in_models), 0) > 0 AS used
FROM licences
QUALIFY row_number() OVER (
    PARTITION BY dataset_id, coalesce(version_or_snapshot, '')
    ORDER BY recorded_at DESC, licence_record_id DESC) = 1;
