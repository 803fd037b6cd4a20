-- Staging: Stripe subscription items, one row per recurring item of each subscription.
-- started_at      the subscription's start_date
-- ended_at        ended_at, else canceled_at for a canceled subscription (null while live)
-- monthly_amount_minor  unit_amount x quantity normalised to one month, in the price's minor units:
--                 month / interval_count; year / 12; week x 52 / 12; day x 365 / 12
-- monthly_usd_cents     monthly_amount_minor / 10^exponent / per_usd (seed fx_rates), x 100,
--                 rounded to whole cents (every MRR total is then an exact number of cents)
-- discount_*      the subscription's coupon: `forever` and `repeating` coupons reduce MRR while
--                 they last (from discount.start until discount.end); `once` coupons are a
--                 one-off price cut and never reduce MRR
-- discounted_monthly_amount_minor  monthly_amount_minor less the coupon: percent_off of it,
--                 rounded to a minor unit, or the item's share (by monthly amount) of amount_off
--                 normalised to one month like the price, never below zero
-- discounted_monthly_usd_cents     the same in USD cents, rounded like monthly_usd_cents
-- Subscriptions in `incomplete` or `incomplete_expired` status never become MRR and are left out.
WITH items AS (
    SELECT
        s._source,
        s.id AS subscription_id,
        s.customer_id,
        s.status,
        s.start_date,
        s.canceled_at,
        s.ended_at,
        s.coupon_id,
        s.discount_duration,
        s.discount_start,
        s.discount_end,
        s.discount_percent_off,
        s.discount_amount_off,
        -- `items` is the list's data array (or, as Stripe sends it, the list object).
        unnest(CASE WHEN starts_with(ltrim(s.items), '[') THEN json_get_array(s.items)
                    ELSE json_get_array(s.items, 'data') END) AS item
    FROM stripe.subscriptions s
    WHERE s.status NOT IN ('incomplete', 'incomplete_expired')
),
parsed AS (
    SELECT
        i.*,
        json_get_str(i.item, 'id') AS item_id,
        json_get_str(i.item, 'price', 'id') AS price_id,
        lower(json_get_str(i.item, 'price', 'currency')) AS currency,
        json_get_int(i.item, 'price', 'unit_amount') AS unit_amount,
        COALESCE(json_get_int(i.item, 'quantity'), 1) AS quantity,
        COALESCE(json_get_str(i.item, 'price', 'recurring', 'interval'), 'month') AS billing_interval,
        COALESCE(json_get_int(i.item, 'price', 'recurring', 'interval_count'), 1) AS interval_count
    FROM items i
),
normalised AS (
    SELECT
        p.*,
        CAST(p.unit_amount * p.quantity AS DOUBLE)
            * CASE p.billing_interval
                WHEN 'year' THEN 1.0 / 12.0
                WHEN 'week' THEN 52.0 / 12.0
                WHEN 'day' THEN 365.0 / 12.0
                ELSE 1.0
              END
            / CAST(p.interval_count AS DOUBLE) AS monthly_amount_minor,
        CASE p.billing_interval
            WHEN 'year' THEN 1.0 / 12.0
            WHEN 'week' THEN 52.0 / 12.0
            WHEN 'day' THEN 365.0 / 12.0
            ELSE 1.0
        END / CAST(p.interval_count AS DOUBLE) AS per_month
    FROM parsed p
),
discounted AS (
    SELECT
        n.*,
        CASE
            WHEN n.discount_duration NOT IN ('forever', 'repeating') OR n.discount_duration IS NULL
                THEN n.monthly_amount_minor
            WHEN n.discount_percent_off IS NOT NULL
                THEN n.monthly_amount_minor - round(n.monthly_amount_minor * n.discount_percent_off / 100.0)
            WHEN n.discount_amount_off IS NOT NULL
                THEN greatest(0.0, n.monthly_amount_minor - CAST(n.discount_amount_off AS DOUBLE) * n.per_month
                    * n.monthly_amount_minor / NULLIF(sum(n.monthly_amount_minor) OVER (PARTITION BY n._source, n.subscription_id), 0))
            ELSE n.monthly_amount_minor
        END AS discounted_monthly_amount_minor
    FROM normalised n
)
SELECT
    'stripe' AS source_system,
    n._source,
    n.subscription_id,
    n.item_id,
    n.customer_id,
    n.status,
    n.price_id,
    n.currency,
    n.unit_amount,
    n.quantity,
    n.billing_interval,
    n.interval_count,
    n.start_date AS started_at,
    COALESCE(n.ended_at, CASE WHEN n.status = 'canceled' THEN n.canceled_at END) AS ended_at,
    n.monthly_amount_minor,
    CAST(round(n.monthly_amount_minor / power(10.0, fx.exponent) / fx.per_usd * 100.0) AS BIGINT) AS monthly_usd_cents,
    n.coupon_id,
    n.discount_duration,
    n.discount_start,
    n.discount_end,
    n.discount_percent_off,
    n.discount_amount_off,
    n.discounted_monthly_amount_minor,
    CAST(round(n.discounted_monthly_amount_minor / power(10.0, fx.exponent) / fx.per_usd * 100.0) AS BIGINT) AS discounted_monthly_usd_cents
FROM discounted n
LEFT JOIN fx_rates fx ON fx.currency = n.currency
