-- Intermediate: support tickets of every helpdesk with their account key (the ticket's
-- organisation domain, else the requester's email domain).
SELECT
    source_system || ':' || _source || ':' || ticket_id AS ticket_key,
    source_system,
    _source,
    ticket_id,
    org_id,
    account_domain AS account_key,
    status,
    created_at,
    solved_at,
    first_response_minutes,
    resolution_hours,
    csat
FROM stg_zendesk_tickets
