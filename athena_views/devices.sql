-- One row per day, site and device type
-- of the visit (from its first page view or custom event, as Plausible does).
SELECT
    event_date,
    domain_name,
    device_type,
    count(DISTINCT visitor_id) AS visitors,
    count(*) AS visits
FROM sessions
GROUP BY event_date, domain_name, device_type
