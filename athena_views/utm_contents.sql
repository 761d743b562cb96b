-- One row per day, site and utm_content of the visit (from its first page view or custom
-- event, as campaigns take utm_campaign); visits without one are left out.
SELECT
    event_date,
    domain_name,
    utm_content,
    count(DISTINCT visitor_id) AS visitors,
    count(*) AS visits,
    CAST(sum(CASE WHEN is_bounce THEN 1 ELSE 0 END) AS double) / count(*) AS bounce_rate,
    avg(duration_s) AS avg_visit_duration_s
FROM sessions
WHERE utm_content IS NOT NULL
GROUP BY event_date, domain_name, utm_content
