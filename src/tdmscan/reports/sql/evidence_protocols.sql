-- evidence_protocols: protocols honoured, their spec versions and legal tier (Code 1.3(1)(2)),
-- with how often each was observed and how many own-token decisions it reserved.
-- protocol_catalogue is created by the report (see its setup statement).
WITH ev AS (
    SELECT own_token, url, unnest(evidence) AS e FROM scope_decisions
), obs AS (
    SELECT
        e.protocol AS protocol,
        string_agg(DISTINCT e.spec_version, '; ' ORDER BY e.spec_version) AS seen_spec_versions,
        count(*) AS observations,
        count(DISTINCT url) FILTER (WHERE own_token AND e.interpretation = 'reserved')
            AS urls_reserved_own_token
    FROM ev
    GROUP BY 1
)
SELECT
    coalesce(c.protocol, o.protocol) AS protocol,
    coalesce(c.name, o.protocol) AS name,
    coalesce(o.seen_spec_versions, c.spec_version) AS spec_version,
    coalesce(c.tier, 'not catalogued') AS tier,
    coalesce(c.level, '') AS checked_in,
    coalesce(o.observations, 0) AS observations,
    coalesce(o.urls_reserved_own_token, 0) AS urls_reserved_own_token
FROM protocol_catalogue c
FULL OUTER JOIN obs o ON o.protocol = c.protocol
ORDER BY coalesce(c.ord, 99), protocol;
