-- Staging: Freshdesk tickets with first-response and resolution times and CSAT; spam left out.
-- account_domain          the company's first domain, else the requester's email domain (not free mail)
-- status                  2 open, 3 pending, 4 resolved, 5 closed (as Zendesk-like names)
-- first_response_minutes  stats.first_responded_at − created_at
-- resolution_hours        stats.resolved_at − created_at
-- csat                    the default question's rating: ≥ 101 (happy) good, ≤ −101 (unhappy) bad,
--                         100 (neutral) not counted
WITH co AS (
    SELECT _source, id, lower(trim(domains[1])) AS domain FROM freshdesk.companies
),
csat AS (
    SELECT _source, ticket_id,
           last_value(ratings__default_question ORDER BY created_at) AS rating
    FROM freshdesk.satisfaction_ratings
    GROUP BY 1, 2
)
SELECT
    'freshdesk' AS source_system,
    t._source,
    CAST(t.id AS VARCHAR) AS ticket_id,
    CAST(t.company_id AS VARCHAR) AS org_id,
    lower(trim(t.requester__email)) AS requester_email,
    COALESCE(c.domain,
        CASE WHEN f.domain IS NULL THEN NULLIF(split_part(lower(trim(t.requester__email)), '@', 2), '') END) AS account_domain,
    t.subject,
    CASE t.status WHEN 2 THEN 'open' WHEN 3 THEN 'pending' WHEN 4 THEN 'solved' WHEN 5 THEN 'closed'
                  ELSE CAST(t.status AS VARCHAR) END AS status,
    CAST(t.priority AS VARCHAR) AS priority,
    t.created_at,
    COALESCE(t.stats__resolved_at, t.stats__closed_at) AS solved_at,
    CAST(date_part('epoch', t.stats__first_responded_at) - date_part('epoch', t.created_at) AS DOUBLE) / 60.0 AS first_response_minutes,
    CAST(date_part('epoch', COALESCE(t.stats__resolved_at, t.stats__closed_at)) - date_part('epoch', t.created_at) AS DOUBLE) / 3600.0 AS resolution_hours,
    CASE WHEN s.rating >= 101 THEN 'good' WHEN s.rating <= -101 THEN 'bad' END AS csat
FROM freshdesk.tickets t
LEFT JOIN co c ON c.id = t.company_id AND c._source = t._source
LEFT JOIN free_email_domains f ON f.domain = split_part(lower(trim(t.requester__email)), '@', 2)
LEFT JOIN csat s ON s.ticket_id = t.id AND s._source = t._source
WHERE NOT COALESCE(t.spam, false)
