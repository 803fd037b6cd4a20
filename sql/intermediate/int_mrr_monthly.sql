-- Intermediate: MRR of every account at the end of every calendar month, in USD cents.
-- A subscription item counts at a month's end when it started before the next month begins
-- and did not end before then. The Stripe account is keyed by its customer's email domain
-- (else `stripe:<source>:<customer id>`).
WITH items AS (
    SELECT
        COALESCE(c.email_domain, 'stripe:' || i._source || ':' || i.customer_id) AS account_key,
        CAST(i.started_at AS DATE) AS start_day,
        CAST(i.ended_at AS DATE) AS end_day,
        i.monthly_usd_cents
    FROM stg_stripe_subscription_items i
    LEFT JOIN stg_stripe_customers c ON c.customer_id = i.customer_id AND c._source = i._source
)
SELECT k.month, i.account_key, SUM(i.monthly_usd_cents) AS mrr_cents
FROM int_calendar k
JOIN items i
    ON i.start_day < k.next_month AND (i.end_day IS NULL OR i.end_day >= k.next_month)
GROUP BY 1, 2
HAVING SUM(i.monthly_usd_cents) > 0
