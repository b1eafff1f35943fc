-- evidence_crawlers: crawler identification per run (Code 1.3(4); Template 2.3(i)(ii)).
-- user_agent is NULL when the run used the tool's default User-Agent and did not record it.
SELECT
    run_id,
    user_agent,
    agents[1] AS own_token,
    len(agents) AS tokens_evaluated,
    array_to_string(agents, ', ') AS tokens,
    purpose,
    mode,
    coalesce(try_cast(json_extract_string(config_json, '$.deep') AS BOOLEAN), false)
        AS page_signals_checked,
    started_at
FROM scope_runs
ORDER BY started_at, run_id;
