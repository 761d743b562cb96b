-- One row per day, site and browser of the visit (taken from its first event).
SELECT
    event_date,
    domain_name,
    browser_name,
    count(DISTINCT visitor_id) AS visitors,
    count(*) AS visits
FROM sessions
GROUP BY event_date, domain_name, browser_name
