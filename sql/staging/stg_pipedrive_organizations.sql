-- Staging: Pipedrive organizations (CRM accounts). Pipedrive keeps no website domain on an
-- organization, so its domain is the most common company email domain of its people (not free
-- mail; ties go to the alphabetically first domain). Deleted organizations are left out.
WITH person_domains AS (
    SELECT p._source, p.org_id, split_part(lower(trim(p.primary_email)), '@', 2) AS domain, COUNT(*) AS n
    FROM pipedrive.persons p
    LEFT JOIN free_email_domains f ON f.domain = split_part(lower(trim(p.primary_email)), '@', 2)
    WHERE p.org_id IS NOT NULL AND f.domain IS NULL AND NOT COALESCE(p._deleted, false)
      AND split_part(lower(trim(p.primary_email)), '@', 2) <> ''
    GROUP BY 1, 2, 3
),
best AS (
    SELECT _source, org_id, domain,
           row_number() OVER (PARTITION BY _source, org_id ORDER BY n DESC, domain) AS rn
    FROM person_domains
)
SELECT
    'pipedrive' AS source_system,
    o._source,
    CAST(o.id AS VARCHAR) AS account_id,
    o.name,
    b.domain,
    o.add_time AS created_at,
    o.update_time AS updated_at
FROM pipedrive.organizations o
LEFT JOIN best b ON b._source = o._source AND b.org_id = o.id AND b.rn = 1
WHERE NOT COALESCE(o._deleted, false)
