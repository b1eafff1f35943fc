-- evidence_period: size and period of the scope (Template 2.3(iv): period of data collection).
-- urls counts each URL once (scope_urls); decisions counts every decision recorded in scope,
-- for every run, mode and agent, so it is larger when URLs were checked more than once.
SELECT
    (SELECT count(*) FROM scope_urls) AS urls,
    (SELECT count(DISTINCT origin) FROM scope_urls) AS origins,
    (SELECT count(DISTINCT registrable_domain) FROM scope_urls) AS registrable_domains,
    count(DISTINCT run_id) AS runs,
    count(DISTINCT mode) AS modes,
    count(DISTINCT agent) AS agents_evaluated,
    count(*) AS decisions,
    count(*) FILTER (WHERE own_token) AS decisions_own_token,
    min(checked_at) AS first_checked_at,
    max(checked_at) AS last_checked_at
FROM scope_decisions;
