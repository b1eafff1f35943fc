-- evidence_sample: a deterministic sample of the counted decisions (scope_urls: each URL
-- once, its latest own-token decision; sample_per_group per
-- verdict, first reason and robots branch; default 2), each with the robots.txt line it rests
-- on, read back from the stored snapshot, and the hashes that identify the exact bytes.
WITH s AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY verdict, coalesce(reasons[1], ''), coalesce(robots_branch, '')
            ORDER BY md5(decision_id)) AS k
    FROM scope_urls
)
SELECT
    s.decision_id,
    s.checked_at,
    s.url,
    s.agent,
    s.run_id,
    s.mode,
    s.page_checked,
    s.verdict,
    array_to_string(s.reasons, ', ') AS reasons,
    s.robots_branch,
    s.robots_status,
    s.robots_url,
    s.robots_sha256,
    sha256(r.body) = s.robots_sha256 AS robots_snapshot_verified,
    s.robots_matched_line,
    s.robots_matched_rule,
    string_split(replace(try(decode(r.body)), chr(13), ''), chr(10))[s.robots_matched_line]
        AS robots_line_in_snapshot,
    s.tdm_source,
    s.tdmrep_sha256,
    array_to_string(
        [e.protocol || ' (' || e.locator || '): ' || coalesce(e.raw, '')
         || coalesce(' [sha256 ' || e.sha256 || ']', '')
         FOR e IN s.evidence IF e.decisive], ' | ') AS decisive_evidence
FROM s
LEFT JOIN snapshots r ON r.sha256 = s.robots_sha256
WHERE s.k <= coalesce(getvariable('sample_per_group'), 2)
ORDER BY s.verdict, reasons, s.url;
