-- diff_page_coverage: for each of the two runs, its URLs (own token, each URL once with its
-- latest decision in the run), how many had their page fetched (page-level signals read) and
-- how many allowed URLs rest on site-level signals only.
WITH d AS (
    SELECT d.* EXCLUDE (page_checked), coalesce(d.agent = r.agents[1], true) AS own_token,
           coalesce(d.page_checked, EXISTS (SELECT 1 FROM fetches f
                   WHERE f.kind = 'page' AND f.run_id = d.run_id AND f.url = d.url))
               AS page_checked
    FROM decisions d
    LEFT JOIN runs r ON r.run_id = d.run_id
    WHERE d.run_id IN (getvariable('run_a'), getvariable('run_b'))
), u AS (
    SELECT * FROM d WHERE own_token
    QUALIFY row_number() OVER (
        PARTITION BY run_id, url ORDER BY checked_at DESC, decision_id DESC) = 1
)
SELECT
    CASE WHEN run_id = getvariable('run_a') THEN 'A' ELSE 'B' END AS side,
    run_id,
    count(*) AS urls_checked,
    count(*) FILTER (WHERE page_checked) AS urls_page_checked,
    count(*) FILTER (WHERE verdict = 'allowed') AS urls_allowed,
    count(*) FILTER (WHERE verdict = 'allowed' AND NOT page_checked)
        AS urls_allowed_site_level_only
FROM u
GROUP BY run_id
ORDER BY side;
