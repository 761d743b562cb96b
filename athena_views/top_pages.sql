-- One row per day, site and page. avg_time_on_page_s is the engaged (visible) time the
-- tracker reported for the page (engagement events), divided by its page views.
-- scroll_depth is Plausible's: each visitor's deepest scroll on the page that day (the
-- `sd` of its engagement events), averaged over the scroll_visitors who reported one
-- (NULL when none did). Over several days the dashboard weighs each day's figure by
-- its scroll_visitors.
SELECT
    p.event_date,
    p.domain_name,
    p.page_path,
    p.visitors,
    p.pageviews,
    p.avg_time_on_page_s,
    s.scroll_depth,
    coalesce(s.scroll_visitors, 0) AS scroll_visitors
FROM (
    SELECT
        event_date,
        domain_name,
        page_path,
        count(DISTINCT CASE WHEN event_type = 'pageview' THEN visitor_id END) AS visitors,
        sum(CASE WHEN event_type = 'pageview' THEN 1 ELSE 0 END) AS pageviews,
        CAST(sum(CASE WHEN event_type = 'engagement' THEN coalesce(engagement_ms, 0) ELSE 0 END)
            AS double)
            / 1000
            / sum(CASE WHEN event_type = 'pageview' THEN 1 ELSE 0 END) AS avg_time_on_page_s
    FROM events_deduped
    WHERE event_type IN ('pageview', 'engagement')
    GROUP BY event_date, domain_name, page_path
    HAVING sum(CASE WHEN event_type = 'pageview' THEN 1 ELSE 0 END) > 0
) AS p
LEFT JOIN (
    SELECT
        event_date,
        domain_name,
        page_path,
        avg(CAST(deepest AS double)) AS scroll_depth,
        count(*) AS scroll_visitors
    FROM (
        SELECT event_date, domain_name, page_path, visitor_id, max(scroll_depth) AS deepest
        FROM events_deduped
        WHERE event_type = 'engagement' AND scroll_depth IS NOT NULL
        GROUP BY event_date, domain_name, page_path, visitor_id
    ) AS v
    GROUP BY event_date, domain_name, page_path
) AS s
    ON s.event_date = p.event_date AND s.domain_name = p.domain_name
    AND s.page_path = p.page_path
