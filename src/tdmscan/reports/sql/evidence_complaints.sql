-- evidence_complaints: the complaints register (Code of Practice, Measure 1.5) in the report's
-- period (received_at within since/until when set): how many were received, are open or
-- resolved, how many were re-checked, and how long the responses took (median and longest,
-- in days, from receipt to the re-check and to the resolution).
WITH c AS (
    SELECT *
    FROM complaints_state
    WHERE (getvariable('since') IS NULL OR received_at >= getvariable('since'))
      AND (getvariable('until') IS NULL OR received_at < getvariable('until'))
)
SELECT
    count(*) AS complaints_received,
    count(*) FILTER (WHERE status = 'open') AS open,
    count(*) FILTER (WHERE status = 'resolved') AS resolved,
    count(*) FILTER (WHERE recheck_run_id IS NOT NULL) AS rechecked,
    count(*) FILTER (WHERE exclude_until_resolved) AS excluding_until_resolved,
    round(median(epoch(rechecked_at - received_at)) / 86400, 1) AS median_days_to_recheck,
    round(median(epoch(resolved_at - received_at)) / 86400, 1) AS median_days_to_resolution,
    round(max(epoch(resolved_at - received_at)) / 86400, 1) AS longest_days_to_resolution,
    min(received_at) AS first_received,
    max(received_at) AS last_received
FROM c;
