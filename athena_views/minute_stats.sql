-- One row per minute (UTC) of a day and site: the realtime graph (last 30 minutes).
-- Same reading as hourly_stats, a minute finer: a visitor counts in every minute they
-- were active in. event_minute is the minute's start, a timestamp like event_time.
SELECT
    event_date,
    date_trunc('minute', event_time) AS event_minute,
    domain_name,
    count(DISTINCT visitor_id) AS visitors,
    sum(CASE WHEN event_type = 'pageview' THEN 1 ELSE 0 END) AS pageviews
FROM events_deduped
WHERE event_type <> 'engagement'
GROUP BY event_date, date_trunc('minute', event_time), domain_name
