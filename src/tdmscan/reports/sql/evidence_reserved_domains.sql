-- evidence_reserved_domains: registrable domains with reserved URLs among the counted
-- decisions (scope_urls: each URL once, its latest own-token decision), so urls_reserved adds
-- up to the reserved total. Fully excluded domains appear here, never in the Template
-- 2.3(vii) domain list.
SELECT
    registrable_domain AS domain,
    count(*) FILTER (WHERE verdict = 'reserved') AS urls_reserved,
    count(*) AS urls_checked,
    array_to_string(list_sort(list_distinct(flatten(
        list(reasons) FILTER (WHERE verdict = 'reserved')))), ', ') AS reasons
FROM scope_urls
WHERE registrable_domain IS NOT NULL
GROUP BY registrable_domain
HAVING count(*) FILTER (WHERE verdict = 'reserved') > 0
ORDER BY urls_reserved DESC, domain;
