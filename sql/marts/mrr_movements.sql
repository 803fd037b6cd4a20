-- Mart: MRR movements, one row per month × account with MRR at the end of the month or the
-- month before (from the first month with any MRR). Money in USD.
-- mrr        Σ over the account's live Stripe subscription items of unit_amount × quantity,
--            normalised to a month (year ÷ 12, week × 52 ÷ 12, day × 365 ÷ 12, ÷ interval_count),
--            converted with fx_rates and rounded to cents per item, net of the subscription's
--            forever/repeating coupon while it lasts past the month end (percent_off, or
--            amount_off per month; `once` coupons never count) (see stg_stripe_subscription_items
--            and int_mrr_monthly)
-- prior_mrr  the same at the end of the previous month (0 when none)
-- movement   new: prior 0, mrr > 0, no MRR in any earlier month; reactivation: prior 0, mrr > 0,
--            MRR in an earlier month; expansion: mrr > prior > 0; contraction: 0 < mrr < prior;
--            churn: prior > 0, mrr 0; unchanged: mrr = prior > 0
-- amount     mrr − prior_mrr
WITH m AS (
    SELECT month, account_key, mrr_cents FROM int_mrr_monthly
),
firsts AS (
    SELECT account_key, min(month) AS first_month FROM m GROUP BY 1
),
grid AS (
    SELECT month, account_key FROM m
    UNION
    SELECT k.month, m.account_key
    FROM m JOIN int_calendar k ON k.month = CAST(m.month + INTERVAL '1 month' AS DATE)
),
joined AS (
    SELECT
        g.month,
        g.account_key,
        COALESCE(cur.mrr_cents, 0) AS mrr_cents,
        COALESCE(prev.mrr_cents, 0) AS prior_cents,
        f.first_month
    FROM grid g
    LEFT JOIN m cur ON cur.month = g.month AND cur.account_key = g.account_key
    LEFT JOIN m prev ON prev.month = CAST(g.month - INTERVAL '1 month' AS DATE) AND prev.account_key = g.account_key
    JOIN firsts f ON f.account_key = g.account_key
)
SELECT
    month,
    account_key,
    CAST(mrr_cents AS DOUBLE) / 100.0 AS mrr,
    CAST(prior_cents AS DOUBLE) / 100.0 AS prior_mrr,
    CASE
        WHEN prior_cents = 0 AND mrr_cents > 0 AND month = first_month THEN 'new'
        WHEN prior_cents = 0 AND mrr_cents > 0 THEN 'reactivation'
        WHEN prior_cents > 0 AND mrr_cents = 0 THEN 'churn'
        WHEN mrr_cents > prior_cents THEN 'expansion'
        WHEN mrr_cents < prior_cents THEN 'contraction'
        ELSE 'unchanged'
    END AS movement,
    CAST(mrr_cents - prior_cents AS DOUBLE) / 100.0 AS amount
FROM joined
