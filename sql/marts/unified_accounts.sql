-- Mart: one row per real company, keyed by its normalised domain (account_key): every company a
-- CRM, billing or helpdesk knows, and the company domains of people (prospects).
-- crm_account_ids, stripe_customer_ids, helpdesk_org_ids  the company's ids in each system
--               (`<system>:<id>`, comma-separated, sorted)
-- first_touch_channel  the channel of the account's earliest person
-- lifecycle     customer: MRR at the end of the calendar's last month; churned: had MRR before,
--               none now; prospect: never had MRR
-- current_mrr   MRR at the end of the calendar's last month (USD)
-- lifetime_revenue  Σ paid invoice amounts less refunds (USD)
-- open_pipeline Σ amount of open deals
-- tickets_90d, csat_90d  tickets created in the 90 days up to the calendar's end and the share of
--               their ratings that are good
WITH last_month AS (
    SELECT max(month) AS month, max(next_month) AS next_month FROM int_calendar
),
keys AS (
    SELECT account_key FROM int_crm_accounts
    UNION SELECT account_key FROM int_mrr_monthly
    UNION SELECT account_key FROM int_tickets WHERE account_key IS NOT NULL
    UNION SELECT account_key FROM int_deals
    UNION SELECT account_key FROM int_people WHERE account_key IS NOT NULL
    UNION SELECT COALESCE(email_domain, 'stripe:' || _source || ':' || customer_id) FROM stg_stripe_customers
),
crm AS (
    SELECT account_key,
           min(name) AS name,
           min(domain) AS domain,
           string_agg(source_system || ':' || account_id, ',' ORDER BY source_system, account_id) AS ids
    FROM int_crm_accounts
    GROUP BY 1
),
billing AS (
    SELECT COALESCE(email_domain, 'stripe:' || _source || ':' || customer_id) AS account_key,
           min(name) AS name,
           string_agg('stripe:' || customer_id, ',' ORDER BY customer_id) AS ids
    FROM stg_stripe_customers
    GROUP BY 1
),
helpdesk AS (
    SELECT account_key,
           string_agg(DISTINCT source_system || ':' || org_id, ',') AS ids
    FROM int_tickets
    WHERE account_key IS NOT NULL AND org_id IS NOT NULL
    GROUP BY 1
),
channel AS (
    SELECT DISTINCT account_key,
           first_value(channel) OVER (PARTITION BY account_key ORDER BY created_at, person_key) AS channel
    FROM int_people
    WHERE account_key IS NOT NULL
),
mrr AS (
    SELECT m.account_key,
           SUM(CASE WHEN m.month = l.month THEN m.mrr_cents ELSE 0 END) AS current_cents,
           COUNT(*) AS months_with_mrr
    FROM int_mrr_monthly m CROSS JOIN last_month l
    GROUP BY 1
),
revenue AS (
    SELECT account_key, SUM(amount) AS amount FROM (
        SELECT COALESCE(c.email_domain, 'stripe:' || i._source || ':' || i.customer_id) AS account_key,
               i.amount_paid_usd AS amount
        FROM stg_stripe_invoices i
        LEFT JOIN stg_stripe_customers c ON c.customer_id = i.customer_id AND c._source = i._source
        WHERE i.status = 'paid'
        UNION ALL
        SELECT COALESCE(c.email_domain, 'stripe:' || r._source || ':' || r.customer_id), -r.amount_usd
        FROM stg_stripe_refunds r
        LEFT JOIN stg_stripe_customers c ON c.customer_id = r.customer_id AND c._source = r._source
        WHERE r.status = 'succeeded'
    )
    GROUP BY 1
),
pipeline AS (
    SELECT account_key, SUM(amount) AS open_amount FROM int_deals WHERE NOT is_closed GROUP BY 1
),
support AS (
    SELECT t.account_key,
           COUNT(*) AS tickets,
           CASE WHEN SUM(CASE WHEN t.csat IS NOT NULL THEN 1 ELSE 0 END) > 0 THEN
               CAST(SUM(CASE WHEN t.csat = 'good' THEN 1 ELSE 0 END) AS DOUBLE)
               / CAST(SUM(CASE WHEN t.csat IS NOT NULL THEN 1 ELSE 0 END) AS DOUBLE) END AS csat
    FROM int_tickets t CROSS JOIN last_month l
    WHERE CAST(t.created_at AS DATE) >= CAST(l.next_month - INTERVAL '90 days' AS DATE)
      AND CAST(t.created_at AS DATE) < l.next_month
    GROUP BY 1
)
SELECT
    k.account_key,
    COALESCE(crm.name, billing.name, k.account_key) AS name,
    COALESCE(crm.domain, CASE WHEN k.account_key LIKE '%:%' THEN NULL ELSE k.account_key END) AS domain,
    crm.ids AS crm_account_ids,
    billing.ids AS stripe_customer_ids,
    helpdesk.ids AS helpdesk_org_ids,
    channel.channel AS first_touch_channel,
    CASE
        WHEN COALESCE(mrr.current_cents, 0) > 0 THEN 'customer'
        WHEN mrr.months_with_mrr > 0 THEN 'churned'
        ELSE 'prospect'
    END AS lifecycle,
    CAST(COALESCE(mrr.current_cents, 0) AS DOUBLE) / 100.0 AS current_mrr,
    COALESCE(revenue.amount, 0.0) AS lifetime_revenue,
    COALESCE(pipeline.open_amount, 0.0) AS open_pipeline,
    CAST(COALESCE(support.tickets, 0) AS BIGINT) AS tickets_90d,
    support.csat AS csat_90d
FROM keys k
LEFT JOIN crm ON crm.account_key = k.account_key
LEFT JOIN billing ON billing.account_key = k.account_key
LEFT JOIN helpdesk ON helpdesk.account_key = k.account_key
LEFT JOIN channel ON channel.account_key = k.account_key
LEFT JOIN mrr ON mrr.account_key = k.account_key
LEFT JOIN revenue ON revenue.account_key = k.account_key
LEFT JOIN pipeline ON pipeline.account_key = k.account_key
LEFT JOIN support ON support.account_key = k.account_key
