-- Staging: Pipedrive persons (people). Pipedrive has no lifecycle stage: a person is customer
-- when a deal of theirs (or of their organization) is won, opportunity when one is open, else lead.
-- Channel: Pipedrive keeps no first-touch source on persons, so it is null (direct downstream).
-- (Flags are joined per person and per organization with two equi-joins; a single join on
-- `person OR organization` would compare every person with every deal.)
WITH deal_flags AS (
    SELECT _source, person_id, org_id,
           status = 'won' AS won, status = 'open' AS open
    FROM pipedrive.deals
    WHERE NOT COALESCE(_deleted, false)
),
person_flags AS (
    SELECT _source, person_id, bool_or(won) AS any_won, bool_or(open) AS any_open
    FROM deal_flags WHERE person_id IS NOT NULL GROUP BY 1, 2
),
org_flags AS (
    SELECT _source, org_id, bool_or(won) AS any_won, bool_or(open) AS any_open
    FROM deal_flags WHERE org_id IS NOT NULL GROUP BY 1, 2
),
by_person AS (
    SELECT p._source, p.id,
           COALESCE(pf.any_won, false) OR COALESCE(o.any_won, false) AS any_won,
           COALESCE(pf.any_open, false) OR COALESCE(o.any_open, false) AS any_open
    FROM pipedrive.persons p
    LEFT JOIN person_flags pf ON pf._source = p._source AND pf.person_id = p.id
    LEFT JOIN org_flags o ON o._source = p._source AND o.org_id = p.org_id
)
SELECT
    'pipedrive' AS source_system,
    p._source,
    CAST(p.id AS VARCHAR) AS person_id,
    NULLIF(lower(trim(p.primary_email)), '') AS email,
    CASE WHEN f.domain IS NULL THEN NULLIF(split_part(lower(trim(p.primary_email)), '@', 2), '') END AS email_domain,
    p.first_name,
    p.last_name,
    CAST(p.org_id AS VARCHAR) AS account_id,
    CASE WHEN b.any_won THEN 'customer' WHEN b.any_open THEN 'opportunity' ELSE 'lead' END AS lifecycle_stage,
    CAST(NULL AS VARCHAR) AS channel,
    CAST(NULL AS VARCHAR) AS utm_campaign,
    CAST(NULL AS VARCHAR) AS gclid,
    p.add_time AS created_at,
    p.update_time AS updated_at
FROM pipedrive.persons p
LEFT JOIN by_person b ON b._source = p._source AND b.id = p.id
LEFT JOIN free_email_domains f ON f.domain = split_part(lower(trim(p.primary_email)), '@', 2)
WHERE NOT COALESCE(p._deleted, false)
