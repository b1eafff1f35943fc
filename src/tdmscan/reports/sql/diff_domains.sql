-- diff_domains: per registrable domain and agent, how many URLs changed and how.
SELECT
    domain,
    agent,
    count(*) FILTER (WHERE change = 'became_reserved') AS became_reserved,
    count(*) FILTER (WHERE change = 'became_allowed') AS became_allowed,
    count(*) FILTER (WHERE change IN ('became_unknown', 'became_invalid')) AS became_undecided,
    count(*) FILTER (WHERE change = 'reason_changed') AS reason_changed
FROM diff_pairs
WHERE change LIKE 'became_%' OR change = 'reason_changed'
GROUP BY domain, agent
ORDER BY became_reserved DESC, domain NULLS LAST, agent;
