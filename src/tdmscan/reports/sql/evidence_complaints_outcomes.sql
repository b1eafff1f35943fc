-- evidence_complaints_outcomes: complaints per status and outcome (resolution), with the
-- domains and URLs they named and the decisions their re-checks linked.
WITH c AS (
    SELECT *
    FROM complaints_state
    WHERE (getvariable('since') IS NULL OR received_at >= getvariable('since'))
      AND (getvariable('until') IS NULL OR received_at < getvariable('until'))
)
SELECT
    status,
    coalesce(resolution, '(open)') AS outcome,
    count(*) AS complaints,
    sum(len(coalesce(domains, []))) AS domains_named,
    sum(len(coalesce(urls, []))) AS urls_named,
    sum(len(coalesce(decision_ids, []))) AS decisions_linked
FROM c
GROUP BY ALL
ORDER BY complaints DESC, status, outcome;
