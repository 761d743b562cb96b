-- One row per day, site and page. avg_time_on_page_s is the engaged (visible) time the
-- tracker reported for the page (engagement events), divided by its page views.
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
