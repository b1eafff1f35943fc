-- evidence_verdicts_by_agent: decisions by verdict for every product token evaluated.
SELECT
    agent,
    bool_or(own_token) AS own_token,
    count(*) FILTER (WHERE verdict = 'allowed') AS allowed,
    count(*) FILTER (WHERE verdict = 'reserved') AS reserved,
    count(*) FILTER (WHERE verdict = 'unknown') AS unknown,
    count(*) FILTER (WHERE verdict = 'invalid') AS invalid,
    count(*) AS decisions
FROM scope_decisions
GROUP BY agent
ORDER BY own_token DESC, reserved DESC, agent;
