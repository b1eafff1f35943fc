-- evidence_period: size and period of the scope (Template 2.3(iv): period of data collection).
SELECT
    count(DISTINCT run_id) AS runs,
    count(*) AS decisions,
    count(*) FILTER (WHERE own_token) AS decisions_own_token,
    count(DISTINCT agent) AS agents_evaluated,
    count(DISTINCT url) AS urls,
    count(DISTINCT origin) AS origins,
    count(DISTINCT registrable_domain) AS registrable_domains,
    min(checked_at) AS first_checked_at,
    max(checked_at) AS last_checked_at
FROM scope_decisions;
