-- domains_summary: the ranking's metric, domain count, cut-off and totals.
-- ties_at_cutoff: domains below the cut whose size equals the last listed domain's (ranked
-- by URL count, then name, so the cut is deterministic).
SELECT
    coalesce(any_value(metric), 'urls') AS metric,
    CASE WHEN coalesce(getvariable('sme'), false)
         THEN 'SME: top 5 % (rounded up) or 1,000 domains, whichever is lower'
         ELSE 'top 10 % of domains (rounded up)' END AS rule,
    count(*) AS domains_ranked,
    coalesce(any_value(cutoff), 0) AS domains_listed,
    coalesce(sum(urls), 0) AS urls_retained,
    coalesce(sum(bytes), 0) AS bytes_retained,
    coalesce(sum(urls) - sum(urls_with_size), 0) AS urls_without_size,
    (SELECT count(*) FROM scope_urls) AS urls_checked,
    (SELECT count(DISTINCT registrable_domain) FROM scope_urls
      WHERE registrable_domain IS NOT NULL) AS domains_checked,
    count(*) FILTER (WHERE rank > cutoff AND size = (
        SELECT size FROM domain_ranking WHERE rank = cutoff)) AS ties_at_cutoff
FROM domain_ranking;
