-- diff_runs: what each side of the comparison was decided against. as_of is 'live' for a run
-- that fetched the site files at checked time, else what an as-of run was decided as of
-- ('archive': each URL at its capture time; or one date); the copy dates are those of the
-- robots.txt copies its decisions rest on (for a live run, when they were fetched).
SELECT
    s.side,
    s.run_id,
    coalesce(json_extract_string(any_value(r.config_json), '$.as_of'), 'live') AS as_of,
    min(d.captured_at) AS first_captured_at,
    max(d.captured_at) AS last_captured_at,
    min(d.robots_fetched_at) AS first_copy_at,
    max(d.robots_fetched_at) AS last_copy_at,
    min(d.checked_at) AS first_checked_at,
    max(d.checked_at) AS last_checked_at
FROM (VALUES ('A', getvariable('run_a')), ('B', getvariable('run_b'))) s(side, run_id)
LEFT JOIN runs r ON r.run_id = s.run_id
LEFT JOIN decisions d ON d.run_id = s.run_id
GROUP BY s.side, s.run_id
ORDER BY s.side;
