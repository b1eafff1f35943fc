-- evidence_verdict_totals: URLs by verdict, each URL counted once with its latest own-token
-- decision (scope_urls), so the urls column adds up to the URLs checked. The decisions columns
-- count every decision in scope (all runs; own token / every agent evaluated).
WITH v(ord, verdict) AS (
    VALUES (1, 'allowed'), (2, 'reserved'), (3, 'unknown'), (4, 'invalid')
), u AS (
    SELECT verdict, count(*) AS urls FROM scope_urls GROUP BY verdict
), d AS (
    SELECT
        verdict,
        count(*) FILTER (WHERE own_token) AS decisions_own_token,
        count(*) AS decisions_all_agents
    FROM scope_decisions
    GROUP BY verdict
)
SELECT
    v.verdict,
    coalesce(u.urls, 0) AS urls,
    round(100.0 * coalesce(u.urls, 0) / nullif(sum(coalesce(u.urls, 0)) OVER (), 0), 1)
        AS share_pct,
    coalesce(d.decisions_own_token, 0) AS decisions_own_token,
    coalesce(d.decisions_all_agents, 0) AS decisions_all_agents
FROM v
LEFT JOIN u ON u.verdict = v.verdict
LEFT JOIN d ON d.verdict = v.verdict
ORDER BY v.ord;
