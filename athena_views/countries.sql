-- One row per day, site and country of the visit (taken from its first event).
SELECT
    event_date,
    domain_name,
    country_code,
    count(DISTINCT visitor_id) AS visitors,
    count(*) AS visits
FROM sessions
GROUP BY event_date, domain_name, country_code
