-- Intermediate: ad spend of every platform by campaign and day (USD in spend_usd).
SELECT platform, _source, date, account_id, campaign_id, campaign_name, utm_campaign, currency,
       spend, spend_usd, impressions, clicks, platform_conversions
FROM stg_google_ads_spend_daily
UNION ALL
SELECT platform, _source, date, account_id, campaign_id, campaign_name, utm_campaign, currency,
       spend, spend_usd, impressions, clicks, platform_conversions
FROM stg_meta_ads_spend_daily
UNION ALL
SELECT platform, _source, date, account_id, campaign_id, campaign_name, utm_campaign, currency,
       spend, spend_usd, impressions, clicks, platform_conversions
FROM stg_linkedin_ads_spend_daily
