-- Mart: the sales pipeline, one row per deal from any CRM (a deal present in several CRMs once).
-- deal_key      `<system>:<source>:<id>`
-- amount        USD (CRM amounts are taken as the reporting currency)
-- days_to_close (closed − created) in days, for closed deals
-- channel       the deal's own source channel, else the first-touch channel of its account's
--               earliest person
SELECT
    deal_key,
    account_key,
    source_system,
    _source,
    deal_id,
    deal_name,
    stage,
    stage_label,
    pipeline,
    amount,
    created_at,
    closed_at,
    is_won,
    is_closed,
    CASE WHEN is_closed AND closed_at IS NOT NULL THEN
        CAST(date_part('epoch', closed_at) - date_part('epoch', created_at) AS DOUBLE) / 86400.0 END AS days_to_close,
    channel
FROM int_deals
