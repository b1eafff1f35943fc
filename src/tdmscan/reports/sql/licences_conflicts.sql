-- licences_conflicts: datasets marked used whose licence forbids AI training or commercial
-- use, or whose term has ended (today, UTC), or whose licence is unknown.
WITH i AS (SELECT * FROM licence_inventory WHERE used)
SELECT dataset_id AS dataset, version_or_snapshot, licence_id AS licence, conflict
FROM (
    SELECT *, 'AI training prohibited' AS conflict FROM i WHERE permitted_ai_training = 'prohibited'
    UNION ALL
    SELECT *, 'commercial use not permitted' FROM i WHERE permitted_commercial = 'no'
    UNION ALL
    SELECT *, 'term ended ' || strftime(term_end, '%Y-%m-%d') FROM i
    WHERE term_end < CAST(now() AT TIME ZONE 'UTC' AS DATE)
    UNION ALL
    SELECT *, 'licence unknown' FROM i
    WHERE licence_id IS NULL OR lower(licence_id) IN ('unknown', 'noassertion')
)
ORDER BY dataset, version_or_snapshot, conflict;
