-- One row per day, site and CloudFront edge city (with its country): where visitors
-- were served from, the nearest thing to a city the lake has without storing any
-- visitor location (the edge is CloudFront's, chosen by network distance). A visitor
-- served by two edges in a day counts at both.
SELECT
    event_date,
    domain_name,
    edge_country,
    edge_city,
    count(DISTINCT visitor_id) AS visitors,
    sum(CASE WHEN event_type = 'pageview' THEN 1 ELSE 0 END) AS pageviews
FROM events_deduped
WHERE event_type <> 'engagement'
GROUP BY event_date, domain_name, edge_country, edge_city
