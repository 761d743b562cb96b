-- One row per hour (UTC, 0-23) of a day and site. A visitor is counted in every hour
-- they were active in, as Plausible's hourly graph does.
SELECT
    event_date,
    hour(event_time) AS event_hour,
    domain_name,
    count(DISTINCT visitor_id) AS visitors,
    sum(CASE WHEN event_type = 'pageview' THEN 1 ELSE 0 END) AS pageviews
FROM events_deduped
WHERE event_type <> 'engagement'
GROUP BY event_date, hour(event_time), domain_name
