-- Staging: Pipedrive deals; deleted deals are left out.
-- amount      value in the deal currency converted to USD with the seed fx_rates
-- is_won / is_closed   status won / won or lost; closed_at the won or lost time
SELECT
    'pipedrive' AS source_system,
    d._source,
    CAST(d.id AS VARCHAR) AS deal_id,
    CAST(d.org_id AS VARCHAR) AS account_id,
    d.title AS deal_name,
    CAST(d.value AS DOUBLE) / COALESCE(fx.per_usd, 1.0) AS amount,
    CAST(d.pipeline_id AS VARCHAR) AS pipeline,
    CAST(d.stage_id AS VARCHAR) AS stage,
    s.name AS stage_label,
    d.status IN ('won', 'lost') AS is_closed,
    d.status = 'won' AS is_won,
    d.add_time AS created_at,
    CASE WHEN d.status IN ('won', 'lost') THEN COALESCE(d.won_time, d.lost_time, d.close_time) END AS closed_at,
    CAST(d.owner_id AS VARCHAR) AS owner_id,
    CAST(NULL AS VARCHAR) AS channel,
    d.update_time AS updated_at
FROM pipedrive.deals d
LEFT JOIN pipedrive.stages s ON s.id = d.stage_id AND s._source = d._source
LEFT JOIN fx_rates fx ON fx.currency = lower(d.currency)
WHERE NOT COALESCE(d._deleted, false)
