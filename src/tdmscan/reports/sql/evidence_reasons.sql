-- evidence_reasons: reason codes behind the counted decisions (scope_urls: each URL once, its
-- latest own-token decision). A decision can carry several reasons, so the urls column does not
-- add up to the URLs checked; decisions_all_agents counts every decision in scope.
-- The family is the part before the colon (robots, tdmrep, aipref, content-signal, ...).
WITH u AS (
    SELECT url, registrable_domain, unnest(reasons) AS reason FROM scope_urls
), a AS (
    SELECT unnest(reasons) AS reason FROM scope_decisions
), ua AS (
    SELECT
        reason,
        count(DISTINCT url) AS urls,
        count(DISTINCT registrable_domain) AS domains
    FROM u
    GROUP BY reason
), aa AS (
    SELECT reason, count(*) AS decisions_all_agents FROM a GROUP BY reason
)
SELECT
    split_part(aa.reason, ':', 1) AS family,
    aa.reason,
    coalesce(ua.urls, 0) AS urls,
    coalesce(ua.domains, 0) AS domains,
    aa.decisions_all_agents
FROM aa
LEFT JOIN ua ON ua.reason = aa.reason
ORDER BY urls DESC, decisions_all_agents DESC, aa.reason;
