-- Staging: Stripe invoices, one row per invoice.
-- amount_paid_usd   amount_paid converted to USD (minor / 10^exponent / per_usd, seed fx_rates)
-- total_usd         total converted the same way
SELECT
    'stripe' AS source_system,
    i._source,
    i.id AS invoice_id,
    i.customer_id,
    i.subscription_id,
    i.status,
    lower(i.currency) AS currency,
    i.total,
    i.amount_paid,
    CAST(i.total AS DOUBLE) / power(10.0, fx.exponent) / fx.per_usd AS total_usd,
    CAST(i.amount_paid AS DOUBLE) / power(10.0, fx.exponent) / fx.per_usd AS amount_paid_usd,
    i.period_start,
    i.period_end,
    i.status_transitions__paid_at AS paid_at,
    i.created AS created_at
FROM stripe.invoices i
LEFT JOIN fx_rates fx ON fx.currency = lower(i.currency)
WHERE NOT COALESCE(i._deleted, false)
