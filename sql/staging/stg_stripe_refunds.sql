-- Staging: Stripe refunds with their charge's customer, amounts in USD.
SELECT
    'stripe' AS source_system,
    r._source,
    r.id AS refund_id,
    r.charge_id,
    c.customer_id,
    r.status,
    CAST(r.amount AS DOUBLE) / power(10.0, fx.exponent) / fx.per_usd AS amount_usd,
    r.created AS created_at
FROM stripe.refunds r
LEFT JOIN stripe.charges c ON c.id = r.charge_id AND c._source = r._source
LEFT JOIN fx_rates fx ON fx.currency = lower(r.currency)
