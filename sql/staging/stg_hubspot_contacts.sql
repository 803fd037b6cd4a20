-- Staging: HubSpot contacts (people), one row per contact of each configured portal.
-- email          lower-cased, trimmed
-- email_domain   the part after `@`, null for free-mail domains (seed free_email_domains)
-- account_id     the associated company's id (text), if any
-- lifecycle_stage HubSpot's internal value (subscriber, lead, marketingqualifiedlead, ...)
-- channel        first-touch channel from hs_analytics_source (seed channel_map, system hubspot)
-- utm_campaign   hs_analytics_source_data_1 (the first-touch campaign), gclid hs_google_click_id
WITH base AS (
    SELECT
        c.*,
        lower(trim(c.email)) AS email_norm,
        split_part(lower(trim(c.email)), '@', 2) AS raw_domain
    FROM hubspot.contacts c
    WHERE NOT COALESCE(c.archived, false)
)
SELECT
    'hubspot' AS source_system,
    b._source,
    b.id AS person_id,
    NULLIF(b.email_norm, '') AS email,
    CASE WHEN f.domain IS NULL THEN NULLIF(b.raw_domain, '') END AS email_domain,
    b.firstname AS first_name,
    b.lastname AS last_name,
    CAST(b.associatedcompanyid AS VARCHAR) AS account_id,
    b.lifecyclestage AS lifecycle_stage,
    COALESCE(m.channel, CASE WHEN b.hs_analytics_source IS NULL THEN NULL ELSE 'other' END) AS channel,
    NULLIF(lower(trim(b.hs_analytics_source_data_1)), '') AS utm_campaign,
    NULLIF(b.hs_google_click_id, '') AS gclid,
    COALESCE(b.createdate, b.created_at) AS created_at,
    b.updated_at
FROM base b
LEFT JOIN free_email_domains f ON f.domain = b.raw_domain
LEFT JOIN channel_map m ON m.system = 'hubspot' AND m.value = b.hs_analytics_source
