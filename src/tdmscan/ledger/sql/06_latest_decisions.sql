-- latest_decisions: the most recent decision per (url, agent, purpose) over all runs.
CREATE OR REPLACE VIEW latest_decisions AS
SELECT *
FROM decisions
QUALIFY row_number() OVER (
    PARTITION BY url, agent, purpose ORDER BY checked_at DESC, decision_id DESC) = 1;
