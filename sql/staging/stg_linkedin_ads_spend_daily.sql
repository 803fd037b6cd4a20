-- Staging: LinkedIn Ads spend by campaign and day (adAnalytics pivoted by campaign).
-- utm_campaign  the campaign group's name slugged (lower case, runs of other characters as `_`):
--               LinkedIn campaigns are audiences of one marketing campaign (the group), which is
--               what utm tags name; the campaign's own name when it has no group
-- spend_usd     costInUsd as LinkedIn reports it; spend is costInLocalCurrency
SELECT
    'linkedin_ads' AS platform,
    a._source,
    a.date,
    CAST(c.account_id AS VARCHAR) AS account_id,
    CAST(a.campaign_id AS VARCHAR) AS campaign_id,
    c.name AS campaign_name,
    trim(regexp_replace(lower(COALESCE(g.name, c.name, '')), '[^a-z0-9]+', '_', 'g'), '_') AS utm_campaign,
    lower(c.daily_budget__currency_code) AS currency,
    CAST(a.cost_in_local_currency AS DOUBLE) AS spend,
    CAST(a.cost_in_usd AS DOUBLE) AS spend_usd,
    a.impressions,
    a.clicks,
    CAST(COALESCE(a.external_website_conversions, 0) + COALESCE(a.one_click_leads, 0) AS DOUBLE) AS platform_conversions
FROM linkedin_ads.campaign_analytics_daily a
LEFT JOIN linkedin_ads.campaigns c ON c.id = a.campaign_id AND c._source = a._source
LEFT JOIN linkedin_ads.campaign_groups g ON g.id = c.campaign_group_id AND g._source = c._source
