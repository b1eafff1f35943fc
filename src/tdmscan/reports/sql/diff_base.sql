-- diff_base: decisions of run_a and run_b paired by (url, agent, purpose). A URL decided more
-- than once in a run (duplicate manifest rows) counts once, with its latest decision.
-- change: became_<verdict> when the verdict differs, reason_changed when only the set of
-- reason codes differs; NULL when nothing changed.
CREATE OR REPLACE TEMP VIEW diff_pairs AS
WITH a AS (
    SELECT * FROM decisions WHERE run_id = getvariable('run_a')
    QUALIFY row_number() OVER (
        PARTITION BY url, agent, purpose ORDER BY checked_at DESC, decision_id DESC) = 1
), b AS (
    SELECT * FROM decisions WHERE run_id = getvariable('run_b')
    QUALIFY row_number() OVER (
        PARTITION BY url, agent, purpose ORDER BY checked_at DESC, decision_id DESC) = 1
)
SELECT
    coalesce(b.registrable_domain, a.registrable_domain) AS domain,
    coalesce(a.url, b.url) AS url,
    coalesce(a.agent, b.agent) AS agent,
    coalesce(a.purpose, b.purpose) AS purpose,
    a.verdict AS verdict_a,
    b.verdict AS verdict_b,
    a.reasons AS reasons_a,
    b.reasons AS reasons_b,
    CASE
        WHEN a.url IS NULL THEN 'only_in_b'
        WHEN b.url IS NULL THEN 'only_in_a'
        WHEN a.verdict <> b.verdict THEN 'became_' || b.verdict
        WHEN list_sort(list_distinct(a.reasons)) <> list_sort(list_distinct(b.reasons))
            THEN 'reason_changed'
    END AS change
FROM a
FULL OUTER JOIN b ON a.url = b.url AND a.agent = b.agent AND a.purpose = b.purpose;
