-- evidence_crawlers: crawler identification (Code of Practice 1.3(4); Template 2.3(i)(ii)):
-- one row per configuration in scope (User-Agent, own token, tokens evaluated, purpose, mode,
-- page checks), with the runs that used it. user_agent is NULL when the run used the tool's
-- default User-Agent and did not record it.
SELECT
    agents[1] AS own_token,
    user_agent,
    purpose,
    mode,
    coalesce(try_cast(json_extract_string(config_json, '$.deep') AS BOOLEAN), false)
        AS page_signals_checked,
    count(*) AS runs,
    min(started_at) AS first_run,
    max(started_at) AS last_run,
    len(agents) AS tokens_evaluated,
    array_to_string(agents, ', ') AS token_list
FROM scope_runs
GROUP BY ALL
ORDER BY first_run, own_token, mode;
