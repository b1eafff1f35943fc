-- evidence_asof_copies: the archived copies (robots.txt, tdmrep.json, ai.txt) that as-of runs
-- in scope decided against: capture date, archived status and the sha256 of the archived bytes
-- (join key into snapshots), with the own-token decisions resting on each robots.txt copy.
WITH used AS (
    SELECT run_id, robots_url, robots_fetched_at, count(*) AS decisions
    FROM scope_decisions
    WHERE own_token AND robots_fetched_at IS NOT NULL
    GROUP BY ALL
)
SELECT
    f.origin,
    f.kind,
    f.archived_at,
    f.status,
    f.sha256,
    coalesce(sum(u.decisions), 0) AS decisions
FROM fetches f
LEFT JOIN used u
    ON u.run_id = f.run_id AND u.robots_url = f.url AND u.robots_fetched_at = f.archived_at
    AND f.kind = 'robots'
WHERE f.archived_at IS NOT NULL
  AND f.run_id IN (SELECT DISTINCT run_id FROM scope_decisions)
GROUP BY f.origin, f.kind, f.archived_at, f.status, f.sha256
ORDER BY decisions DESC, f.origin, f.kind, f.archived_at;
