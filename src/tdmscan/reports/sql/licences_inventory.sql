-- licences_inventory: one row per declared dataset version (the fields the Template's
-- sections 2.1 and 2.2 and a licence review need).
SELECT
    dataset_id AS dataset,
    version_or_snapshot,
    template_category,
    licensor,
    licence_id AS licence,
    permitted_commercial AS commercial_use,
    permitted_derivatives AS derivatives,
    permitted_ai_training AS ai_training,
    term_start,
    term_end,
    territory,
    used,
    array_to_string(used_in_models, ', ') AS used_in_models,
    array_to_string(evidence_refs, ' ') AS evidence,
    recorded_at
FROM licence_inventory
ORDER BY template_category, dataset, version_or_snapshot;
