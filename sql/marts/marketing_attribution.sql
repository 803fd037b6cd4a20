-- Mart: marketing attribution, one row per month × platform × campaign × attribution model
-- (`first_touch`, `last_touch`). Campaigns are matched on utm_campaign (lower case).
-- spend, impressions, clicks  from the ad platforms (spend in USD)
-- platform_conversions        as the platform reports them: never summed across platforms
-- leads          people created in the month whose touch is the campaign. first_touch: the
--                person's first-touch utm campaign; last_touch: the campaign of the person's
--                paid-search click (gclid, Google Ads click_view) when there is one, else the
--                first touch
-- opportunities, pipeline_amount   deals created in the month, credited to the campaign of the
--                account's earliest person (first_touch) or latest person (last_touch)
-- won_amount     deals won in the month, credited the same way
-- new_customers, new_mrr   `new` MRR movements of the month, credited the same way
-- cac = spend ÷ new_customers; roas = won_amount ÷ spend (null when the divisor is 0)
-- platform       the ad platform running the campaign, `none` for campaigns without ads
WITH ads AS (
    SELECT CAST(date_trunc('month', date) AS DATE) AS month, platform, utm_campaign,
           max(campaign_name) AS campaign_name,
           SUM(spend_usd) AS spend, SUM(impressions) AS impressions, SUM(clicks) AS clicks,
           SUM(platform_conversions) AS platform_conversions
    FROM int_ad_spend_daily
    GROUP BY 1, 2, 3
),
campaign_platform AS (
    SELECT utm_campaign, min(platform) AS platform, max(campaign_name) AS campaign_name
    FROM int_ad_spend_daily
    GROUP BY 1
),
clicks AS (
    SELECT DISTINCT v.gclid, s.utm_campaign
    FROM google_ads.click_view v
    JOIN stg_google_ads_spend_daily s
        ON s._source = v._source AND s.campaign_id = CAST(v.campaign_id AS VARCHAR) AND s.date = v.date
),
touches AS (
    SELECT p.person_key, p.account_key, p.created_at,
           CAST(date_trunc('month', p.created_at) AS DATE) AS month,
           'first_touch' AS attribution_model,
           p.utm_campaign AS campaign
    FROM int_people p
    UNION ALL
    SELECT p.person_key, p.account_key, p.created_at,
           CAST(date_trunc('month', p.created_at) AS DATE),
           'last_touch',
           COALESCE(c.utm_campaign, p.utm_campaign)
    FROM int_people p
    LEFT JOIN clicks c ON c.gclid = p.gclid
),
leads AS (
    SELECT month, attribution_model, campaign, COUNT(*) AS leads
    FROM touches WHERE campaign IS NOT NULL
    GROUP BY 1, 2, 3
),
account_touch AS (
    SELECT DISTINCT account_key, attribution_model,
           CASE WHEN attribution_model = 'first_touch'
                THEN first_value(campaign) OVER (PARTITION BY account_key, attribution_model ORDER BY created_at, person_key)
                ELSE first_value(campaign) OVER (PARTITION BY account_key, attribution_model ORDER BY created_at DESC, person_key DESC)
           END AS campaign
    FROM touches
    WHERE account_key IS NOT NULL
),
opps AS (
    SELECT CAST(date_trunc('month', d.created_at) AS DATE) AS month, t.attribution_model, t.campaign,
           COUNT(*) AS opportunities, SUM(d.amount) AS pipeline_amount
    FROM int_deals d JOIN account_touch t ON t.account_key = d.account_key
    WHERE t.campaign IS NOT NULL
    GROUP BY 1, 2, 3
),
won AS (
    SELECT CAST(date_trunc('month', d.closed_at) AS DATE) AS month, t.attribution_model, t.campaign,
           SUM(d.amount) AS won_amount
    FROM int_deals d JOIN account_touch t ON t.account_key = d.account_key
    WHERE d.is_won AND d.closed_at IS NOT NULL AND t.campaign IS NOT NULL
    GROUP BY 1, 2, 3
),
new_mrr AS (
    SELECT m.month, t.attribution_model, t.campaign, COUNT(*) AS new_customers, SUM(m.amount) AS new_mrr
    FROM mrr_movements m JOIN account_touch t ON t.account_key = m.account_key
    WHERE m.movement = 'new' AND t.campaign IS NOT NULL
    GROUP BY 1, 2, 3
),
models AS (
    SELECT 'first_touch' AS attribution_model UNION ALL SELECT 'last_touch'
),
keys AS (
    SELECT a.month, m.attribution_model, a.utm_campaign AS campaign FROM ads a CROSS JOIN models m
    UNION SELECT month, attribution_model, campaign FROM leads
    UNION SELECT month, attribution_model, campaign FROM opps
    UNION SELECT month, attribution_model, campaign FROM won
    UNION SELECT month, attribution_model, campaign FROM new_mrr
)
SELECT
    k.month,
    COALESCE(cp.platform, 'none') AS platform,
    k.campaign AS utm_campaign,
    COALESCE(cp.campaign_name, k.campaign) AS campaign_name,
    k.attribution_model,
    COALESCE(a.spend, 0.0) AS spend,
    CAST(COALESCE(a.impressions, 0) AS BIGINT) AS impressions,
    CAST(COALESCE(a.clicks, 0) AS BIGINT) AS clicks,
    a.platform_conversions,
    CAST(COALESCE(l.leads, 0) AS BIGINT) AS leads,
    CAST(COALESCE(o.opportunities, 0) AS BIGINT) AS opportunities,
    COALESCE(o.pipeline_amount, 0.0) AS pipeline_amount,
    COALESCE(w.won_amount, 0.0) AS won_amount,
    CAST(COALESCE(n.new_customers, 0) AS BIGINT) AS new_customers,
    COALESCE(n.new_mrr, 0.0) AS new_mrr,
    CASE WHEN COALESCE(n.new_customers, 0) > 0 THEN COALESCE(a.spend, 0.0) / CAST(n.new_customers AS DOUBLE) END AS cac,
    CASE WHEN a.spend > 0 THEN COALESCE(w.won_amount, 0.0) / a.spend END AS roas
FROM keys k
JOIN int_calendar cal ON cal.month = k.month
LEFT JOIN campaign_platform cp ON cp.utm_campaign = k.campaign
LEFT JOIN ads a ON a.month = k.month AND a.utm_campaign = k.campaign AND a.platform = cp.platform
LEFT JOIN leads l ON l.month = k.month AND l.attribution_model = k.attribution_model AND l.campaign = k.campaign
LEFT JOIN opps o ON o.month = k.month AND o.attribution_model = k.attribution_model AND o.campaign = k.campaign
LEFT JOIN won w ON w.month = k.month AND w.attribution_model = k.attribution_model AND w.campaign = k.campaign
LEFT JOIN new_mrr n ON n.month = k.month AND n.attribution_model = k.attribution_model AND n.campaign = k.campaign
