-- evidence_access_barriers: pages that met an access barrier, by barrier, with what was decided
-- for those URLs (scope_urls: each URL once, its latest own-token decision). tdmscan reads page heads only and never retries a page with
-- credentials, payment or a CAPTCHA. Since the access:* reasons, a page that met a barrier is
-- never decided allowed; "allowed" here comes from runs before them or from a later run of the
-- same URL that found no barrier.
SELECT
    p.barrier,
    count(DISTINCT p.url) AS pages,
    count(DISTINCT d.url) FILTER (WHERE d.verdict = 'allowed') AS urls_allowed,
    count(DISTINCT d.url) FILTER (WHERE d.verdict <> 'allowed') AS urls_not_allowed,
    min(p.fetched_at) AS first_seen,
    max(p.fetched_at) AS last_seen
FROM access_pages p
LEFT JOIN scope_urls d ON d.url = p.url
WHERE p.barrier IS NOT NULL
GROUP BY p.barrier
ORDER BY pages DESC, p.barrier;
