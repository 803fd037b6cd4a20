-- Intermediate: support tickets of every helpdesk with their account key (the ticket's
-- organisation domain, else the requester's email domain). A ticket present in several
-- helpdesks (a migration, or chat in Intercom beside email in Zendesk) is kept from one only:
-- of the tickets sharing (requester email, creation minute) — or, without an email,
-- (account key, lower subject, creation minute) — those of the most preferred helpdesk
-- (Zendesk, then Freshdesk, then Intercom). Intercom chats have no subject, so the requester
-- is the identity that survives every helpdesk.
WITH t AS (
    SELECT source_system, _source, ticket_id, org_id, account_domain, requester_email, subject,
           status, created_at, solved_at, first_response_minutes, resolution_hours, csat,
           1 AS preference
    FROM stg_zendesk_tickets
    UNION ALL
    SELECT source_system, _source, ticket_id, org_id, account_domain, requester_email, subject,
           status, created_at, solved_at, first_response_minutes, resolution_hours, csat,
           2 AS preference
    FROM stg_freshdesk_tickets
    UNION ALL
    SELECT source_system, _source, ticket_id, org_id, account_domain, requester_email, subject,
           status, created_at, solved_at, first_response_minutes, resolution_hours, csat,
           3 AS preference
    FROM stg_intercom_conversations
),
ranked AS (
    SELECT t.*,
           min(t.preference) OVER (
               PARTITION BY
                   CASE WHEN t.requester_email IS NOT NULL THEN 'email:' || t.requester_email
                        ELSE 'subject:' || COALESCE(t.account_domain, t.source_system || ':' || t._source || ':' || t.ticket_id)
                             || ':' || COALESCE(lower(t.subject), '') END,
                   date_trunc('minute', t.created_at)
           ) AS best
    FROM t
)
SELECT
    source_system || ':' || _source || ':' || ticket_id AS ticket_key,
    source_system,
    _source,
    ticket_id,
    org_id,
    account_domain AS account_key,
    subject,
    status,
    created_at,
    solved_at,
    first_response_minutes,
    resolution_hours,
    csat
FROM ranked
WHERE preference = best
