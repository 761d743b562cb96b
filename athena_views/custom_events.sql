-- One row per day, site and custom event name (goals).
SELECT
    event_date,
    domain_name,
    event_name,
    count(DISTINCT visitor_id) AS visitors,
    count(*) AS events
FROM events_deduped
WHERE event_type = 'event'
GROUP BY event_date, domain_name, event_name
