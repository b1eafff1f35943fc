-- evidence_verdicts_by_agent: URLs by verdict for every product token evaluated, each URL
-- counted once per token with that token's latest decision in scope (the scope_urls rule
-- applied per token). Tokens with the same figures share one row, so a catalogue of dozens of
-- training tokens that robots.txt files treat alike reads as one line.
WITH latest AS (
    SELECT *
    FROM scope_decisions
    QUALIFY row_number() OVER (
        PARTITION BY agent, url ORDER BY checked_at DESC, decision_id DESC) = 1
), per_agent AS (
    SELECT
        agent,
        bool_or(own_token) AS own_token,
        count(*) FILTER (WHERE verdict = 'allowed') AS allowed,
        count(*) FILTER (WHERE verdict = 'reserved') AS reserved,
        count(*) FILTER (WHERE verdict = 'unknown') AS unknown,
        count(*) FILTER (WHERE verdict = 'invalid') AS invalid,
        count(*) AS urls
    FROM latest
    GROUP BY agent
)
SELECT
    own_token,
    count(*) AS tokens,
    array_to_string(list_sort(list(agent)), ', ') AS agent_list,
    allowed,
    reserved,
    unknown,
    invalid,
    urls
FROM per_agent
GROUP BY own_token, allowed, reserved, unknown, invalid, urls
ORDER BY own_token DESC, reserved DESC, agent_list;
