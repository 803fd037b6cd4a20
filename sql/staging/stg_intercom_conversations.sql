-- Staging: Intercom conversations as support tickets, one row per conversation.
-- ticket_id               the conversation id
-- requester_email         the email of the conversation's author (a contact), lower-cased
-- account_domain          the website of the contact's first company, else the author's email
--                         domain (not free mail), normalised (no scheme, no `www.`, no path)
-- subject                 the email subject or title (chats and calls have none: null)
-- status                  state `open` → open, `snoozed` → pending, `closed` → closed
-- solved_at               statistics.last_close_at of a closed conversation
-- first_response_minutes  statistics.time_to_admin_reply (seconds) / 60
-- resolution_hours        (last_close_at − created_at) / 3600 for a closed conversation
-- csat                    conversation_rating.rating 4–5 `good`, 1–2 `bad`, 3 and none null
WITH co AS (
    SELECT _source, id, lower(trim(website)) AS website FROM intercom.companies
),
person AS (
    SELECT _source, id, json_get_str(companies__data, 0, 'id') AS company_id FROM intercom.contacts
),
conv AS (
    SELECT c.*,
           lower(trim(c.source__author__email)) AS email,
           json_get_str(c.contacts__contacts, 0, 'id') AS contact_id
    FROM intercom.conversations c
)
SELECT
    'intercom' AS source_system,
    c._source,
    c.id AS ticket_id,
    p.company_id AS org_id,
    c.email AS requester_email,
    NULLIF(regexp_replace(regexp_replace(regexp_replace(
        COALESCE(co.website, CASE WHEN f.domain IS NULL THEN NULLIF(split_part(c.email, '@', 2), '') END),
        '^[a-z][a-z0-9+.-]*://', ''), '^www\.', ''), '[/?#:].*$', ''), '') AS account_domain,
    COALESCE(NULLIF(c.source__subject, ''), c.title) AS subject,
    CASE c.state WHEN 'open' THEN 'open' WHEN 'snoozed' THEN 'pending' WHEN 'closed' THEN 'closed'
                 ELSE c.state END AS status,
    c.priority,
    c.created_at,
    CASE WHEN c.state = 'closed' THEN c.statistics__last_close_at END AS solved_at,
    CAST(c.statistics__time_to_admin_reply AS DOUBLE) / 60.0 AS first_response_minutes,
    CASE WHEN c.state = 'closed'
         THEN CAST(date_part('epoch', c.statistics__last_close_at) - date_part('epoch', c.created_at) AS DOUBLE) / 3600.0
    END AS resolution_hours,
    CASE WHEN c.conversation_rating__rating >= 4 THEN 'good'
         WHEN c.conversation_rating__rating <= 2 THEN 'bad' END AS csat
FROM conv c
LEFT JOIN person p ON p.id = c.contact_id AND p._source = c._source
LEFT JOIN co ON co.id = p.company_id AND co._source = c._source
LEFT JOIN free_email_domains f ON f.domain = split_part(c.email, '@', 2)
