-- One row per day, site and country
-- of the visit (from its first page view or custom event, as Plausible does).
SELECT
    event_date,
    domain_name,
    country_code,
    count(DISTINCT visitor_id) AS visitors,
    count(*) AS visits
FROM sessions
GROUP BY event_date, domain_name, country_code
