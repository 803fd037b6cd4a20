-- Intermediate: the calendar of months every mart reports on, from the month of the earliest
-- dated record (deal or person created, subscription start, ad spend day, session day) to the
-- month of the latest: the data's own clock, not the wall clock.
WITH days AS (
    SELECT CAST(created_at AS DATE) AS d FROM int_deals
    UNION ALL SELECT CAST(created_at AS DATE) FROM int_people
    UNION ALL SELECT CAST(started_at AS DATE) FROM stg_stripe_subscription_items
    UNION ALL SELECT date FROM int_ad_spend_daily
    UNION ALL SELECT date FROM stg_ga4_traffic_daily
),
bounds AS (
    SELECT CAST(date_trunc('month', min(d)) AS DATE) AS lo, CAST(date_trunc('month', max(d)) AS DATE) AS hi
    FROM days
    WHERE d IS NOT NULL
)
SELECT CAST(m AS DATE) AS month, CAST(m + INTERVAL '1 month' AS DATE) AS next_month
FROM (SELECT unnest(generate_series(lo, hi, INTERVAL '1 month')) AS m FROM bounds WHERE lo IS NOT NULL)
