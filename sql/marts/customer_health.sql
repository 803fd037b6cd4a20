-- Mart: customer health, one row per account × month from the account's first MRR month.
-- mrr                         MRR at month end (USD)
-- tickets_opened              tickets created in the month
-- open_backlog                tickets created by month end and not solved by then
-- median_first_response_minutes, median_resolution_hours   over the tickets created in the month
-- csat                        good ÷ rated, over the tickets created in the month
-- sessions                    0: web analytics are not kept per account
-- health_score = 100 − 30·[open_backlog > 3] − 20·[median first response > 240 min]
--                − 25·[csat < 0.8 with at least one rating] − 25·[mrr below the prior month]
-- churn_risk = health_score < 60, or the account churned this month
WITH firsts AS (
    SELECT account_key, min(month) AS first_month FROM int_mrr_monthly GROUP BY 1
),
grid AS (
    SELECT k.month, k.next_month, f.account_key
    FROM firsts f JOIN int_calendar k ON k.month >= f.first_month
),
mrr AS (
    SELECT g.month, g.account_key,
           COALESCE(cur.mrr_cents, 0) AS mrr_cents,
           COALESCE(prev.mrr_cents, 0) AS prior_cents
    FROM grid g
    LEFT JOIN int_mrr_monthly cur ON cur.month = g.month AND cur.account_key = g.account_key
    LEFT JOIN int_mrr_monthly prev
        ON prev.month = CAST(g.month - INTERVAL '1 month' AS DATE) AND prev.account_key = g.account_key
),
opened AS (
    SELECT account_key, CAST(date_trunc('month', created_at) AS DATE) AS month,
           COUNT(*) AS tickets_opened,
           median(first_response_minutes) AS median_first_response_minutes,
           median(resolution_hours) AS median_resolution_hours,
           SUM(CASE WHEN csat = 'good' THEN 1 ELSE 0 END) AS good,
           SUM(CASE WHEN csat IS NOT NULL THEN 1 ELSE 0 END) AS rated
    FROM int_tickets
    WHERE account_key IS NOT NULL
    GROUP BY 1, 2
),
backlog AS (
    SELECT g.month, g.account_key, COUNT(t.ticket_key) AS open_backlog
    FROM grid g
    JOIN int_tickets t
        ON t.account_key = g.account_key
       AND CAST(t.created_at AS DATE) < g.next_month
       AND (t.solved_at IS NULL OR CAST(t.solved_at AS DATE) >= g.next_month)
    GROUP BY 1, 2
),
scored AS (
    SELECT
        m.month,
        m.account_key,
        CAST(m.mrr_cents AS DOUBLE) / 100.0 AS mrr,
        CAST(COALESCE(o.tickets_opened, 0) AS BIGINT) AS tickets_opened,
        CAST(COALESCE(b.open_backlog, 0) AS BIGINT) AS open_backlog,
        o.median_first_response_minutes,
        o.median_resolution_hours,
        CASE WHEN o.rated > 0 THEN CAST(o.good AS DOUBLE) / CAST(o.rated AS DOUBLE) END AS csat,
        CAST(0 AS BIGINT) AS sessions,
        m.mrr_cents,
        m.prior_cents
    FROM mrr m
    LEFT JOIN opened o ON o.month = m.month AND o.account_key = m.account_key
    LEFT JOIN backlog b ON b.month = m.month AND b.account_key = m.account_key
    WHERE m.mrr_cents > 0 OR m.prior_cents > 0 OR COALESCE(o.tickets_opened, 0) > 0
)
SELECT
    month,
    account_key,
    mrr,
    tickets_opened,
    open_backlog,
    median_first_response_minutes,
    median_resolution_hours,
    csat,
    sessions,
    health_score,
    health_score < 60 OR (prior_cents > 0 AND mrr_cents = 0) AS churn_risk
FROM (
    SELECT s.*,
        CAST(100
            - CASE WHEN s.open_backlog > 3 THEN 30 ELSE 0 END
            - CASE WHEN s.median_first_response_minutes > 240 THEN 20 ELSE 0 END
            - CASE WHEN s.csat < 0.8 THEN 25 ELSE 0 END
            - CASE WHEN s.mrr_cents < s.prior_cents THEN 25 ELSE 0 END AS BIGINT) AS health_score
    FROM scored s
)
