-- Intermediate: one row per real deal across CRMs. A deal present in several CRMs (a
-- migration) is kept from one CRM only: of the deals sharing (lower(deal name), creation day,
-- amount rounded to whole units), those of the most preferred CRM (HubSpot, then Salesforce,
-- then Pipedrive) are kept. (Account keys are not compared: a CRM may know no domain.)
-- channel   the deal's own source channel, else the channel of its account's earliest person
-- amount    as the CRM holds it, taken as USD (the reporting currency)
WITH d AS (
    SELECT source_system, _source, deal_id, account_id, deal_name, amount, pipeline, stage,
           stage_label, is_closed, is_won, created_at, closed_at, channel, 1 AS preference
    FROM stg_hubspot_deals
    UNION ALL
    SELECT source_system, _source, deal_id, account_id, deal_name, amount, pipeline, stage,
           stage_label, is_closed, is_won, created_at, closed_at, channel, 2 AS preference
    FROM stg_salesforce_opportunities
    UNION ALL
    SELECT source_system, _source, deal_id, account_id, deal_name, amount, pipeline, stage,
           stage_label, is_closed, is_won, created_at, closed_at, channel, 3 AS preference
    FROM stg_pipedrive_deals
),
keyed AS (
    SELECT
        d.*,
        COALESCE(a.account_key, d.source_system || ':' || d._source || ':' || COALESCE(d.account_id, '')) AS account_key
    FROM d
    LEFT JOIN int_crm_accounts a
        ON a.source_system = d.source_system AND a._source = d._source AND a.account_id = d.account_id
),
ranked AS (
    SELECT
        k.*,
        min(k.preference) OVER (
            PARTITION BY lower(k.deal_name), CAST(k.created_at AS DATE), round(k.amount)
        ) AS best
    FROM keyed k
),
first_person AS (
    SELECT account_key, first_value(channel) OVER (
               PARTITION BY account_key ORDER BY created_at, person_key
           ) AS channel,
           min(created_at) OVER (PARTITION BY account_key) AS first_person_at
    FROM int_people
    WHERE account_key IS NOT NULL
),
acct AS (
    SELECT account_key, max(channel) AS channel, min(first_person_at) AS first_person_at
    FROM first_person
    GROUP BY 1
)
SELECT
    r.source_system || ':' || r._source || ':' || r.deal_id AS deal_key,
    r.source_system,
    r._source,
    r.deal_id,
    r.account_key,
    r.deal_name,
    CAST(r.amount AS DOUBLE) AS amount,
    r.pipeline,
    r.stage,
    r.stage_label,
    r.is_closed,
    r.is_won,
    r.created_at,
    r.closed_at,
    COALESCE(r.channel, a.channel, 'direct') AS channel,
    a.first_person_at
FROM ranked r
LEFT JOIN acct a ON a.account_key = r.account_key
WHERE r.preference = r.best
