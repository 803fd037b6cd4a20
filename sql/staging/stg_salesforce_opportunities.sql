-- Staging: Salesforce opportunities (deals), one row per opportunity; deleted ones left out.
-- closed_at   CloseDate (a date) for closed opportunities, at midnight UTC
-- channel     LeadSource through the seed channel_map (system salesforce)
SELECT
    'salesforce' AS source_system,
    o._source,
    o.id AS deal_id,
    o.account_id,
    o.name AS deal_name,
    CAST(o.amount AS DOUBLE) AS amount,
    'default' AS pipeline,
    o.stage_name AS stage,
    o.stage_name AS stage_label,
    COALESCE(o.is_closed, false) AS is_closed,
    COALESCE(o.is_won, false) AS is_won,
    o.created_date AS created_at,
    CASE WHEN o.is_closed THEN CAST(o.close_date AS TIMESTAMP) END AS closed_at,
    o.owner_id,
    m.channel,
    o.system_modstamp AS updated_at
FROM salesforce.opportunities o
LEFT JOIN channel_map m ON m.system = 'salesforce' AND m.value = o.lead_source
WHERE NOT COALESCE(o._deleted, false)
