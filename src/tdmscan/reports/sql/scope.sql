-- scope: the decisions and runs a report covers, and which decisions are the crawler's own.
-- Variables (unset or NULL means no restriction):
--   run_ids  VARCHAR[]    only decisions of these runs
--   since    TIMESTAMPTZ  only decisions checked at or after this instant
--   until    TIMESTAMPTZ  only decisions checked before this instant (exclusive)
-- own_token: the decision is for the run's own product token (runs.agents[1], the crawler's
-- identity; the other agents are the catalogue of AI-training tokens evaluated alongside).
-- A run that recorded no agents counts every decision as its own.
CREATE OR REPLACE TEMP VIEW scope_decisions AS
SELECT d.*, coalesce(d.agent = r.agents[1], true) AS own_token
FROM decisions d
LEFT JOIN runs r ON r.run_id = d.run_id
WHERE (getvariable('run_ids') IS NULL OR list_contains(getvariable('run_ids'), d.run_id))
  AND (getvariable('since') IS NULL OR d.checked_at >= getvariable('since'))
  AND (getvariable('until') IS NULL OR d.checked_at < getvariable('until'));

-- scope_runs: the runs with decisions in scope; without a period, every run selected (a run
-- that decided nothing yet is still part of the scope's configuration).
CREATE OR REPLACE TEMP VIEW scope_runs AS
SELECT *
FROM runs
WHERE kind <> 'licence-import'
  AND (run_id IN (SELECT DISTINCT run_id FROM scope_decisions)
       OR (getvariable('since') IS NULL AND getvariable('until') IS NULL
           AND (getvariable('run_ids') IS NULL
                OR list_contains(getvariable('run_ids'), run_id))));
