-- Intermediate: support tickets of every helpdesk with their account key (the ticket's
-- organisation domain, else the requester's email domain). A ticket present in several
-- helpdesks (a migration) is kept from one only: of the tickets sharing (account key, lower
-- subject, creation minute), those of the most preferred helpdesk (Zendesk, then Freshdesk).
WITH t AS (
    SELECT source_system, _source, ticket_id, org_id, account_domain, subject, status, created_at,
           solved_at, first_response_minutes, resolution_hours, csat, 1 AS preference
    FROM stg_zendesk_tickets
    UNION ALL
    SELECT source_system, _source, ticket_id, org_id, account_domain, subject, status, created_at,
           solved_at, first_response_minutes, resolution_hours, csat, 2 AS preference
    FROM stg_freshdesk_tickets
),
ranked AS (
    SELECT t.*,
           min(t.preference) OVER (
               PARTITION BY COALESCE(t.account_domain, t.source_system || ':' || t._source || ':' || t.ticket_id),
                            lower(t.subject), date_trunc('minute', t.created_at)
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
