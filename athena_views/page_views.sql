-- One row per page view, every events column: the original ownstats query
-- `select count(*) from page_views where event_date = '2019-07-01'` works unchanged.
SELECT *
FROM events_deduped
WHERE event_type = 'pageview'
