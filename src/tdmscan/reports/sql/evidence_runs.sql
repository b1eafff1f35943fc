-- evidence_runs: the runs in scope with the configuration and input they were made with.
SELECT
    run_id, kind, status, started_at, finished_at, tool_version, mode, purpose,
    input_description, input_sha256, dataset_id, config_sha256, psl_version,
    decisions AS decisions_recorded
FROM scope_runs
ORDER BY started_at, run_id;
