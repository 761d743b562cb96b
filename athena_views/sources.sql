-- One row per day, site and source (utm_source > ref > referrer name > host > Direct / None)
-- of the visit (from its first page view or custom event, as Plausible does).
SELECT
    event_date,
    domain_name,
    source,
    count(DISTINCT visitor_id) AS visitors,
    count(*) AS visits,
    CAST(sum(CASE WHEN is_bounce THEN 1 ELSE 0 END) AS double) / count(*) AS bounce_rate,
    avg(duration_s) AS avg_visit_duration_s
FROM sessions
GROUP BY event_date, domain_name, source
