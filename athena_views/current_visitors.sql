-- One row per site: distinct visitors with any event in the last 5 minutes. event_time
-- is a UTC timestamp without zone, so "now" is taken in UTC too; the event_date filter
-- limits the scan to today's and yesterday's partitions.
SELECT
    domain_name,
    count(DISTINCT visitor_id) AS visitors
FROM events_deduped
WHERE event_date >= date_format(current_date - INTERVAL '1' DAY, '%Y-%m-%d')
    AND event_time >= (current_timestamp AT TIME ZONE 'UTC') - INTERVAL '5' MINUTE
GROUP BY domain_name
