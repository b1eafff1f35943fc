-- diff_protocols: per registrable domain and protocol, the (url, agent) pairs decided in both
-- runs whose reservation by that protocol was added in run B (absent in A) or withdrawn
-- (present in A, absent in B). A protocol reserves a pair when one of the pair's evidence
-- entries from it is interpreted 'reserved'. With run A an as-of run (what the archived site
-- files said when the data was collected) and run B a live run, "added" are reservations
-- made since collection and "withdrawn" ones lifted since.
WITH a AS (
    SELECT url, agent, purpose, registrable_domain, evidence FROM decisions
    WHERE run_id = getvariable('run_a')
    QUALIFY row_number() OVER (
        PARTITION BY url, agent, purpose ORDER BY checked_at DESC, decision_id DESC) = 1
), b AS (
    SELECT url, agent, purpose, registrable_domain, evidence FROM decisions
    WHERE run_id = getvariable('run_b')
    QUALIFY row_number() OVER (
        PARTITION BY url, agent, purpose ORDER BY checked_at DESC, decision_id DESC) = 1
), p AS (
    SELECT
        coalesce(b.registrable_domain, a.registrable_domain) AS domain,
        a.url, a.agent,
        list_distinct(list_transform(
            list_filter(a.evidence, lambda e: e.interpretation = 'reserved'), lambda e: e.protocol))
            AS prot_a,
        list_distinct(list_transform(
            list_filter(b.evidence, lambda e: e.interpretation = 'reserved'), lambda e: e.protocol))
            AS prot_b
    FROM a JOIN b ON a.url = b.url AND a.agent = b.agent AND a.purpose = b.purpose
), changes AS (
    SELECT domain, url, agent, unnest(list_filter(prot_b, lambda x: NOT list_contains(prot_a, x)))
        AS protocol, 'added' AS direction FROM p
    UNION ALL
    SELECT domain, url, agent, unnest(list_filter(prot_a, lambda x: NOT list_contains(prot_b, x)))
        AS protocol, 'withdrawn' AS direction FROM p
)
SELECT
    domain,
    protocol,
    count(*) FILTER (WHERE direction = 'added') AS reservations_added,
    count(*) FILTER (WHERE direction = 'withdrawn') AS reservations_withdrawn,
    count(DISTINCT url) AS urls
FROM changes
GROUP BY domain, protocol
ORDER BY reservations_added DESC, reservations_withdrawn DESC, domain NULLS LAST, protocol;
