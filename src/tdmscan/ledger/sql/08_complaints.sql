-- complaints: the complaints register (Code of Practice measure 1.5) as an event log, one row
-- per event (received, rechecked, resolved); appended by `tdmscan complaints`.
CREATE OR REPLACE VIEW complaints AS
SELECT *
FROM read_parquet('{ledger}/complaints/*/*.parquet', union_by_name = true, hive_partitioning = false);

-- complaints_state: each complaint once, its received facts with the latest re-check and the
-- latest resolution; status is open until a resolved event exists.
CREATE OR REPLACE VIEW complaints_state AS
WITH r AS (
    SELECT * FROM complaints WHERE event = 'received'
    QUALIFY row_number() OVER (PARTITION BY complaint_id ORDER BY recorded_at) = 1
), c AS (
    SELECT complaint_id, recheck_run_id, decision_ids, recorded_at AS rechecked_at
    FROM complaints WHERE event = 'rechecked'
    QUALIFY row_number() OVER (PARTITION BY complaint_id ORDER BY recorded_at DESC) = 1
), s AS (
    SELECT complaint_id, resolution, resolved_at, note AS resolution_note
    FROM complaints WHERE event = 'resolved'
    QUALIFY row_number() OVER (PARTITION BY complaint_id ORDER BY recorded_at DESC) = 1
)
SELECT
    r.complaint_id,
    r.received_at,
    r.recorded_at,
    r.complainant,
    r.contact,
    r.domains,
    r.urls,
    r.claim,
    r.exclude_until_resolved,
    CASE WHEN s.complaint_id IS NULL THEN 'open' ELSE 'resolved' END AS status,
    s.resolution,
    s.resolved_at,
    s.resolution_note,
    c.recheck_run_id,
    c.decision_ids,
    c.rechecked_at
FROM r
LEFT JOIN c ON c.complaint_id = r.complaint_id
LEFT JOIN s ON s.complaint_id = r.complaint_id;
