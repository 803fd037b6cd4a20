-- Mart: the revenue funnel, one row per month × channel. Each stage is counted in the month it
-- happened, where the data has that date; rows where every count is 0 are left out.
-- sessions       GA4 sessions whose utm medium maps to the channel (seed channel_map)
-- leads          people created in the month (int_people: one per email), by first-touch channel
-- mqls, sqls     of those people, the ones whose lifecycle stage is now at least
--                marketing-qualified / sales-qualified (CRMs keep no transition dates, so the
--                lead's creation month is the cohort)
-- opportunities  deals created in the month, by the deal's channel (int_deals)
-- won_deals, won_amount   deals won with their close in the month (amount in USD)
-- lead_to_mql_rate = mqls ÷ leads; mql_to_sql_rate = sqls ÷ mqls;
-- sql_to_opportunity_rate = opportunities ÷ sqls; opportunity_to_won_rate = won_deals ÷ opportunities
-- median_days_lead_to_won  median over the deals won in the month of the days from the
--                account's first person's creation to the close
WITH sessions AS (
    SELECT CAST(date_trunc('month', date) AS DATE) AS month, channel, SUM(sessions) AS sessions
    FROM stg_ga4_traffic_daily
    GROUP BY 1, 2
),
people AS (
    SELECT
        CAST(date_trunc('month', created_at) AS DATE) AS month,
        channel,
        COUNT(*) AS leads,
        SUM(CASE WHEN stage_rank >= 3 THEN 1 ELSE 0 END) AS mqls,
        SUM(CASE WHEN stage_rank >= 4 THEN 1 ELSE 0 END) AS sqls
    FROM int_people
    WHERE created_at IS NOT NULL
    GROUP BY 1, 2
),
opps AS (
    SELECT CAST(date_trunc('month', created_at) AS DATE) AS month, channel, COUNT(*) AS opportunities
    FROM int_deals
    WHERE created_at IS NOT NULL
    GROUP BY 1, 2
),
won AS (
    SELECT
        CAST(date_trunc('month', closed_at) AS DATE) AS month,
        channel,
        COUNT(*) AS won_deals,
        SUM(round(amount * 100)) AS won_cents,
        median(CASE WHEN first_person_at IS NOT NULL THEN
            CAST(date_part('epoch', closed_at) - date_part('epoch', first_person_at) AS DOUBLE) / 86400.0 END) AS median_days
    FROM int_deals
    WHERE is_won AND closed_at IS NOT NULL
    GROUP BY 1, 2
),
keys AS (
    SELECT month, channel FROM sessions
    UNION SELECT month, channel FROM people
    UNION SELECT month, channel FROM opps
    UNION SELECT month, channel FROM won
),
joined AS (
    SELECT
        k.month,
        k.channel,
        CAST(COALESCE(s.sessions, 0) AS BIGINT) AS sessions,
        CAST(COALESCE(p.leads, 0) AS BIGINT) AS leads,
        CAST(COALESCE(p.mqls, 0) AS BIGINT) AS mqls,
        CAST(COALESCE(p.sqls, 0) AS BIGINT) AS sqls,
        CAST(COALESCE(o.opportunities, 0) AS BIGINT) AS opportunities,
        CAST(COALESCE(w.won_deals, 0) AS BIGINT) AS won_deals,
        CAST(COALESCE(w.won_cents, 0) AS DOUBLE) / 100.0 AS won_amount,
        w.median_days
    FROM keys k
    JOIN int_calendar cal ON cal.month = k.month
    LEFT JOIN sessions s ON s.month = k.month AND s.channel = k.channel
    LEFT JOIN people p ON p.month = k.month AND p.channel = k.channel
    LEFT JOIN opps o ON o.month = k.month AND o.channel = k.channel
    LEFT JOIN won w ON w.month = k.month AND w.channel = k.channel
)
SELECT
    month,
    channel,
    sessions,
    leads,
    mqls,
    sqls,
    opportunities,
    won_deals,
    won_amount,
    CASE WHEN leads > 0 THEN CAST(mqls AS DOUBLE) / CAST(leads AS DOUBLE) END AS lead_to_mql_rate,
    CASE WHEN mqls > 0 THEN CAST(sqls AS DOUBLE) / CAST(mqls AS DOUBLE) END AS mql_to_sql_rate,
    CASE WHEN sqls > 0 THEN CAST(opportunities AS DOUBLE) / CAST(sqls AS DOUBLE) END AS sql_to_opportunity_rate,
    CASE WHEN opportunities > 0 THEN CAST(won_deals AS DOUBLE) / CAST(opportunities AS DOUBLE) END AS opportunity_to_won_rate,
    median_days AS median_days_lead_to_won
FROM joined
WHERE sessions + leads + opportunities + won_deals > 0
