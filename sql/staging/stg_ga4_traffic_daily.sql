-- Staging: GA4 web sessions by day and traffic source.
-- channel   the session medium through the seed channel_map (system utm_medium); `(none)` is direct
SELECT
    'ga4' AS source_system,
    t._source,
    t.date,
    lower(t.session_source) AS utm_source,
    lower(t.session_medium) AS utm_medium,
    NULLIF(lower(t.session_campaign_name), '(not set)') AS utm_campaign,
    COALESCE(m.channel, 'other') AS channel,
    COALESCE(t.sessions, 0) AS sessions,
    COALESCE(t.engaged_sessions, 0) AS engaged_sessions,
    COALESCE(t.key_events, 0) AS key_events
FROM ga4.traffic_daily t
LEFT JOIN channel_map m ON m.system = 'utm_medium' AND m.value = lower(t.session_medium)
