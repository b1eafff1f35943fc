-- evidence_summary: the key figures of the report, every URL figure a count over scope_urls
-- (each URL once, its latest own-token decision), so allowed + reserved + unknown + invalid
-- = urls_checked. urls_allowed_site_level_only: allowed URLs whose page was never fetched.
SELECT
    count(*) AS urls_checked,
    count(*) FILTER (WHERE verdict = 'allowed') AS allowed,
    count(*) FILTER (WHERE verdict = 'reserved') AS reserved,
    count(*) FILTER (WHERE verdict = 'unknown') AS unknown,
    count(*) FILTER (WHERE verdict = 'invalid') AS invalid,
    count(*) FILTER (WHERE page_checked) AS urls_page_checked,
    count(*) FILTER (WHERE verdict = 'allowed' AND NOT page_checked)
        AS allowed_site_level_only,
    count(DISTINCT registrable_domain) AS registrable_domains,
    count(DISTINCT registrable_domain) FILTER (WHERE verdict = 'reserved')
        AS domains_with_reserved_urls,
    (SELECT count(*) FROM scope_runs) AS runs,
    (SELECT string_agg(DISTINCT mode, ', ' ORDER BY mode) FROM scope_decisions) AS policy_modes,
    (SELECT min(checked_at) FROM scope_decisions) AS first_checked_at,
    (SELECT max(checked_at) FROM scope_decisions) AS last_checked_at
FROM scope_urls;
