-- evidence_tos_summary: terms-of-use pages looked for and read in scope, and the URLs whose
-- counted decision carries a natural-language reservation (tos:tdm-reserved) or a scraping
-- prohibition (tos:scraping-prohibited). decided_on_terms_only: reserved URLs with no other
-- reason than tos:* (what changes if such clauses are judged not machine-readable).
WITH t AS (
    SELECT u.url, u.verdict, u.reasons, ev.reason, ev.decisive
    FROM scope_urls u, unnest(u.evidence) AS x(ev)
    WHERE ev.protocol = 'tos'
), f AS (
    SELECT * FROM fetches WHERE kind = 'terms' AND run_id IN (SELECT run_id FROM scope_runs)
)
SELECT
    (SELECT count(DISTINCT origin) FROM f) AS origins_terms_looked_for,
    (SELECT count(DISTINCT url) FROM f WHERE status BETWEEN 200 AND 299) AS terms_pages_read,
    count(DISTINCT url) FILTER (WHERE reason = 'tos:tdm-reserved') AS urls_tdm_reserved_clause,
    count(DISTINCT url) FILTER (WHERE reason = 'tos:scraping-prohibited')
        AS urls_scraping_prohibited_clause,
    count(DISTINCT url) FILTER (WHERE reason LIKE 'tos:%-%' AND decisive) AS urls_decided_on_it,
    count(DISTINCT url) FILTER (
        WHERE verdict = 'reserved' AND len(list_filter(reasons, lambda r: r NOT LIKE 'tos:%')) = 0
    ) AS urls_reserved_on_terms_only
FROM t;
