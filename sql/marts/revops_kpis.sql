-- Mart: RevOps KPIs, one row per calendar month. Money in USD; every ratio is null when its
-- denominator is 0 or null.
-- new_mrr, expansion_mrr, reactivation_mrr   Σ amount of those movements (mrr_movements)
-- contraction_mrr, churned_mrr               the same, as positive numbers
-- starting_mrr = previous month's ending_mrr; ending_mrr = Σ mrr; arr = 12 × ending_mrr
-- customers = accounts with MRR at month end; starting_customers = accounts with prior_mrr > 0
-- new_customers = `new` movements; churned_customers = `churn` movements
-- nrr = Σ mrr ÷ Σ prior_mrr over the start-of-month cohort (prior_mrr > 0)
-- grr = Σ min(mrr, prior_mrr) ÷ Σ prior_mrr over the same cohort
-- logo_churn_rate = churned_customers ÷ starting_customers
-- deals_won, deals_lost: deals closed in the month; win_rate = won ÷ (won + lost)
-- avg_sales_cycle_days = mean (closed − created) in days of the deals won in the month
-- pipeline_created = Σ amount of deals created in the month
-- ad_spend = Σ spend (USD) of every ad platform in the month
-- blended_cac = ad_spend ÷ new_customers; arpa = ending_mrr ÷ customers
-- ltv = arpa ÷ logo_churn_rate, capped at 60 × arpa (also when churn is 0; null without a
--       start-of-month cohort)
-- ltv_to_cac = ltv ÷ blended_cac; cac_payback_months = blended_cac ÷ arpa
WITH mv AS (
    SELECT
        month,
        SUM(CASE WHEN movement = 'new' THEN round(amount * 100) ELSE 0 END) AS new_c,
        SUM(CASE WHEN movement = 'expansion' THEN round(amount * 100) ELSE 0 END) AS exp_c,
        SUM(CASE WHEN movement = 'reactivation' THEN round(amount * 100) ELSE 0 END) AS react_c,
        SUM(CASE WHEN movement = 'contraction' THEN -round(amount * 100) ELSE 0 END) AS contr_c,
        SUM(CASE WHEN movement = 'churn' THEN -round(amount * 100) ELSE 0 END) AS churn_c,
        SUM(round(mrr * 100)) AS end_c,
        SUM(round(prior_mrr * 100)) AS start_c,
        SUM(CASE WHEN prior_mrr > 0 THEN round(mrr * 100) ELSE 0 END) AS cohort_end_c,
        SUM(CASE WHEN prior_mrr > 0 THEN round(least(mrr, prior_mrr) * 100) ELSE 0 END) AS cohort_kept_c,
        SUM(CASE WHEN mrr > 0 THEN 1 ELSE 0 END) AS customers,
        SUM(CASE WHEN prior_mrr > 0 THEN 1 ELSE 0 END) AS starting_customers,
        SUM(CASE WHEN movement = 'new' THEN 1 ELSE 0 END) AS new_customers,
        SUM(CASE WHEN movement = 'churn' THEN 1 ELSE 0 END) AS churned_customers
    FROM mrr_movements
    GROUP BY 1
),
won AS (
    SELECT
        CAST(date_trunc('month', closed_at) AS DATE) AS month,
        SUM(CASE WHEN is_won THEN 1 ELSE 0 END) AS deals_won,
        SUM(CASE WHEN NOT is_won THEN 1 ELSE 0 END) AS deals_lost,
        AVG(CASE WHEN is_won THEN
            CAST(date_part('epoch', closed_at) - date_part('epoch', created_at) AS DOUBLE) / 86400.0 END) AS cycle_days
    FROM int_deals
    WHERE is_closed AND closed_at IS NOT NULL
    GROUP BY 1
),
created AS (
    SELECT CAST(date_trunc('month', created_at) AS DATE) AS month, SUM(round(amount * 100)) AS pipeline_c
    FROM int_deals
    GROUP BY 1
),
spend AS (
    SELECT CAST(date_trunc('month', date) AS DATE) AS month, SUM(spend_usd) AS ad_spend
    FROM int_ad_spend_daily
    GROUP BY 1
),
base AS (
    SELECT
        k.month,
        COALESCE(mv.new_c, 0) AS new_c,
        COALESCE(mv.exp_c, 0) AS exp_c,
        COALESCE(mv.react_c, 0) AS react_c,
        COALESCE(mv.contr_c, 0) AS contr_c,
        COALESCE(mv.churn_c, 0) AS churn_c,
        COALESCE(mv.end_c, 0) AS end_c,
        COALESCE(mv.start_c, 0) AS start_c,
        mv.cohort_end_c,
        mv.cohort_kept_c,
        COALESCE(mv.customers, 0) AS customers,
        COALESCE(mv.starting_customers, 0) AS starting_customers,
        COALESCE(mv.new_customers, 0) AS new_customers,
        COALESCE(mv.churned_customers, 0) AS churned_customers,
        COALESCE(w.deals_won, 0) AS deals_won,
        COALESCE(w.deals_lost, 0) AS deals_lost,
        w.cycle_days,
        COALESCE(c.pipeline_c, 0) AS pipeline_c,
        COALESCE(s.ad_spend, 0.0) AS ad_spend
    FROM int_calendar k
    LEFT JOIN mv ON mv.month = k.month
    LEFT JOIN won w ON w.month = k.month
    LEFT JOIN created c ON c.month = k.month
    LEFT JOIN spend s ON s.month = k.month
),
ratios AS (
    SELECT
        b.*,
        CASE WHEN b.start_c > 0 THEN CAST(b.cohort_end_c AS DOUBLE) / CAST(b.start_c AS DOUBLE) END AS nrr,
        CASE WHEN b.start_c > 0 THEN CAST(b.cohort_kept_c AS DOUBLE) / CAST(b.start_c AS DOUBLE) END AS grr,
        CASE WHEN b.starting_customers > 0
             THEN CAST(b.churned_customers AS DOUBLE) / CAST(b.starting_customers AS DOUBLE) END AS logo_churn_rate,
        CASE WHEN b.deals_won + b.deals_lost > 0
             THEN CAST(b.deals_won AS DOUBLE) / CAST(b.deals_won + b.deals_lost AS DOUBLE) END AS win_rate,
        CASE WHEN b.new_customers > 0 THEN b.ad_spend / CAST(b.new_customers AS DOUBLE) END AS blended_cac,
        CASE WHEN b.customers > 0
             THEN CAST(b.end_c AS DOUBLE) / 100.0 / CAST(b.customers AS DOUBLE) END AS arpa
    FROM base b
),
ltv AS (
    SELECT
        r.*,
        CASE
            WHEN r.arpa IS NULL OR r.logo_churn_rate IS NULL THEN NULL
            WHEN r.logo_churn_rate = 0 THEN 60.0 * r.arpa
            ELSE least(r.arpa / r.logo_churn_rate, 60.0 * r.arpa)
        END AS ltv
    FROM ratios r
)
SELECT
    month,
    CAST(new_c AS DOUBLE) / 100.0 AS new_mrr,
    CAST(exp_c AS DOUBLE) / 100.0 AS expansion_mrr,
    CAST(react_c AS DOUBLE) / 100.0 AS reactivation_mrr,
    CAST(contr_c AS DOUBLE) / 100.0 AS contraction_mrr,
    CAST(churn_c AS DOUBLE) / 100.0 AS churned_mrr,
    CAST(start_c AS DOUBLE) / 100.0 AS starting_mrr,
    CAST(end_c AS DOUBLE) / 100.0 AS ending_mrr,
    CAST(end_c * 12 AS DOUBLE) / 100.0 AS arr,
    CAST(customers AS BIGINT) AS customers,
    CAST(starting_customers AS BIGINT) AS starting_customers,
    CAST(new_customers AS BIGINT) AS new_customers,
    CAST(churned_customers AS BIGINT) AS churned_customers,
    nrr,
    grr,
    logo_churn_rate,
    CAST(deals_won AS BIGINT) AS deals_won,
    CAST(deals_lost AS BIGINT) AS deals_lost,
    win_rate,
    cycle_days AS avg_sales_cycle_days,
    CAST(pipeline_c AS DOUBLE) / 100.0 AS pipeline_created,
    ad_spend,
    blended_cac,
    arpa,
    ltv,
    CASE WHEN blended_cac > 0 THEN ltv / blended_cac END AS ltv_to_cac,
    CASE WHEN arpa > 0 THEN blended_cac / arpa END AS cac_payback_months
FROM ltv
