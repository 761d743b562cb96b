-- One row per site: distinct visitors with any event in the last 5 minutes. event_time
-- is a UTC timestamp without zone, so "now" is taken in UTC too; the event_date filter
-- limits the scan to today's and yesterday's partitions (the inner CAST AS date is a
-- no-op on Athena; DuckDB's date arithmetic returns a timestamp, whose text form would
-- carry " 00:00:00").
SELECT
    domain_name,
    count(DISTINCT visitor_id) AS visitors
FROM events_deduped
WHERE event_date >= CAST(CAST(date_add('day', -1, current_date) AS date) AS varchar)
    AND event_time >= (current_timestamp AT TIME ZONE 'UTC') - INTERVAL '5' MINUTE
GROUP BY domain_name
