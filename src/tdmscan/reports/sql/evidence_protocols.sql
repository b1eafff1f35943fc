-- evidence_protocols: protocols honoured, their spec versions and legal tier (Code 1.3(1)(2)),
-- with how often it was observed (in every decision in scope) and how many counted URLs it
-- reserved (scope_urls: each URL once, its latest own-token decision).
-- protocol_catalogue is created by the report (see its setup statement).
WITH ev AS (
    SELECT unnest(evidence) AS e FROM scope_decisions
), obs AS (
    SELECT
        e.protocol AS protocol,
        string_agg(DISTINCT e.spec_version, '; ' ORDER BY e.spec_version) AS seen_spec_versions,
        count(*) AS observations
    FROM ev
    GROUP BY 1
), res AS (
    SELECT e.protocol AS protocol, count(DISTINCT url) AS urls_reserved
    FROM (SELECT url, verdict, unnest(evidence) AS e FROM scope_urls)
    WHERE verdict = 'reserved' AND e.interpretation = 'reserved'
    GROUP BY 1
)
SELECT
    coalesce(c.protocol, o.protocol) AS protocol,
    coalesce(c.name, o.protocol) AS name,
    coalesce(o.seen_spec_versions, c.spec_version) AS spec_version,
    coalesce(c.tier, 'not catalogued') AS tier,
    coalesce(c.level, '') AS checked_in,
    coalesce(o.observations, 0) AS observations,
    coalesce(r.urls_reserved, 0) AS urls_reserved
FROM protocol_catalogue c
FULL OUTER JOIN obs o ON o.protocol = c.protocol
LEFT JOIN res r ON r.protocol = coalesce(c.protocol, o.protocol)
ORDER BY coalesce(c.ord, 99), protocol;
