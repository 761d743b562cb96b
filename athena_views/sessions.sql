-- One row per visit (Plausible's definition): the events of one visitor on one site
-- with no gap over 30 minutes. Engagement events extend a visit but never make one on
-- their own (a tab left open for an hour reports its engagement after the visit ended).
-- Bounce: exactly one page view and no custom event; a bounce lasts 0 s.
-- Visit attributes (source, device, ...) come from the visit's first page view or
-- custom event. The running sum keeps the default RANGE frame on purpose: events with
-- the same event_time are peers and get the same visit number whatever order LAG saw
-- them in, without an extra sort key.
WITH marked AS (
    SELECT
        event_date,
        domain_name,
        visitor_id,
        event_time,
        event_type,
        page_path,
        source,
        channel,
        utm_campaign,
        utm_medium,
        utm_term,
        utm_content,
        country_code,
        device_type,
        browser_name,
        os_name,
        referrer_url,
        utm_source,
        browser_version,
        os_version,
        CASE
            WHEN date_diff(
                'millisecond',
                lag(event_time) OVER (
                    PARTITION BY event_date, domain_name, visitor_id
                    ORDER BY event_time
                ),
                event_time
            ) <= 1800000 THEN 0
            ELSE 1
        END AS starts_visit
    FROM events_deduped
),
numbered AS (
    SELECT
        *,
        sum(starts_visit) OVER (
            PARTITION BY event_date, domain_name, visitor_id
            ORDER BY event_time
        ) AS visit_no
    FROM marked
),
visits AS (
    SELECT
        event_date,
        domain_name,
        visitor_id,
        visit_no,
        min(event_time) AS session_start,
        max(event_time) AS session_end,
        sum(CASE WHEN event_type = 'pageview' THEN 1 ELSE 0 END) AS pageviews,
        sum(CASE WHEN event_type = 'event' THEN 1 ELSE 0 END) AS custom_events,
        sum(CASE WHEN event_type <> 'engagement' THEN 1 ELSE 0 END) AS events,
        min_by(page_path, event_time) FILTER (WHERE event_type = 'pageview') AS entry_page,
        max_by(page_path, event_time) FILTER (WHERE event_type = 'pageview') AS exit_page,
        min_by(source, event_time) FILTER (WHERE event_type <> 'engagement') AS source,
        min_by(channel, event_time) FILTER (WHERE event_type <> 'engagement') AS channel,
        min_by(utm_campaign, event_time) FILTER (WHERE event_type <> 'engagement')
            AS utm_campaign,
        min_by(utm_medium, event_time) FILTER (WHERE event_type <> 'engagement') AS utm_medium,
        min_by(utm_term, event_time) FILTER (WHERE event_type <> 'engagement') AS utm_term,
        min_by(utm_content, event_time) FILTER (WHERE event_type <> 'engagement')
            AS utm_content,
        min_by(country_code, event_time) FILTER (WHERE event_type <> 'engagement')
            AS country_code,
        min_by(device_type, event_time) FILTER (WHERE event_type <> 'engagement')
            AS device_type,
        min_by(browser_name, event_time) FILTER (WHERE event_type <> 'engagement')
            AS browser_name,
        min_by(os_name, event_time) FILTER (WHERE event_type <> 'engagement') AS os_name,
        min_by(referrer_url, event_time) FILTER (WHERE event_type <> 'engagement')
            AS referrer_url,
        min_by(utm_source, event_time) FILTER (WHERE event_type <> 'engagement') AS utm_source,
        min_by(browser_version, event_time) FILTER (WHERE event_type <> 'engagement')
            AS browser_version,
        min_by(os_version, event_time) FILTER (WHERE event_type <> 'engagement')
            AS os_version
    FROM numbered
    GROUP BY event_date, domain_name, visitor_id, visit_no
)
SELECT
    event_date,
    domain_name,
    visitor_id,
    visit_no,
    session_start,
    session_end,
    pageviews,
    events,
    custom_events,
    pageviews = 1 AND custom_events = 0 AS is_bounce,
    CASE
        WHEN pageviews = 1 AND custom_events = 0 THEN 0.0
        ELSE CAST(date_diff('millisecond', session_start, session_end) AS double) / 1000
    END AS duration_s,
    entry_page,
    exit_page,
    source,
    channel,
    utm_campaign,
    country_code,
    device_type,
    browser_name,
    os_name,
    utm_medium,
    utm_term,
    utm_content,
    referrer_url,
    utm_source,
    browser_version,
    os_version
FROM visits
WHERE events > 0
