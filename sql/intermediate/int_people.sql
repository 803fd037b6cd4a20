-- Intermediate: one row per real person across CRMs (one per email; HubSpot first, then
-- Salesforce, then Pipedrive, then the earliest created), with the account key of the person's CRM account,
-- else the person's email domain.
-- stage_rank   funnel order of lifecycle_stage: subscriber 1, lead 2, marketingqualifiedlead 3,
--              salesqualifiedlead 4, opportunity 5, customer 6, evangelist 7, anything else 0
WITH p AS (
    SELECT source_system, _source, person_id, email, email_domain, account_id, lifecycle_stage,
           channel, utm_campaign, gclid, created_at, 1 AS preference
    FROM stg_hubspot_contacts
    UNION ALL
    SELECT source_system, _source, person_id, email, email_domain, account_id, lifecycle_stage,
           channel, utm_campaign, gclid, created_at, 2 AS preference
    FROM stg_salesforce_people
    UNION ALL
    SELECT source_system, _source, person_id, email, email_domain, account_id, lifecycle_stage,
           channel, utm_campaign, gclid, created_at, 3 AS preference
    FROM stg_pipedrive_persons
),
ranked AS (
    SELECT
        p.*,
        row_number() OVER (
            PARTITION BY COALESCE(p.email, p.source_system || ':' || p._source || ':' || p.person_id)
            ORDER BY p.preference, p.created_at, p.person_id
        ) AS rn
    FROM p
)
SELECT
    r.source_system,
    r._source,
    r.person_id,
    r.source_system || ':' || r._source || ':' || r.person_id AS person_key,
    r.email,
    r.email_domain,
    COALESCE(a.account_key, r.email_domain) AS account_key,
    r.lifecycle_stage,
    CASE r.lifecycle_stage
        WHEN 'subscriber' THEN 1
        WHEN 'lead' THEN 2
        WHEN 'marketingqualifiedlead' THEN 3
        WHEN 'salesqualifiedlead' THEN 4
        WHEN 'opportunity' THEN 5
        WHEN 'customer' THEN 6
        WHEN 'evangelist' THEN 7
        ELSE 0
    END AS stage_rank,
    COALESCE(r.channel, 'direct') AS channel,
    r.utm_campaign,
    r.gclid,
    r.created_at
FROM ranked r
LEFT JOIN int_crm_accounts a
    ON a.source_system = r.source_system AND a._source = r._source AND a.account_id = r.account_id
WHERE r.rn = 1
