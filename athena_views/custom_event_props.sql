-- One row per day, site, custom event name and property key/value: the breakdown
-- Plausible shows under a goal (e.g. plan=pro on "Signup").
SELECT
    e.event_date,
    e.domain_name,
    e.event_name,
    p.prop_key,
    p.prop_value,
    count(DISTINCT e.visitor_id) AS visitors,
    count(*) AS events
FROM events_deduped AS e
CROSS JOIN UNNEST(e.props) AS p (prop_key, prop_value)
WHERE e.event_type = 'event'
GROUP BY e.event_date, e.domain_name, e.event_name, p.prop_key, p.prop_value
