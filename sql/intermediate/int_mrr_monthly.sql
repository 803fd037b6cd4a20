-- Intermediate: MRR of every account at the end of every calendar month, in USD cents.
-- A subscription item counts at a month's end when it started before the next month begins
-- and did not end before then; it counts net of its coupon when the coupon lasts past that
-- month end too (a `forever` coupon, or a `repeating` one whose end is not before it). The
-- Stripe account is keyed by its customer's email domain
-- (else `stripe:<source>:<customer id>`).
WITH items AS (
    SELECT
        COALESCE(c.email_domain, 'stripe:' || i._source || ':' || i.customer_id) AS account_key,
        CAST(i.started_at AS DATE) AS start_day,
        CAST(i.ended_at AS DATE) AS end_day,
        i.monthly_usd_cents,
        i.discounted_monthly_usd_cents,
        CASE WHEN i.discount_duration IN ('forever', 'repeating') THEN CAST(i.discount_start AS DATE) END AS discount_start_day,
        CAST(i.discount_end AS DATE) AS discount_end_day
    FROM stg_stripe_subscription_items i
    LEFT JOIN stg_stripe_customers c ON c.customer_id = i.customer_id AND c._source = i._source
)
SELECT k.month, i.account_key,
       SUM(CASE WHEN i.discount_start_day < k.next_month
                     AND (i.discount_end_day IS NULL OR i.discount_end_day >= k.next_month)
                THEN i.discounted_monthly_usd_cents
                ELSE i.monthly_usd_cents END) AS mrr_cents
FROM int_calendar k
JOIN items i
    ON i.start_day < k.next_month AND (i.end_day IS NULL OR i.end_day >= k.next_month)
GROUP BY 1, 2
HAVING SUM(CASE WHEN i.discount_start_day < k.next_month
                     AND (i.discount_end_day IS NULL OR i.discount_end_day >= k.next_month)
                THEN i.discounted_monthly_usd_cents
                ELSE i.monthly_usd_cents END) > 0
