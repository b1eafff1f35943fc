-- evidence_reserved_domains: registrable domains where at least one URL is reserved for at
-- least one agent evaluated, with the reasons. Fully excluded domains appear here, never in
-- the Template 2.3(vii) domain list.
SELECT
    registrable_domain AS domain,
    count(DISTINCT url) FILTER (WHERE own_token AND verdict = 'reserved') AS urls_reserved_own_token,
    count(DISTINCT url) FILTER (WHERE own_token) AS urls_checked_own_token,
    count(DISTINCT url) FILTER (WHERE verdict = 'reserved') AS urls_reserved_any_agent,
    count(DISTINCT agent) FILTER (WHERE verdict = 'reserved') AS agents_reserved,
    array_to_string(list_sort(list_distinct(flatten(
        list(reasons) FILTER (WHERE verdict = 'reserved')))), ', ') AS reasons
FROM scope_decisions
WHERE registrable_domain IS NOT NULL
GROUP BY registrable_domain
HAVING count(*) FILTER (WHERE verdict = 'reserved') > 0
ORDER BY urls_reserved_own_token DESC, urls_reserved_any_agent DESC, domain;
