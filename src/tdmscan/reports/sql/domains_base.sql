-- domains_base: content retained for training per registrable domain (Template 2.3(vii)).
-- A URL counts once, with its latest own-token decision in scope (scope_urls, the counting
-- rule of every report); only 'allowed' URLs are retained (fully excluded domains are not
-- "content scraped" for training).
-- Size: the manifest's content size, else the Content-Length of a recorded page fetch of that
-- URL, else the bytes that fetch read (a lower bound: deep checks stop after </head>).
-- Metric: bytes when any retained URL has a known size, otherwise the URL count.
-- Cut-off: top 10 % of ranked domains, rounded up: ceil(n / 10) = (n + 9) // 10.
-- SME variant (sme = true): the lower of the top 5 % rounded up, (n + 19) // 20, and 1,000.
CREATE OR REPLACE TEMP VIEW retained_urls AS
WITH latest AS (
    SELECT * FROM scope_urls
), page_sizes AS (
    SELECT url, max(coalesce(try_cast(content_length AS BIGINT), size)) AS size
    FROM fetches
    WHERE kind = 'page' AND (size IS NOT NULL OR content_length IS NOT NULL)
    GROUP BY url
)
SELECT
    l.registrable_domain AS domain,
    l.url,
    coalesce(l.content_size, p.size) AS size_bytes,
    CASE WHEN l.content_size IS NOT NULL THEN 'manifest'
         WHEN p.size IS NOT NULL THEN 'fetch' END AS size_source
FROM latest l
LEFT JOIN page_sizes p ON p.url = l.url
WHERE l.verdict = 'allowed' AND l.registrable_domain IS NOT NULL;

CREATE OR REPLACE TEMP VIEW domain_ranking AS
WITH per AS (
    SELECT
        domain,
        count(*) AS urls,
        sum(size_bytes) AS bytes,
        count(size_bytes) AS urls_with_size
    FROM retained_urls
    GROUP BY domain
), m AS (
    SELECT
        CASE WHEN coalesce(sum(urls_with_size), 0) > 0 THEN 'bytes' ELSE 'urls' END AS metric,
        count(*) AS n_domains
    FROM per
)
SELECT
    row_number() OVER (
        ORDER BY CASE WHEN m.metric = 'bytes' THEN coalesce(per.bytes, 0) ELSE per.urls END DESC,
                 per.urls DESC, per.domain) AS rank,
    per.domain,
    CASE WHEN m.metric = 'bytes' THEN coalesce(per.bytes, 0) ELSE per.urls END AS size,
    per.bytes,
    per.urls,
    per.urls_with_size,
    m.metric,
    m.n_domains,
    CASE WHEN coalesce(getvariable('sme'), false)
         THEN least((m.n_domains + 19) // 20, 1000)
         ELSE (m.n_domains + 9) // 10 END AS cutoff
FROM per, m;
