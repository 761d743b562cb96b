-- One row per day, site and landing page: where visits start.
SELECT
    event_date,
    domain_name,
    entry_page AS page_path,
    count(DISTINCT visitor_id) AS visitors,
    count(*) AS entries,
    CAST(sum(CASE WHEN is_bounce THEN 1 ELSE 0 END) AS double) / count(*) AS bounce_rate
FROM sessions
WHERE entry_page IS NOT NULL
GROUP BY event_date, domain_name, entry_page
