"""Enrichment against real user agents and referrers: what a site owner will see."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from factories import beacon_query

from stream_processor import geo, sources
from stream_processor.schema import ALL_COLUMN_NAMES
from stream_processor.useragent import classify

Run = Callable[..., dict[str, Any]]

BROWSERS = [
    # (user agent, browser, major, os, device)
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Chrome",
        "131",
        "Windows",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        "Safari",
        "18",
        "Mac OS X",
        "desktop",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        "Mobile Safari",
        "17",
        "iOS",
        "mobile",
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "Mobile Safari",
        "17",
        "iOS",
        "tablet",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile",
        "131",
        "Android",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Chrome",
        "131",
        "Android",
        "tablet",
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        "Samsung Internet",
        "26",
        "Android",
        "mobile",
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox",
        "133",
        "Linux",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        "Edge",
        "131",
        "Windows",
        "desktop",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
        "Chrome Mobile iOS",
        "131",
        "iOS",
        "mobile",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
        "Opera",
        "115",
        "Windows",
        "desktop",
    ),
]

BOTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.32.3",
    "Python-urllib/3.11",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "axios/1.7.7",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "Java/17.0.2",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "",
    "-",
]


@pytest.mark.parametrize(("ua", "browser", "major", "os", "device"), BROWSERS)
def test_real_browsers(ua: str, browser: str, major: str, os: str, device: str) -> None:
    info = classify(ua)
    assert info is not None, "a real browser was taken for a bot"
    assert (info.browser_name, info.browser_version, info.os_name, info.device_type) == (
        browser,
        major,
        os,
        device,
    )


@pytest.mark.parametrize("ua", BOTS)
def test_real_bots(ua: str) -> None:
    assert classify(ua) is None


REFERRERS = [
    # (r, utm, expected source, expected channel)
    ("", {}, "Direct / None", "Direct"),
    ("https://www.google.com/", {}, "Google", "Organic Search"),
    ("https://www.google.co.uk/", {}, "Google", "Organic Search"),
    ("https://www.bing.com/search?q=x", {}, "Bing", "Organic Search"),
    ("https://duckduckgo.com/", {}, "DuckDuckGo", "Organic Search"),
    ("https://news.ycombinator.com/item?id=1", {}, "Hacker News", "Organic Social"),
    ("https://t.co/abc", {}, "Twitter", "Organic Social"),
    ("https://old.reddit.com/r/x", {}, "Reddit", "Organic Social"),
    ("https://l.facebook.com/", {}, "Facebook", "Organic Social"),
    ("https://www.youtube.com/watch", {}, "YouTube", "Organic Video"),
    ("https://chatgpt.com/", {}, "ChatGPT", "AI Assistants"),
    ("https://www.perplexity.ai/search/x", {}, "Perplexity", "AI Assistants"),
    ("https://gemini.google.com/app", {}, "Gemini", "AI Assistants"),
    ("https://claude.ai/chat/1", {}, "Claude", "AI Assistants"),
    ("https://mail.google.com/", {}, "Gmail", "Email"),
    ("https://blog.other.org/post?x=1", {}, "blog.other.org", "Referral"),
    ("https://www.notgoogle.com/", {}, "notgoogle.com", "Referral"),
    ("https://example.com/pricing", {}, "Direct / None", "Direct"),  # same site
    ("https://docs.example.com/", {}, "Direct / None", "Direct"),  # same site, subdomain
    ("", {"us": "newsletter", "um": "email", "uc": "nov"}, "Newsletter", "Email"),
    ("https://www.google.com/", {"us": "google", "um": "cpc"}, "Google", "Paid Search"),
    ("", {"us": "facebook", "um": "paid_social"}, "Facebook", "Paid Social"),
    ("", {"us": "partner", "um": "affiliate"}, "partner", "Affiliates"),
    ("", {"us": "adnet", "um": "display"}, "adnet", "Display"),
    ("", {"us": "chatgpt.com"}, "ChatGPT", "AI Assistants"),
    ("https://www.google.com/", {"s": "producthunt"}, "Product Hunt", "Organic Social"),
    ("https://www.google.com/", {"s": "my-partner"}, "my-partner", "Referral"),
    ("", {"us": "x", "uc": "cross-network-q4"}, "Twitter", "Cross-network"),
    # webmail is Email, whatever GA4's list files it under
    ("https://mail.yandex.ru/", {}, "Yandex Mail", "Email"),
    ("https://mail.yahoo.co.uk/", {}, "Yahoo! Mail", "Email"),
    ("https://inbox.google.com/", {}, "Gmail", "Email"),
    ("https://webmail.example.net/", {}, "webmail.example.net", "Email"),
    # a search engine's other products are referrals, not search
    ("https://maps.google.com/", {}, "Google Maps", "Referral"),
    ("https://drive.google.com/drive/u/0", {}, "Google Drive", "Referral"),
    ("https://news.yahoo.com/", {}, "Yahoo! News", "Referral"),
    ("https://www.google.de/", {}, "Google", "Organic Search"),
    ("https://de.search.yahoo.com/", {}, "Yahoo!", "Organic Search"),
    # GA4's list and sites it predates
    ("https://www.pinterest.pt/", {}, "Pinterest", "Organic Social"),
    ("https://www.snapchat.com/", {}, "Snapchat", "Organic Social"),
    ("https://bsky.app/profile/x", {}, "Bluesky", "Organic Social"),
    ("https://poe.com/", {}, "Poe", "AI Assistants"),
    ("https://character.ai/", {}, "Character.AI", "AI Assistants"),
    # a bare utm_source is looked up like a host
    ("", {"us": "baidu"}, "Baidu", "Organic Search"),
    ("", {"us": "naver"}, "Naver", "Organic Search"),
    ("", {"us": "amazon"}, "Amazon", "Organic Shopping"),
    ("", {"us": "vimeo"}, "Vimeo", "Organic Video"),
    ("", {"us": "IG"}, "Instagram", "Organic Social"),
    ("", {"us": "reddit.com"}, "Reddit", "Organic Social"),
    # Plausible's paid tags are paid whatever the medium
    ("", {"us": "fb-ads"}, "Facebook", "Paid Social"),
    ("", {"us": "adwords"}, "Google", "Paid Search"),
    ("", {"us": "yt-ads", "um": "video"}, "YouTube", "Paid Video"),
]


@pytest.mark.parametrize(("r", "utm", "source", "channel"), REFERRERS)
def test_sources_and_channels(
    one_event: Run, r: str, utm: dict[str, str], source: str, channel: str
) -> None:
    event = one_event(beacon_query(r=r or None, **utm))
    assert (event["source"], event["channel"]) == (source, channel)


def test_referrer_is_stripped_to_origin_and_path(one_event: Run) -> None:
    event = one_event(beacon_query(r="https://www.Blog.other.org/a/b?utm=1&secret=2#frag"))
    assert event["referrer_url"] == "https://blog.other.org/a/b"
    assert event["referrer_domain"] == "blog.other.org"


def test_same_site_referrer_is_null(one_event: Run) -> None:
    event = one_event(beacon_query(r="https://www.example.com/previous"))
    assert event["referrer_url"] is None and event["referrer_domain"] is None


def test_utm_and_screen_and_locale(one_event: Run) -> None:
    event = one_event(
        beacon_query(
            us="news",
            um="email",
            uc="launch",
            ut="analytics",
            un="header",
            w="1280",
            sw="1920",
            sh="1080",
            l="de-DE",
            tz="Europe/Berlin",
        )
    )
    assert [
        event[k] for k in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
    ] == ["news", "email", "launch", "analytics", "header"]
    assert (event["viewport_width"], event["screen_width"], event["screen_height"]) == (
        1280,
        1920,
        1080,
    )
    assert (event["language"], event["timezone"]) == ("de-DE", "Europe/Berlin")


def test_bad_numbers_become_null_or_clamped(one_event: Run) -> None:
    event = one_event(beacon_query(w="wide", sw="-5", sh="99999999", t="en", e="1e3", sd="250"))
    assert event["viewport_width"] is None
    assert event["screen_width"] == 0
    assert event["screen_height"] == 100_000
    assert event["engagement_ms"] == 1000
    assert event["scroll_depth"] == 100


def test_country_from_cloudfront_then_time_zone(one_event: Run) -> None:
    assert one_event(c_country="fr")["country_code"] == "FR"
    assert one_event(beacon_query(tz="Asia/Tokyo"), c_country="-")["country_code"] == "JP"
    assert one_event(beacon_query(tz="Asia/Calcutta"), c_country="-")["country_code"] == "IN"
    assert one_event(beacon_query(tz="Mars/Olympus"), c_country="-")["country_code"] is None


@pytest.mark.parametrize(
    ("code", "city", "country"),
    [
        ("FRA56-P4", "Frankfurt am Main", "DE"),
        ("IAD89-C1", "Washington", "US"),
        ("NRT57-P2", "Tokyo", "JP"),
        ("SYD62-P1", "Sydney", "AU"),
    ],
)
def test_edge_location_to_city(code: str, city: str, country: str) -> None:
    edge = geo.edge(code)
    assert edge is not None
    assert (edge.city, edge.country) == (city, country)
    assert edge.latitude is not None and edge.longitude is not None


def test_unknown_edge_keeps_the_code() -> None:
    edge = geo.edge("ZZZ9-P1")
    assert edge is not None and edge.location == "ZZZ9-P1" and edge.city is None


def test_event_has_exactly_the_schema_columns(one_event: Run) -> None:
    event = one_event()
    assert tuple(event) == ALL_COLUMN_NAMES
    assert event["event_date"] == "2024-11-28"
    assert event["event_time"] == 1732800000123
    assert event["domain_name"] == "example.com"
    assert len(event["visitor_id"]) == 16


def test_custom_event_fields(one_event: Run) -> None:
    event = one_event(
        beacon_query(t="ev", n="Outbound Link: Click", p=json.dumps({"url": "https://github.com/"}))
    )
    assert event["event_type"] == "event"
    assert event["event_name"] == "Outbound Link: Click"
    assert event["props"] == {"url": "https://github.com/"}


def test_user_agent_is_url_decoded_before_parsing(one_event: Run) -> None:
    ua = BROWSERS[2][0]
    assert one_event(cs_user_agent=quote(ua, safe=""))["device_type"] == "mobile"


def test_known_referrer_matches_on_label_boundaries() -> None:
    assert sources.known_referrer("google.com") == ("Google", "search")
    assert sources.known_referrer("mygoogle.com") is None
    assert sources.known_referrer("google.com.evil.test") is None
    assert sources.known_referrer("l.facebook.com") == ("Facebook", "social")
    assert sources.known_referrer("facebook.com.evil.test") is None


def test_edge_locations_named_by_a_metropolitan_code_have_a_city() -> None:
    """CloudFront names some locations by IATA's city code, not an airport's: YTO50-C1 is
    Toronto (it had no city: airportsdata lists airports only)."""
    from stream_processor.geo import METRO_AREAS, edge

    toronto = edge("YTO50-C1")
    assert toronto is not None and (toronto.city, toronto.country) == ("Toronto", "CA")
    assert toronto.latitude == pytest.approx(43.68, abs=0.1)
    for code, (_airport, city) in METRO_AREAS.items():
        found = edge(f"{code}1-C1")
        assert found is not None and found.city == city and found.country, code
    assert edge("FRA56-P4").city == "Frankfurt am Main"  # type: ignore[union-attr]


def test_airports_are_airportsdatas_own() -> None:
    """geo reads airportsdata's CSV itself (twice as fast as ``load``): the same airports
    with the same city, country and coordinates, the last row of a code kept."""
    import airportsdata

    from stream_processor.geo import _airports

    loaded = airportsdata.load("IATA")
    assert _airports() == {
        code: (row["city"], row["country"], row["lat"], row["lon"]) for code, row in loaded.items()
    }
