-- Staging: Salesforce accounts (CRM accounts), one row per account of each configured org.
-- domain   Website, normalised: lower case, no scheme, no `www.`, no path or port
-- Deleted accounts (IsDeleted, from queryAll) are left out.
SELECT
    'salesforce' AS source_system,
    _source,
    id AS account_id,
    name,
    NULLIF(regexp_replace(regexp_replace(regexp_replace(lower(trim(website)), '^[a-z][a-z0-9+.-]*://', ''), '^www\.', ''), '[/?#:].*$', ''), '') AS domain,
    industry,
    CAST(annual_revenue AS DOUBLE) AS annual_revenue,
    created_date AS created_at,
    system_modstamp AS updated_at
FROM salesforce.accounts
WHERE NOT COALESCE(_deleted, false)
