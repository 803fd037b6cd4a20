-- Staging: Stripe customers (billing accounts), one row per customer of each configured account.
-- email          lower-cased, trimmed
-- email_domain   the email's domain, null for free-mail domains: the customer's account key
-- currency       lower-case ISO code
SELECT
    'stripe' AS source_system,
    c._source,
    c.id AS customer_id,
    NULLIF(lower(trim(c.email)), '') AS email,
    CASE WHEN f.domain IS NULL THEN NULLIF(split_part(lower(trim(c.email)), '@', 2), '') END AS email_domain,
    c.name,
    lower(c.currency) AS currency,
    COALESCE(c.delinquent, false) AS is_delinquent,
    COALESCE(c._deleted, false) AS is_deleted,
    c.created AS created_at
FROM stripe.customers c
LEFT JOIN free_email_domains f ON f.domain = split_part(lower(trim(c.email)), '@', 2)
