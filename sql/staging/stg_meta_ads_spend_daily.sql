-- Staging: Meta (Facebook/Instagram) ads spend by campaign and day.
-- utm_campaign  the utm_campaign of the campaign's ads (from their creatives' url_tags), else the
--               campaign name slugged (lower case, runs of other characters as `_`)
-- platform_conversions  leads + purchases as Meta reports them
-- spend_usd     spend in the account currency converted with the seed fx_rates
WITH tags AS (
    SELECT _source, campaign_id, max(lower(utm_campaign)) AS utm_campaign
    FROM meta_ads.ads
    GROUP BY 1, 2
)
SELECT
    'meta_ads' AS platform,
    i._source,
    i.date,
    i.account_id,
    CAST(i.campaign_id AS VARCHAR) AS campaign_id,
    i.campaign_name,
    COALESCE(t.utm_campaign,
        trim(regexp_replace(lower(i.campaign_name), '[^a-z0-9]+', '_', 'g'), '_')) AS utm_campaign,
    lower(i.account_currency) AS currency,
    CAST(i.spend AS DOUBLE) AS spend,
    CAST(i.spend AS DOUBLE) / COALESCE(fx.per_usd, 1.0) AS spend_usd,
    i.impressions,
    i.clicks,
    CAST(COALESCE(i.leads, 0) + COALESCE(i.purchases, 0) AS DOUBLE) AS platform_conversions
FROM meta_ads.campaign_insights_daily i
LEFT JOIN tags t ON t._source = i._source AND t.campaign_id = i.campaign_id
LEFT JOIN fx_rates fx ON fx.currency = lower(i.account_currency)
