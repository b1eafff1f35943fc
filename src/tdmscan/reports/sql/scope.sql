-- scope: the decisions and runs a report covers, which decisions are the crawler's own, and
-- the one decision per URL that every URL figure of a report counts.
-- Variables (unset or NULL means no restriction):
--   run_ids  VARCHAR[]    only decisions of these runs
--   since    TIMESTAMPTZ  only decisions checked at or after this instant
--   until    TIMESTAMPTZ  only decisions checked before this instant (exclusive)
--   mode     VARCHAR      only decisions made in this policy mode (conservative, strict)
-- own_token: the decision is for the run's own product token (runs.agents[1], the crawler's
-- identity; the other agents are the catalogue of AI-training tokens evaluated alongside).
-- A run that recorded no agents counts every decision as its own.
-- page_checked: the page's own response was read for this decision (headers, <head>), so
-- page-level signals (meta robots, X-Robots-Tag, TDMRep headers, ...) were honoured. Recorded
-- on each decision since decisions v2; rows written before that read NULL and fall back to
-- whether the run recorded a page fetch of that URL.
CREATE OR REPLACE TEMP VIEW scope_decisions AS
WITH page_fetches AS (
    SELECT DISTINCT run_id, url FROM fetches WHERE kind = 'page'
)
SELECT
    d.* EXCLUDE (page_checked),
    coalesce(d.agent = r.agents[1], true) AS own_token,
    coalesce(d.page_checked, p.url IS NOT NULL) AS page_checked
FROM decisions d
LEFT JOIN runs r ON r.run_id = d.run_id
LEFT JOIN page_fetches p ON p.run_id = d.run_id AND p.url = d.url
WHERE (getvariable('run_ids') IS NULL OR list_contains(getvariable('run_ids'), d.run_id))
  AND (getvariable('since') IS NULL OR d.checked_at >= getvariable('since'))
  AND (getvariable('until') IS NULL OR d.checked_at < getvariable('until'))
  AND (getvariable('mode') IS NULL OR d.mode = getvariable('mode'));

-- scope_urls: the counting rule. Each URL in scope counts once, with its latest own-token
-- decision (latest checked_at, ties broken by decision_id), whatever the number of runs,
-- modes or agents in scope. Every URL figure (checked, allowed, reserved, unknown, invalid,
-- per domain, per reason, per robots.txt branch) is a count over this view, so the verdicts
-- add up to the URLs checked.
CREATE OR REPLACE TEMP VIEW scope_urls AS
SELECT *
FROM scope_decisions
WHERE own_token
QUALIFY row_number() OVER (PARTITION BY url ORDER BY checked_at DESC, decision_id DESC) = 1;

-- scope_runs: the runs with decisions in scope; without a period or mode, every run selected
-- (a run that decided nothing yet is still part of the scope's configuration).
CREATE OR REPLACE TEMP VIEW scope_runs AS
SELECT *
FROM runs
WHERE kind NOT IN ('licence-import', 'seal') AND kind NOT LIKE 'complaint-%'
  AND (run_id IN (SELECT DISTINCT run_id FROM scope_decisions)
       OR (getvariable('since') IS NULL AND getvariable('until') IS NULL
           AND getvariable('mode') IS NULL
           AND (getvariable('run_ids') IS NULL
                OR list_contains(getvariable('run_ids'), run_id))));

-- page_coverage: how far page-level signals were read, over the counted decisions. Allowed
-- URLs whose page was not checked rest on site-level signals only (robots.txt, tdmrep.json,
-- ai.txt, robots.txt Content-Signal / Content-Usage / License lines).
CREATE OR REPLACE TEMP VIEW page_coverage AS
SELECT
    count(*) AS urls_checked,
    count(*) FILTER (WHERE page_checked) AS urls_page_checked,
    count(*) FILTER (WHERE verdict = 'allowed') AS urls_allowed,
    count(*) FILTER (WHERE verdict = 'allowed' AND NOT page_checked)
        AS urls_allowed_site_level_only
FROM scope_urls;
