-- evidence: each decision with the exact bytes of the robots.txt and tdmrep.json it used
-- (BLOB, byte-identical to what was fetched; decode(robots_txt) for text when it is UTF-8).
CREATE OR REPLACE VIEW evidence AS
SELECT
    d.decision_id, d.run_id, d.url, d.agent, d.purpose, d.verdict, d.reasons, d.checked_at,
    d.robots_url, d.robots_branch, d.robots_status, d.robots_verdict, d.robots_matched_rule,
    d.robots_matched_line, d.robots_fetched_at, d.robots_sha256,
    r.body AS robots_txt,
    d.tdm_reservation, d.tdm_source, d.tdm_policy, d.tdmrep_sha256,
    t.body AS tdmrep_json,
    d.evidence AS signals
FROM decisions d
LEFT JOIN snapshots r ON r.sha256 = d.robots_sha256
LEFT JOIN snapshots t ON t.sha256 = d.tdmrep_sha256;
