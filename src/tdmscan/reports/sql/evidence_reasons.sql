-- evidence_reasons: reason codes behind the verdicts (a decision can carry several reasons).
-- The family is the part before the colon (robots, tdmrep, aipref, content-signal, ...).
WITH r AS (
    SELECT url, registrable_domain, own_token, unnest(reasons) AS reason FROM scope_decisions
)
SELECT
    split_part(reason, ':', 1) AS family,
    reason,
    count(*) FILTER (WHERE own_token) AS decisions_own_token,
    count(DISTINCT url) FILTER (WHERE own_token) AS urls_own_token,
    count(DISTINCT registrable_domain) FILTER (WHERE own_token) AS domains_own_token,
    count(*) AS decisions_all_agents
FROM r
GROUP BY ALL
ORDER BY decisions_own_token DESC, decisions_all_agents DESC, reason;
