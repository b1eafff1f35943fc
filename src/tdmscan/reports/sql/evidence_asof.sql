-- evidence_asof: the as-of scope. For each run in scope decided against archived site files
-- (tdmscan audit --as-of), what it was decided as of ('archive': each URL at its own capture
-- time; else one date), the window a copy could lie in, the capture times of the content and
-- the dates of the archived robots.txt copies the decisions rest on. Decisions are the run's
-- own-token decisions in scope; no_copy_in_window and no_capture_time are unknown (never
-- allowed) because no archived copy could be chosen; copy_before / copy_after say on which
-- side of the content's capture time the copy used lies; max_distance_h is the largest gap.
SELECT
    d.run_id,
    json_extract_string(any_value(r.config_json), '$.as_of') AS as_of,
    json_extract(any_value(r.config_json), '$.window_before_s')::DOUBLE / 3600 AS window_before_h,
    json_extract(any_value(r.config_json), '$.window_after_s')::DOUBLE / 3600 AS window_after_h,
    count(*) AS decisions,
    min(d.captured_at) AS first_captured_at,
    max(d.captured_at) AS last_captured_at,
    count(DISTINCT (d.robots_url, d.robots_fetched_at)) AS robots_copies,
    min(d.robots_fetched_at) AS first_copy_at,
    max(d.robots_fetched_at) AS last_copy_at,
    count(*) FILTER (WHERE d.robots_fetched_at <= d.captured_at) AS copy_before,
    count(*) FILTER (WHERE d.robots_fetched_at > d.captured_at) AS copy_after,
    count(*) FILTER (WHERE list_contains(d.reasons, 'archive:no-capture')) AS no_copy_in_window,
    count(*) FILTER (WHERE list_contains(d.reasons, 'archive:no-capture-time')) AS no_capture_time,
    round(max(abs(epoch(d.robots_fetched_at) - epoch(d.captured_at))) / 3600, 2) AS max_distance_h
FROM scope_decisions d
JOIN runs r ON r.run_id = d.run_id
WHERE d.own_token AND json_extract_string(r.config_json, '$.as_of') IS NOT NULL
GROUP BY d.run_id
ORDER BY d.run_id;
