-- licences_web: licences detected on the web, by SPDX id (or LicenseRef-...), with the
-- signal each was read from (link rel=license, Link header, JSON-LD, ...). URLs are counted by
-- the reports' counting rule (scope_urls: each URL once, its latest own-token decision).
WITH l AS (
    SELECT url, registrable_domain, unnest(licences) AS spdx FROM scope_urls
), src AS (
    SELECT replace(e.reason, 'licence:', '') AS spdx,
           string_agg(DISTINCT e.locator, ', ' ORDER BY e.locator) AS source_signals
    FROM (SELECT unnest(evidence) AS e FROM scope_urls)
    WHERE e.protocol = 'licence'
    GROUP BY 1
)
SELECT
    l.spdx,
    count(DISTINCT l.registrable_domain) AS domains,
    count(DISTINCT l.url) AS urls,
    array_to_string(list_sort(list_distinct(list(l.registrable_domain))), ', ') AS domain_list,
    src.source_signals
FROM l
LEFT JOIN src ON src.spdx = l.spdx
GROUP BY l.spdx, src.source_signals
ORDER BY urls DESC, l.spdx;
