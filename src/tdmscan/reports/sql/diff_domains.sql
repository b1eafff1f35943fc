-- diff_domains: per registrable domain and agent, how many (url, agent) pairs changed and how;
-- each column adds up, over the rows, to the pairs of that change in diff_summary.
SELECT
    domain,
    agent,
    count(*) FILTER (WHERE change = 'became_reserved') AS became_reserved,
    count(*) FILTER (WHERE change = 'became_allowed') AS became_allowed,
    count(*) FILTER (WHERE change = 'became_unknown') AS became_unknown,
    count(*) FILTER (WHERE change = 'became_invalid') AS became_invalid,
    count(*) FILTER (WHERE change = 'reason_changed') AS reason_changed
FROM diff_pairs
WHERE change LIKE 'became_%' OR change = 'reason_changed'
GROUP BY domain, agent
ORDER BY became_reserved DESC, domain NULLS LAST, agent;
