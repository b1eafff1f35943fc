-- diff_changes: every (url, agent) whose verdict or reasons changed between run_a and run_b.
SELECT
    change,
    domain,
    url,
    agent,
    purpose,
    verdict_a,
    verdict_b,
    array_to_string(reasons_a, ', ') AS reasons_a,
    array_to_string(reasons_b, ', ') AS reasons_b
FROM diff_pairs
WHERE change LIKE 'became_%' OR change = 'reason_changed'
ORDER BY change, domain NULLS LAST, url, agent;
