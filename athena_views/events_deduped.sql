-- Internal base of every other view: the events table with at-least-once delivery
-- undone. Kinesis/Firehose retries (and a local compaction caught half-way) can store
-- the same edge request twice; event_id (x-edge-request-id) identifies it, and both
-- copies share event_time and therefore event_date, so partitioning the window by
-- event_date keeps date filters pruning partitions. Copies may differ in visitor_id
-- (the same records ingested again after their day's salt was destroyed): ordering by
-- it picks the same copy every time, and the same salt for all of a visitor's events,
-- so visitors are neither random nor inflated.
-- The column list must equal the events schema (stream_processor/schema.py); the
-- test suite checks that it does.
SELECT
    event_id,
    event_time,
    event_type,
    event_name,
    props,
    domain_name,
    page_path,
    page_id,
    referrer_url,
    referrer_domain,
    source,
    channel,
    utm_source,
    utm_medium,
    utm_campaign,
    utm_term,
    utm_content,
    browser_name,
    browser_version,
    os_name,
    os_version,
    device_type,
    screen_width,
    screen_height,
    viewport_width,
    language,
    timezone,
    country_code,
    edge_location,
    edge_city,
    edge_country,
    edge_latitude,
    edge_longitude,
    visitor_id,
    engagement_ms,
    scroll_depth,
    hostname,
    event_date
FROM (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY event_date, event_id ORDER BY event_time, visitor_id
        ) AS copy_no
    FROM events
) AS numbered
WHERE copy_no = 1
