-- Staging: Salesforce people: contacts and unconverted leads (a converted lead is its contact).
-- lifecycle_stage  mapped to HubSpot's funnel values: a lead by Status (`Open - Not Contacted`
--                  lead, `Working - Contacted` marketingqualifiedlead, anything else
--                  salesqualifiedlead); a contact is customer when its account has a won
--                  opportunity, opportunity when it has an open one, else salesqualifiedlead
-- channel          LeadSource through the seed channel_map (system salesforce)
WITH opp AS (
    SELECT _source, account_id,
           bool_or(is_won) AS any_won,
           bool_or(NOT is_closed) AS any_open
    FROM salesforce.opportunities
    WHERE NOT COALESCE(_deleted, false)
    GROUP BY 1, 2
),
people AS (
    SELECT c._source, c.id AS person_id, c.email, c.first_name, c.last_name, c.account_id,
           CASE WHEN o.any_won THEN 'customer'
                WHEN o.any_open THEN 'opportunity'
                ELSE 'salesqualifiedlead' END AS lifecycle_stage,
           c.lead_source, c.created_date, c.system_modstamp
    FROM salesforce.contacts c
    LEFT JOIN opp o ON o.account_id = c.account_id AND o._source = c._source
    WHERE NOT COALESCE(c._deleted, false)
    UNION ALL
    SELECT l._source, l.id, l.email, l.first_name, l.last_name, CAST(NULL AS VARCHAR),
           CASE l.status WHEN 'Open - Not Contacted' THEN 'lead'
                         WHEN 'Working - Contacted' THEN 'marketingqualifiedlead'
                         ELSE 'salesqualifiedlead' END,
           l.lead_source, l.created_date, l.system_modstamp
    FROM salesforce.leads l
    WHERE NOT COALESCE(l._deleted, false) AND NOT COALESCE(l.is_converted, false)
)
SELECT
    'salesforce' AS source_system,
    p._source,
    p.person_id,
    NULLIF(lower(trim(p.email)), '') AS email,
    CASE WHEN f.domain IS NULL THEN NULLIF(split_part(lower(trim(p.email)), '@', 2), '') END AS email_domain,
    p.first_name,
    p.last_name,
    p.account_id,
    p.lifecycle_stage,
    COALESCE(m.channel, CASE WHEN p.lead_source IS NULL THEN NULL ELSE 'other' END) AS channel,
    CAST(NULL AS VARCHAR) AS utm_campaign,
    CAST(NULL AS VARCHAR) AS gclid,
    p.created_date AS created_at,
    p.system_modstamp AS updated_at
FROM people p
LEFT JOIN free_email_domains f ON f.domain = split_part(lower(trim(p.email)), '@', 2)
LEFT JOIN channel_map m ON m.system = 'salesforce' AND m.value = p.lead_source
