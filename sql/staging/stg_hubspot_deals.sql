-- Staging: HubSpot deals, one row per deal of each configured portal.
-- stage / stage_label   the deal stage id and its label from the deal's pipeline
-- is_closed, is_won     from the stage's metadata (isClosed; won = closed with probability 1)
-- closed_at             closedate, only once the deal is closed
-- amount                the deal amount in the portal's currency (assumed the reporting currency)
-- channel               the deal's hs_analytics_source through the seed channel_map
SELECT
    'hubspot' AS source_system,
    d._source,
    d.id AS deal_id,
    CAST(d.associatedcompanyid AS VARCHAR) AS account_id,
    d.dealname AS deal_name,
    d.amount,
    d.pipeline,
    d.dealstage AS stage,
    p.stage_label,
    COALESCE(p.is_closed, false) AS is_closed,
    COALESCE(p.is_closed AND p.probability >= 1.0, false) AS is_won,
    COALESCE(d.createdate, d.created_at) AS created_at,
    CASE WHEN p.is_closed THEN d.closedate END AS closed_at,
    d.hubspot_owner_id AS owner_id,
    m.channel,
    d.updated_at
FROM hubspot.deals d
LEFT JOIN hubspot.deal_pipelines p
    ON p.pipeline_id = d.pipeline AND p.stage_id = d.dealstage AND p._source = d._source
LEFT JOIN channel_map m ON m.system = 'hubspot' AND m.value = d.hs_analytics_source
WHERE NOT COALESCE(d.archived, false)
