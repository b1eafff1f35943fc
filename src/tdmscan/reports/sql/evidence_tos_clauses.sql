-- evidence_tos_clauses: the clauses read as reservations, one row per terms page and clause,
-- with the clause's SHA-256 (the hash of the text shown, as recorded in the evidence) and the
-- number of counted URLs it applies to.
WITH t AS (
    SELECT u.url, ev.reason, ev.raw, ev.sha256, ev.source_url, ev.decisive
    FROM scope_urls u, unnest(u.evidence) AS x(ev)
    WHERE ev.reason IN ('tos:tdm-reserved', 'tos:scraping-prohibited')
)
SELECT
    source_url AS terms_page,
    reason,
    substr(raw, 1, 300) AS clause,
    sha256 AS clause_sha256,
    bool_or(decisive) AS decisive,
    count(DISTINCT url) AS urls
FROM t
GROUP BY ALL
ORDER BY urls DESC, terms_page, reason
LIMIT 100;
