-- evidence_unknowns: counted decisions (scope_urls: each URL once) that could not be made
-- (unknown: retry later, never ingest; invalid: not an http(s) URL) or that recorded errors,
-- grouped by cause. The urls of the unknown rows add up to the unknown total, likewise invalid.
SELECT
    verdict,
    coalesce(registrable_domain, '(no domain)') AS domain,
    coalesce(robots_branch, '(none)') AS robots_branch,
    robots_status,
    robots_error,
    array_to_string(list_sort(reasons), ', ') AS reasons,
    count(*) AS urls
FROM scope_urls
WHERE verdict IN ('unknown', 'invalid') OR len(errors) > 0
GROUP BY ALL
ORDER BY verdict, urls DESC, domain, reasons;
