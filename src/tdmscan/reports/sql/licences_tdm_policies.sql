-- licences_tdm_policies: TDMRep policies (tdm-policy URLs) that apply to reserved URLs, with
-- where the reservation was declared (file, header, meta). URLs are counted by the reports'
-- counting rule (scope_urls: each URL once, its latest own-token decision).
SELECT
    tdm_policy AS policy_url,
    array_to_string(list_sort(list_distinct(list(tdm_source))), ', ') AS declared_in,
    count(DISTINCT registrable_domain) AS domains,
    array_to_string(list_sort(list_distinct(list(registrable_domain))), ', ') AS domain_list,
    count(DISTINCT url) AS urls
FROM scope_urls
WHERE tdm_policy IS NOT NULL
GROUP BY tdm_policy
ORDER BY urls DESC, policy_url;
