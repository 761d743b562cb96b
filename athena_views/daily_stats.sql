-- One row per day and site: Plausible's top-line numbers. bounces and
-- total_visit_duration_s let a dashboard combine several days correctly
-- (sum them, then divide by the summed visits).
SELECT
    event_date,
    domain_name,
    count(DISTINCT visitor_id) AS visitors,
    count(*) AS visits,
    sum(pageviews) AS pageviews,
    sum(CASE WHEN is_bounce THEN 1 ELSE 0 END) AS bounces,
    CAST(sum(CASE WHEN is_bounce THEN 1 ELSE 0 END) AS double) / count(*) AS bounce_rate,
    sum(duration_s) AS total_visit_duration_s,
    avg(duration_s) AS avg_visit_duration_s,
    CAST(sum(pageviews) AS double) / count(*) AS views_per_visit
FROM sessions
GROUP BY event_date, domain_name
