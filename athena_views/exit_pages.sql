-- One row per day, site and exit page: where visits end. exit_rate is the share of the
-- page's views that ended a visit (Plausible's exit rate).
SELECT
    x.event_date,
    x.domain_name,
    x.page_path,
    x.visitors,
    x.exits,
    CAST(x.exits AS double) / p.pageviews AS exit_rate
FROM (
    SELECT
        event_date,
        domain_name,
        exit_page AS page_path,
        count(DISTINCT visitor_id) AS visitors,
        count(*) AS exits
    FROM sessions
    WHERE exit_page IS NOT NULL
    GROUP BY event_date, domain_name, exit_page
) AS x
JOIN top_pages AS p
    ON p.event_date = x.event_date
    AND p.domain_name = x.domain_name
    AND p.page_path = x.page_path
