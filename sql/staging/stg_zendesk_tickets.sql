-- Staging: Zendesk tickets with their metrics and CSAT, one row per ticket (deleted left out).
-- account_domain          the organisation's first domain name, else the requester's email
--                         domain (not free mail), normalised
-- first_response_minutes  reply_time_in_minutes (calendar) from ticket_metrics
-- resolution_hours        full_resolution_time_in_minutes (calendar) / 60
-- csat                    `good`, `bad` or null (offered/unoffered: no rating)
WITH org AS (
    SELECT _source, id, lower(trim(domain_names[1])) AS domain FROM zendesk.organizations
),
usr AS (
    SELECT u._source, u.id, lower(trim(u.email)) AS email,
           CASE WHEN f.domain IS NULL THEN NULLIF(split_part(lower(trim(u.email)), '@', 2), '') END AS email_domain
    FROM zendesk.users u
    LEFT JOIN free_email_domains f ON f.domain = split_part(lower(trim(u.email)), '@', 2)
)
SELECT
    'zendesk' AS source_system,
    t._source,
    CAST(t.id AS VARCHAR) AS ticket_id,
    CAST(t.organization_id AS VARCHAR) AS org_id,
    u.email AS requester_email,
    NULLIF(regexp_replace(regexp_replace(regexp_replace(COALESCE(o.domain, u.email_domain), '^[a-z][a-z0-9+.-]*://', ''), '^www\.', ''), '[/?#:].*$', ''), '') AS account_domain,
    t.subject,
    t.status,
    t.priority,
    t.created_at,
    COALESCE(m.solved_at, CASE WHEN t.status IN ('solved', 'closed') THEN t.updated_at END) AS solved_at,
    CAST(m.reply_time_in_minutes__calendar AS DOUBLE) AS first_response_minutes,
    CAST(m.full_resolution_time_in_minutes__calendar AS DOUBLE) / 60.0 AS resolution_hours,
    CASE WHEN t.satisfaction_rating__score IN ('good', 'bad') THEN t.satisfaction_rating__score END AS csat
FROM zendesk.tickets t
LEFT JOIN org o ON o.id = t.organization_id AND o._source = t._source
LEFT JOIN usr u ON u.id = t.requester_id AND u._source = t._source
LEFT JOIN zendesk.ticket_metrics m ON m.ticket_id = t.id AND m._source = t._source
WHERE NOT COALESCE(t._deleted, false)
