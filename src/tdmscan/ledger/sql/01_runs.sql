-- run_history: every runs row. A writer appends one when it starts (status 'running') and one
-- when it ends ('finished' or 'interrupted'); a run whose latest row is still 'running' with
-- no live process (hostname, pid) crashed. shard_k / shard_n say which shard (k of n) the
-- writer audited, NULL for a run-level writer (an unsharded run, the Ray driver). Rows
-- written before runs v2 have no such columns: an audit's shard is then read from its
-- config_json ("shard": [k, n]), which every sharded audit has always recorded.
CREATE OR REPLACE VIEW run_history AS
SELECT * REPLACE (
    coalesce(
        shard_k,
        CASE WHEN kind = 'audit'
            THEN try_cast(json_extract_string(config_json, '$.shard[0]') AS INTEGER) END
    ) AS shard_k,
    coalesce(
        shard_n,
        CASE WHEN kind = 'audit'
            THEN try_cast(json_extract_string(config_json, '$.shard[1]') AS INTEGER) END
    ) AS shard_n
)
FROM (
    SELECT *
    FROM read_parquet('{ledger}/runs/*/*.parquet', union_by_name = true, hive_partitioning = false)
    -- A ledger not yet opened by a v2 writer has no v2 schema anchor: add the columns.
    UNION ALL BY NAME
    SELECT NULL::INTEGER AS shard_k, NULL::INTEGER AS shard_n
    WHERE false
);

-- run_shards: the latest row of each shard (run_id, shard_k) of sharded runs.
CREATE OR REPLACE VIEW run_shards AS
SELECT *
FROM run_history
WHERE shard_k IS NOT NULL
QUALIFY row_number() OVER (
    PARTITION BY run_id, shard_k ORDER BY updated_at DESC, status = 'running'
) = 1;

-- runs: one row per run, its current state.
--  * A run without shard rows (and a run whose newest row is a run-level row, e.g. the Ray
--    driver's closing row after its partitions): that row, as written.
--  * Otherwise the run's shards decide, n being their shard_n:
--      status       'running' if any shard's latest row is running; else 'finished' if
--                   shards 0..n-1 all have a latest row 'finished'; else 'interrupted'
--                   (a shard interrupted, or never started / not yet written)
--      decisions, verdict_counts, snapshots_new   summed over the shards' latest rows
--      fetches      the largest shard count (each shard records the run's fetches on disk
--                   when it closed, so the last shard to finish saw all of them)
--      started_at   earliest of the run; finished_at latest, NULL unless finished
--      error        'shard k/n: ...' of every shard whose latest row has an error
--      shard_k      NULL; shard_n n
--    The other columns (config, input, hostname, pid, ...) come from the run's latest
--    run-level row if it has one (the Ray driver), else from its newest shard row with
--    that status.
CREATE OR REPLACE VIEW runs AS
WITH run_level AS (
    SELECT *
    FROM run_history
    WHERE shard_k IS NULL
    QUALIFY row_number() OVER (
        PARTITION BY run_id ORDER BY updated_at DESC, status = 'running'
    ) = 1
),
agg AS (
    SELECT
        run_id,
        CASE
            WHEN bool_or(status = 'running') THEN 'running'
            WHEN min(shard_n) = max(shard_n)
                AND count(*) FILTER (
                    status = 'finished' AND shard_k >= 0 AND shard_k < shard_n
                ) = max(shard_n)
                THEN 'finished'
            ELSE 'interrupted'
        END AS agg_status,
        max(shard_n) AS agg_n,
        min(started_at) AS agg_started_at,
        max(finished_at) AS agg_finished_at,
        max(updated_at) AS agg_updated_at,
        sum(decisions)::BIGINT AS agg_decisions,
        {
            'allowed': sum(verdict_counts.allowed)::BIGINT,
            'reserved': sum(verdict_counts.reserved)::BIGINT,
            'unknown': sum(verdict_counts.unknown)::BIGINT,
            'invalid': sum(verdict_counts.invalid)::BIGINT
        } AS agg_verdict_counts,
        max(fetches) AS agg_fetches,
        sum(snapshots_new)::BIGINT AS agg_snapshots_new,
        string_agg(
            'shard ' || shard_k || '/' || shard_n || ': ' || error, '; ' ORDER BY shard_k
        ) FILTER (error IS NOT NULL) AS agg_error
    FROM run_shards
    GROUP BY run_id
),
sharded AS (
    -- Runs whose shards decide: no run-level row newer than every shard row.
    SELECT a.*
    FROM agg a
    LEFT JOIN run_level l ON l.run_id = a.run_id
    WHERE l.run_id IS NULL OR l.updated_at < a.agg_updated_at
),
representative AS (
    SELECT c.*, s.* EXCLUDE (run_id)
    FROM (
        SELECT * FROM run_level
        UNION ALL BY NAME
        SELECT * FROM run_shards
    ) c
    JOIN sharded s USING (run_id)
    QUALIFY row_number() OVER (
        PARTITION BY c.run_id
        ORDER BY c.shard_k IS NULL DESC, c.status = s.agg_status DESC, c.updated_at DESC
    ) = 1
)
SELECT l.*
FROM run_level l
WHERE l.run_id NOT IN (SELECT run_id FROM sharded)
UNION ALL BY NAME
SELECT * EXCLUDE (
    agg_status, agg_n, agg_started_at, agg_finished_at, agg_updated_at, agg_decisions,
    agg_verdict_counts, agg_fetches, agg_snapshots_new, agg_error
) REPLACE (
    agg_status AS status,
    least(started_at, agg_started_at) AS started_at,
    CASE WHEN agg_status = 'finished' THEN agg_finished_at END AS finished_at,
    greatest(updated_at, agg_updated_at) AS updated_at,
    agg_decisions AS decisions,
    agg_verdict_counts AS verdict_counts,
    agg_fetches AS fetches,
    agg_snapshots_new AS snapshots_new,
    agg_error AS error,
    NULL::INTEGER AS shard_k,
    agg_n AS shard_n
)
FROM representative;
