-- evidence_verdict_totals: decisions by verdict, for the crawler's own token and for all agents.
WITH v(ord, verdict) AS (
    VALUES (1, 'allowed'), (2, 'reserved'), (3, 'unknown'), (4, 'invalid')
)
SELECT
    v.verdict,
    count(d.url) FILTER (WHERE d.own_token) AS decisions_own_token,
    count(DISTINCT d.url) FILTER (WHERE d.own_token) AS urls_own_token,
    count(d.url) AS decisions_all_agents
FROM v
LEFT JOIN scope_decisions d ON d.verdict = v.verdict
GROUP BY v.ord, v.verdict
ORDER BY v.ord;
