-- Mart: RevOps bottlenecks, one row per month × handoff × metric, ranked so the worst-moving
-- handoff of each month is on top.
-- Handoffs and metrics: `marketing→sales` mql_to_sql_rate (Σ sqls ÷ Σ mqls, revenue_funnel);
-- `sales` sql_to_won_rate (Σ won deals ÷ Σ sqls) and avg_sales_cycle_days (revops_kpis);
-- `customer_success` median_first_response_minutes (tickets created in the month), csat
-- (good ÷ rated) and logo_churn_rate (revops_kpis).
-- trailing_3m_avg  mean of the metric's values in the 3 previous months (null without any)
-- change           value − trailing_3m_avg
-- severity         the change relative to the trailing average, signed so that positive is worse
--                  (a falling rate or CSAT is worse; a rising cycle, response time or churn is worse)
-- rank             1 = the highest severity of the month (nulls last)
WITH funnel AS (
    SELECT month,
           CASE WHEN SUM(mqls) > 0 THEN CAST(SUM(sqls) AS DOUBLE) / CAST(SUM(mqls) AS DOUBLE) END AS mql_to_sql,
           CASE WHEN SUM(sqls) > 0 THEN CAST(SUM(won_deals) AS DOUBLE) / CAST(SUM(sqls) AS DOUBLE) END AS sql_to_won
    FROM revenue_funnel GROUP BY 1
),
support AS (
    SELECT CAST(date_trunc('month', created_at) AS DATE) AS month,
           median(first_response_minutes) AS first_response,
           CASE WHEN SUM(CASE WHEN csat IS NOT NULL THEN 1 ELSE 0 END) > 0 THEN
               CAST(SUM(CASE WHEN csat = 'good' THEN 1 ELSE 0 END) AS DOUBLE)
               / CAST(SUM(CASE WHEN csat IS NOT NULL THEN 1 ELSE 0 END) AS DOUBLE) END AS csat
    FROM int_tickets GROUP BY 1
),
metrics AS (
    SELECT k.month, 'marketing→sales' AS handoff, 'mql_to_sql_rate' AS metric, f.mql_to_sql AS value, 1 AS higher_is_better
    FROM int_calendar k LEFT JOIN funnel f ON f.month = k.month
    UNION ALL
    SELECT k.month, 'sales', 'sql_to_won_rate', f.sql_to_won, 1
    FROM int_calendar k LEFT JOIN funnel f ON f.month = k.month
    UNION ALL
    SELECT month, 'sales', 'avg_sales_cycle_days', avg_sales_cycle_days, 0 FROM revops_kpis
    UNION ALL
    SELECT k.month, 'customer_success', 'median_first_response_minutes', s.first_response, 0
    FROM int_calendar k LEFT JOIN support s ON s.month = k.month
    UNION ALL
    SELECT k.month, 'customer_success', 'csat', s.csat, 1
    FROM int_calendar k LEFT JOIN support s ON s.month = k.month
    UNION ALL
    SELECT month, 'customer_success', 'logo_churn_rate', logo_churn_rate, 0 FROM revops_kpis
),
trailing AS (
    SELECT m.*,
           avg(m.value) OVER (PARTITION BY m.handoff, m.metric ORDER BY m.month
                              ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING) AS trailing_3m_avg
    FROM metrics m
),
scored AS (
    SELECT t.*,
           t.value - t.trailing_3m_avg AS change,
           CASE WHEN t.trailing_3m_avg IS NULL OR t.value IS NULL OR t.trailing_3m_avg = 0 THEN NULL
                WHEN t.higher_is_better = 1 THEN (t.trailing_3m_avg - t.value) / abs(t.trailing_3m_avg)
                ELSE (t.value - t.trailing_3m_avg) / abs(t.trailing_3m_avg)
           END AS severity
    FROM trailing t
)
SELECT
    month,
    handoff,
    metric,
    value,
    trailing_3m_avg,
    change,
    severity,
    CAST(row_number() OVER (PARTITION BY month ORDER BY severity DESC NULLS LAST, handoff, metric) AS BIGINT) AS rank
FROM scored
