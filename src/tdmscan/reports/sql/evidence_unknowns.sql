-- evidence_unknowns: decisions that could not be made (unknown: retry later, never ingest;
-- invalid: not an http(s) URL) and decisions that recorded errors, grouped by cause.
SELECT
    verdict,
    coalesce(registrable_domain, '(no domain)') AS domain,
    coalesce(robots_branch, '(none)') AS robots_branch,
    robots_status,
    robots_error,
    array_to_string(list_sort(reasons), ', ') AS reasons,
    count(DISTINCT url) AS urls,
    count(*) FILTER (WHERE own_token) AS decisions_own_token,
    count(*) AS decisions_all_agents
FROM scope_decisions
WHERE verdict IN ('unknown', 'invalid') OR len(errors) > 0
GROUP BY ALL
ORDER BY verdict, urls DESC, domain, reasons;
