-- crawlers: each distinct crawler configuration found in the run records (Code 1.3(4)):
-- User-Agent, product tokens, purpose, mode and whether page-level signals were checked,
-- with the period it was in use. A new configuration is a change to publish.
WITH r AS (
    SELECT
        *,
        coalesce(try_cast(json_extract_string(config_json, '$.deep') AS BOOLEAN), false) AS deep
    FROM runs
    WHERE kind <> 'licence-import'
)
SELECT
    agents[1] AS own_token,
    user_agent,
    agents AS tokens,
    purpose,
    mode,
    deep AS page_signals_checked,
    min(tool_version) AS tool_version,
    md5(concat_ws(chr(31), coalesce(user_agent, ''), array_to_string(agents, ','),
                  purpose, mode, deep::VARCHAR)) AS config_id,
    min(started_at) AS first_used,
    max(coalesce(finished_at, updated_at)) AS last_used,
    count(*) AS runs,
    sum(decisions) AS decisions
FROM r
GROUP BY ALL
ORDER BY first_used, config_id;
