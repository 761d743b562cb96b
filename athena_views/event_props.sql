-- One row per day, site and custom property key/value, over every page view and custom
-- event that carries it: the property breakdown (Plausible's Properties report, the
-- Stats API's event:props:<name> dimension). custom_event_props splits the same counts
-- by goal; here a visitor with the property on several events counts once a day.
SELECT
    e.event_date,
    e.domain_name,
    p.prop_key,
    p.prop_value,
    count(DISTINCT e.visitor_id) AS visitors,
    count(*) AS events,
    sum(CASE WHEN e.event_type = 'pageview' THEN 1 ELSE 0 END) AS pageviews
FROM events_deduped AS e
CROSS JOIN UNNEST(e.props) AS p (prop_key, prop_value)
WHERE e.event_type IN ('pageview', 'event')
GROUP BY e.event_date, e.domain_name, p.prop_key, p.prop_value
