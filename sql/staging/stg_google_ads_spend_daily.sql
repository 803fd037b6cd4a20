-- Staging: Google Ads spend by campaign and day.
-- utm_campaign  the campaign's utm_campaign from its final URL suffix or tracking template,
--               else its name slugged (lower case, runs of other characters as `_`)
-- spend_usd     cost in the account currency converted with the seed fx_rates
WITH c AS (
    SELECT _source, customer_id, campaign_id,
           max(COALESCE(
               NULLIF(regexp_match(final_url_suffix, 'utm_campaign=([^&]+)')[1], ''),
               NULLIF(regexp_match(tracking_url_template, 'utm_campaign=([^&]+)')[1], '')
           )) AS utm_campaign
    FROM google_ads.campaigns
    GROUP BY 1, 2, 3
)
SELECT
    'google_ads' AS platform,
    p._source,
    p.date,
    CAST(p.customer_id AS VARCHAR) AS account_id,
    CAST(p.campaign_id AS VARCHAR) AS campaign_id,
    p.campaign_name,
    lower(COALESCE(c.utm_campaign,
        trim(regexp_replace(lower(p.campaign_name), '[^a-z0-9]+', '_', 'g'), '_'))) AS utm_campaign,
    lower(p.currency) AS currency,
    CAST(p.cost AS DOUBLE) AS spend,
    CAST(p.cost AS DOUBLE) / COALESCE(fx.per_usd, 1.0) AS spend_usd,
    p.impressions,
    p.clicks,
    p.conversions AS platform_conversions
FROM google_ads.campaign_performance_daily p
LEFT JOIN c ON c._source = p._source AND c.customer_id = p.customer_id AND c.campaign_id = p.campaign_id
LEFT JOIN fx_rates fx ON fx.currency = lower(p.currency)
