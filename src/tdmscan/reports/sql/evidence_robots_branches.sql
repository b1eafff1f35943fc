-- evidence_robots_branches: which RFC 9309 rule applied to the robots.txt behind each counted
-- decision (scope_urls: each URL once), so the urls column adds up to the URLs checked.
-- Every branch is listed, including those with no URLs.
WITH b(ord, branch, rule) AS (
    VALUES
        (1, 'parsed', '2xx: rules parsed and applied (RFC 9309 2.3.1.1)'),
        (2, '4xx-allow', '4xx except 429, "unavailable": crawler may access anything (2.3.1.3)'),
        (3, 'unreachable', '5xx, 429 or network failure: complete disallow, verdict unknown (2.3.1.4)'),
        (4, 'stale-copy', 'unreachable now; an earlier copy within the stale limit was used (2.4)'),
        (5, 'redirect-limit', 'more than 5 redirects: treated as unavailable (2.3.1.2)'),
        (6, 'absent', 'no robots.txt consulted for the decision'),
        (7, NULL, 'not evaluated: the input was not an http(s) URL')
)
SELECT
    coalesce(b.branch, '(none)') AS branch,
    b.rule,
    count(DISTINCT u.origin) AS origins,
    count(u.url) AS urls
FROM b
LEFT JOIN scope_urls u ON u.robots_branch IS NOT DISTINCT FROM b.branch
GROUP BY b.ord, b.branch, b.rule
ORDER BY b.ord;
