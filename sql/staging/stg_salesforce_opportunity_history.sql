-- Staging: Salesforce opportunity stage history (deal stage changes), one row per change.
SELECT
    'salesforce' AS source_system,
    _source,
    opportunity_id AS deal_id,
    stage_name AS stage,
    CAST(amount AS DOUBLE) AS amount,
    probability,
    created_date AS changed_at
FROM salesforce.opportunity_history
WHERE NOT COALESCE(_deleted, false)
