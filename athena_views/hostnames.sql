-- One row per day, site and hostname the page views and custom events were sent from (a
-- site's subdomains): the Stats API's event:hostname breakdown.
SELECT
    event_date,
    domain_name,
    hostname,
    count(DISTINCT visitor_id) AS visitors,
    sum(CASE WHEN event_type = 'pageview' THEN 1 ELSE 0 END) AS pageviews,
    count(*) AS events
FROM events_deduped
WHERE event_type IN ('pageview', 'event')
GROUP BY event_date, domain_name, hostname
