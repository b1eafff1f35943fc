-- evidence_integrity: every stored signal body still hashes to its key, and every decision in
-- scope points at a robots.txt / tdmrep.json copy that is stored. All counts should be 0
-- except the first two.
SELECT
    (SELECT count(*) FROM snapshots) AS snapshots_stored,
    (SELECT count(*) FROM scope_decisions WHERE robots_sha256 IS NOT NULL)
        AS decisions_with_robots_copy,
    (SELECT count(*) FROM snapshots WHERE sha256(body) <> sha256) AS snapshots_hash_mismatch,
    (SELECT count(*) FROM scope_decisions d
      WHERE d.robots_sha256 IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.sha256 = d.robots_sha256))
        AS decisions_robots_copy_missing,
    (SELECT count(*) FROM scope_decisions d
      WHERE d.tdmrep_sha256 IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.sha256 = d.tdmrep_sha256))
        AS decisions_tdmrep_copy_missing;
