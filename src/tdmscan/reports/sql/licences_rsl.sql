-- licences_rsl: RSL licence documents referenced by sites, the outcome for the purpose
-- evaluated, and the rights holder's contact where the fetched document records one. URLs
-- are counted by the reports' counting rule (scope_urls: each URL once).
WITH r AS (
    SELECT d.url, d.registrable_domain, unnest(d.evidence) AS e
    FROM scope_urls d
)
SELECT
    registrable_domain AS domain,
    e.source_url AS licence_url,
    e.reason AS outcome,
    any_value(nullif(regexp_extract(e.raw, 'contactEmail="([^"]*)"', 1), '')) AS contact_email,
    any_value(nullif(regexp_extract(e.raw, 'contactUrl="([^"]*)"', 1), '')) AS contact_url,
    any_value(nullif(regexp_extract(e.raw, '<(?:\w+:)?terms>([^<]*)<', 1), '')) AS terms_url,
    count(DISTINCT url) AS urls
FROM r
WHERE e.protocol = 'rsl'
GROUP BY registrable_domain, e.source_url, e.reason
ORDER BY domain, licence_url, outcome;
