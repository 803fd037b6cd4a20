-- Intermediate: every CRM's accounts with their account key.
-- account_key   the normalised website domain, else `<system>:<source>:<id>`
SELECT
    source_system,
    _source,
    account_id,
    name,
    domain,
    COALESCE(domain, source_system || ':' || _source || ':' || account_id) AS account_key,
    created_at
FROM (
    SELECT source_system, _source, account_id, name, domain, created_at FROM stg_hubspot_companies
    UNION ALL
    SELECT source_system, _source, account_id, name, domain, created_at FROM stg_salesforce_accounts
    UNION ALL
    SELECT source_system, _source, account_id, name, domain, created_at FROM stg_pipedrive_organizations
)
