-- Mart: landing page performance, one row per month × GA4 property (`_source`) × landing page
-- (normalised as in stg_ga4_landing_pages_daily: pages that differ only in query string,
-- fragment, case or a trailing slash are one page).
-- sessions, engaged_sessions, new_users, key_events  sums over the month's days
-- revenue            Σ totalRevenue, rounded to cents
-- engagement_rate    engaged_sessions ÷ sessions (null without sessions)
-- key_event_rate     key_events ÷ sessions (null without sessions)
-- session_share      sessions ÷ the property's sessions that month (null when it had none)
-- prev_sessions      the page's sessions the month before (0 if it had none; null in the
--                    property's first month)
-- sessions_change    sessions ÷ prev_sessions − 1 (null when prev_sessions is 0 or null)
-- rank               1 = the page with the most sessions of the property's month (ties by path)
WITH monthly AS (
    SELECT
        CAST(date_trunc('month', date) AS DATE) AS month,
        _source,
        landing_page,
        section,
        SUM(sessions) AS sessions,
        SUM(engaged_sessions) AS engaged_sessions,
        SUM(new_users) AS new_users,
        SUM(key_events) AS key_events,
        SUM(revenue) AS revenue
    FROM stg_ga4_landing_pages_daily
    GROUP BY 1, 2, 3, 4
),
months AS (
    SELECT _source, month, MIN(month) OVER (PARTITION BY _source) AS first_month
    FROM (SELECT DISTINCT _source, month FROM monthly) m
),
totals AS (
    SELECT month, _source, SUM(sessions) AS property_sessions
    FROM monthly GROUP BY 1, 2
),
previous AS (
    SELECT
        m.*,
        p.sessions AS last_month_sessions,
        k.first_month
    FROM monthly m
    JOIN months k ON k._source = m._source AND k.month = m.month
    LEFT JOIN monthly p
        ON p._source = m._source
       AND p.landing_page = m.landing_page
       AND p.month = CAST(m.month - INTERVAL '1 month' AS DATE)
)
SELECT
    p.month,
    p._source,
    p.landing_page,
    p.section,
    p.sessions,
    p.engaged_sessions,
    p.new_users,
    p.key_events,
    round(p.revenue, 2) AS revenue,
    CASE WHEN p.sessions > 0 THEN CAST(p.engaged_sessions AS DOUBLE) / CAST(p.sessions AS DOUBLE) END AS engagement_rate,
    CASE WHEN p.sessions > 0 THEN CAST(p.key_events AS DOUBLE) / CAST(p.sessions AS DOUBLE) END AS key_event_rate,
    CASE WHEN t.property_sessions > 0 THEN CAST(p.sessions AS DOUBLE) / CAST(t.property_sessions AS DOUBLE) END AS session_share,
    CASE WHEN p.month = p.first_month THEN NULL ELSE COALESCE(p.last_month_sessions, 0) END AS prev_sessions,
    CASE WHEN p.last_month_sessions > 0
         THEN CAST(p.sessions AS DOUBLE) / CAST(p.last_month_sessions AS DOUBLE) - 1.0 END AS sessions_change,
    CAST(row_number() OVER (PARTITION BY p._source, p.month ORDER BY p.sessions DESC, p.landing_page) AS BIGINT) AS rank
FROM previous p
JOIN totals t ON t.month = p.month AND t._source = p._source
