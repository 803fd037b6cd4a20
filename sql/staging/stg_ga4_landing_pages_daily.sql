-- Staging: GA4 web sessions by day and landing page.
-- landing_page  the page path as GA4 reports it, lower-cased, without query string or fragment,
--               and without a trailing slash (except the home page `/`); `(not set)` stays
--               as is (sessions without a page view)
-- section       the first path segment (`/blog/post-1` → `blog`); `home` for `/`,
--               `(not set)` for `(not set)`
-- revenue       GA4's totalRevenue, in the property's currency (taken as USD)
WITH pages AS (
    SELECT
        p._source,
        p.date,
        CASE
            WHEN p.landing_page IS NULL OR trim(p.landing_page) = '' OR p.landing_page = '(not set)'
                THEN '(not set)'
            ELSE lower(split_part(split_part(trim(p.landing_page), '?', 1), '#', 1))
        END AS path,
        COALESCE(p.sessions, 0) AS sessions,
        COALESCE(p.engaged_sessions, 0) AS engaged_sessions,
        COALESCE(p.new_users, 0) AS new_users,
        COALESCE(p.key_events, 0) AS key_events,
        COALESCE(p.total_revenue, 0.0) AS revenue
    FROM ga4.landing_pages_daily p
),
normalised AS (
    SELECT
        _source,
        date,
        CASE
            WHEN path IN ('', '/') THEN '/'
            WHEN path = '(not set)' THEN path
            ELSE rtrim(path, '/')
        END AS landing_page,
        sessions, engaged_sessions, new_users, key_events, revenue
    FROM pages
)
SELECT
    'ga4' AS source_system,
    _source,
    date,
    landing_page,
    CASE
        WHEN landing_page = '/' THEN 'home'
        WHEN landing_page = '(not set)' THEN '(not set)'
        ELSE split_part(ltrim(landing_page, '/'), '/', 1)
    END AS section,
    sessions,
    engaged_sessions,
    new_users,
    key_events,
    revenue
FROM normalised
