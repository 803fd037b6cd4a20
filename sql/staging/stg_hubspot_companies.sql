-- Staging: HubSpot companies (CRM accounts), one row per company of each configured portal.
-- account_id   HubSpot company id (text)
-- domain       website domain, normalised: lower case, no scheme, no `www.`, no path or port
-- Archived companies are left out.
SELECT
    'hubspot' AS source_system,
    _source,
    id AS account_id,
    name,
    NULLIF(
        regexp_replace(
            regexp_replace(regexp_replace(lower(trim(domain)), '^[a-z][a-z0-9+.-]*://', ''), '^www\.', ''),
            '[/?#:].*$',
            ''
        ),
        ''
    ) AS domain,
    industry,
    annualrevenue AS annual_revenue,
    created_at,
    updated_at
FROM hubspot.companies
WHERE NOT COALESCE(archived, false)
