-- evidence_exclusions: URLs excluded because their site is on an infringing-site list (Code of
-- Practice, Measure 1.2), per list, list version and listed domain, counted by the rule of the
-- summary (scope_urls: each URL once, its latest own-token decision). The evidence locator is
-- "list NAME VERSION"; its raw value is "listed-domain: source (date)".
WITH e AS (
    SELECT u.url, u.checked_at, ev.locator, ev.raw, ev.source_url
    FROM scope_urls u, unnest(u.evidence) AS t(ev)
    WHERE ev.reason = 'access:listed-infringing'
)
SELECT
    regexp_extract(locator, '^list (.+) ([^ ]+)$', 1) AS list,
    regexp_extract(locator, '^list (.+) ([^ ]+)$', 2) AS list_version,
    split_part(raw, ':', 1) AS listed_domain,
    count(DISTINCT url) AS urls,
    min(checked_at) AS first_checked,
    max(checked_at) AS last_checked,
    any_value(substr(raw, strpos(raw, ':') + 2, 400)) AS source,
    any_value(source_url) AS source_url
FROM e
GROUP BY ALL
ORDER BY urls DESC, list, listed_domain;
