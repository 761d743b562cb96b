"""Realistic synthetic traffic: CloudFront real-time log lines as a busy site produces them.

One generator feeds the demo (`ownstats demo`), the benchmarks and the end-to-end
tests, so all three exercise the same mix: real browser and bot user agents, search,
social and AI referrers, UTM campaigns, countries with their edge locations, visits
of several pages with engagement and custom events, and a little junk.
"""

from __future__ import annotations

import functools
import json
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from stream_processor.logline import format_line, logged_request

BROWSERS: tuple[tuple[str, float], ...] = (
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        30,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        12,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        8,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        16,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        12,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        4,
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 5),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 4),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        6,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        3,
    ),
)
BOTS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.32.3",
)
_FACEBOOK_AD = {"us": "facebook", "um": "paid_social", "uc": "launch"}
# (referrer, utm params, weight)
ARRIVALS: tuple[tuple[str, dict[str, str], float], ...] = (
    ("", {}, 30),
    ("https://www.google.com/", {}, 25),
    ("https://www.bing.com/", {}, 3),
    ("https://duckduckgo.com/", {}, 3),
    ("https://news.ycombinator.com/item?id=42000000", {}, 6),
    ("https://t.co/abc123", {}, 4),
    ("https://www.reddit.com/r/programming/comments/x", {}, 4),
    ("https://chatgpt.com/", {}, 3),
    ("https://www.perplexity.ai/search", {}, 1),
    ("https://github.com/ownstats/ownstats", {}, 3),
    ("https://blog.example.org/links", {}, 3),
    ("", {"us": "newsletter", "um": "email", "uc": "november-digest"}, 5),
    ("https://www.google.com/", {"us": "google", "um": "cpc", "uc": "brand", "ut": "analytics"}, 4),
    ("https://www.facebook.com/", {**_FACEBOOK_AD, "un": "video-ad"}, 1),
    ("https://www.facebook.com/", {**_FACEBOOK_AD, "un": "carousel"}, 1),
    ("https://www.linkedin.com/", {}, 2),
)
# (country, edge location, time zone, language, weight)
GEOS: tuple[tuple[str, str, str, str, float], ...] = (
    ("US", "IAD89-C1", "America/New_York", "en-US", 28),
    ("US", "SFO53-P2", "America/Los_Angeles", "en-US", 10),
    ("DE", "FRA56-P4", "Europe/Berlin", "de-DE", 12),
    ("GB", "LHR61-P1", "Europe/London", "en-GB", 9),
    ("FR", "CDG52-P3", "Europe/Paris", "fr-FR", 6),
    ("IN", "BOM78-P1", "Asia/Kolkata", "en-IN", 7),
    ("JP", "NRT57-P2", "Asia/Tokyo", "ja-JP", 5),
    ("BR", "GRU3-C1", "America/Sao_Paulo", "pt-BR", 5),
    ("CA", "YTO50-C1", "America/Toronto", "en-CA", 4),
    ("AU", "SYD62-P1", "Australia/Sydney", "en-AU", 4),
    ("NL", "AMS58-P4", "Europe/Amsterdam", "nl-NL", 4),
    ("SE", "ARN56-P1", "Europe/Stockholm", "sv-SE", 2),
)
PAGES: tuple[tuple[str, float], ...] = (
    ("/", 30),
    ("/pricing", 10),
    ("/docs", 10),
    ("/docs/getting-started", 8),
    ("/docs/api", 5),
    ("/blog", 8),
    ("/blog/privacy-first-analytics", 9),
    ("/blog/athena-partition-projection", 5),
    ("/about", 4),
    ("/contact", 3),
    ("/signup", 4),
)
# a second site is a blog: its own pages, and readers from news sites, social and feeds
BLOG_PAGES: tuple[tuple[str, float], ...] = (
    ("/", 18),
    ("/posts/why-we-self-host-analytics", 16),
    ("/posts/cloudfront-real-time-logs-in-practice", 12),
    ("/posts/duckdb-on-a-laptop", 10),
    ("/posts/counting-visitors-without-cookies", 9),
    ("/posts/partition-projection-explained", 6),
    ("/archive", 5),
    ("/tags/aws", 4),
    ("/tags/privacy", 4),
    ("/about", 3),
)
BLOG_ARRIVALS: tuple[tuple[str, dict[str, str], float], ...] = (
    ("", {}, 20),
    ("https://news.ycombinator.com/item?id=42000001", {}, 18),
    ("https://www.reddit.com/r/dataengineering/comments/y", {}, 10),
    ("https://lobste.rs/s/abc123", {}, 5),
    ("https://mastodon.social/@someone/1", {}, 5),
    ("https://t.co/xyz789", {}, 6),
    ("https://www.google.com/", {}, 14),
    ("https://duckduckgo.com/", {}, 4),
    ("https://feedly.com/i/subscription", {}, 4),
    ("https://www.perplexity.ai/search", {}, 2),
    ("https://example.com/", {}, 6),
    ("", {"us": "weekly-digest", "um": "email", "uc": "issue-48"}, 6),
)


@dataclass(frozen=True)
class Site:
    """What one generated site looks like: its pages, where its visitors come from, and
    its share of the traffic."""

    pages: tuple[tuple[str, float], ...]
    arrivals: tuple[tuple[str, dict[str, str], float], ...]
    weight: float


#: the first domain is the main site (a product), every other one a blog
MAIN_SITE = Site(PAGES, ARRIVALS, 3.0)
BLOG_SITE = Site(BLOG_PAGES, BLOG_ARRIVALS, 1.0)

SCREENS = (
    (1920, 1080, 1903),
    (1536, 864, 1519),
    (2560, 1440, 2543),
    (390, 844, 390),
    (412, 915, 412),
    (1440, 900, 1425),
    (820, 1180, 820),
)


def _pick(rng: random.Random, items: tuple[tuple, ...]) -> tuple:
    return rng.choices(items, weights=[item[-1] for item in items])[0]


@dataclass
class Hit:
    """One request as the collector sees it, before it becomes a log line."""

    time_s: float
    ip: str
    user_agent: str
    query: dict[str, str]
    country: str
    edge_location: str
    stem: str = "/hello.gif"
    method: str = "GET"
    request_id: str = ""

    def record(self) -> dict[str, str]:
        """The real-time log record CloudFront writes for this request, byte for byte."""
        # what hello.js sends: URLSearchParams (form encoding), and the default
        # Referrer-Policy's origin-only Referer of a cross-origin fetch
        target = f"{self.stem}?{urlencode(self.query)}" if self.query else self.stem
        page = urlsplit(self.query.get("u", ""))
        referer = f"{page.scheme}://{page.netloc}/" if page.netloc else ""
        return {
            "timestamp": f"{self.time_s:.3f}",
            "c-ip": self.ip,
            "sc-status": "200",
            "cs-method": self.method,
            "x-edge-location": self.edge_location,
            "x-edge-request-id": self.request_id or uuid.uuid4().hex,
            "x-host-header": "d1234abcd.cloudfront.net",
            **logged_request(target, self.user_agent, referer),
            "x-edge-result-type": "Hit",
            "c-country": self.country,
            "asn": "64500",
        }

    def line(self) -> str:
        return format_line(self.record())


@dataclass(frozen=True)
class Visitor:
    """Who is visiting: what the processor hashes and enriches (never stored as such)."""

    user_agent: str
    ip: str
    country: str
    edge: str
    tz: str
    lang: str
    screen: tuple[int, int, int]


def new_visitor(rng: random.Random) -> Visitor:
    country, edge, tz, lang, _ = _pick(rng, GEOS)
    ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    return Visitor(_pick(rng, BROWSERS)[0], ip, country, edge, tz, lang, rng.choice(SCREENS))


def visit(
    rng: random.Random,
    domain: str,
    start_s: float,
    who: Visitor | None = None,
    site: Site = MAIN_SITE,
) -> list[Hit]:
    """One visit: 1-6 page views with engagement, sometimes a custom event."""
    who = who or new_visitor(rng)
    user_agent, ip, country, edge = who.user_agent, who.ip, who.country, who.edge
    tz, lang, (sw, sh, vw) = who.tz, who.lang, who.screen
    referrer, utm, _ = _pick(rng, site.arrivals)
    base = {"v": "1", "w": str(vw), "sw": str(sw), "sh": str(sh), "l": lang, "tz": tz}
    hits: list[Hit] = []
    now = start_s
    pages = 1 if rng.random() < 0.45 else rng.randint(2, 6)
    for i in range(pages):
        path = _pick(rng, site.pages)[0] if i else rng.choice(("/", "/", _pick(rng, site.pages)[0]))
        page_id = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
        query = {**base, "t": "pv", "u": f"https://{domain}{path}", "id": page_id}
        if i == 0:
            query.update(utm)
            if referrer:
                query["r"] = referrer
        hits.append(Hit(now, ip, user_agent, query, country, edge))
        dwell = rng.expovariate(1 / 45.0)
        if rng.random() < 0.12:
            name, props = rng.choice(
                (
                    ("Signup", {"plan": rng.choice(("free", "pro", "team"))}),
                    ("Outbound Link: Click", {"url": "https://github.com/ownstats/ownstats"}),
                    ("File Download", {"url": f"https://{domain}/whitepaper.pdf"}),
                )
            )
            hits.append(
                Hit(
                    now + dwell / 2,
                    ip,
                    user_agent,
                    {
                        **base,
                        "t": "ev",
                        "u": f"https://{domain}{path}",
                        "id": page_id,
                        "n": name,
                        "p": json.dumps(props),
                    },
                    country,
                    edge,
                )
            )
        if pages > 1 or rng.random() < 0.6:
            hits.append(
                Hit(
                    now + dwell,
                    ip,
                    user_agent,
                    {
                        **base,
                        "t": "en",
                        "u": f"https://{domain}{path}",
                        "id": page_id,
                        "e": str(int(dwell * 1000)),
                        "sd": str(rng.randint(10, 100)),
                    },
                    country,
                    edge,
                )
            )
        now += dwell + rng.uniform(1, 5)
    return hits


def noise(rng: random.Random, domain: str, time_s: float) -> Hit:
    """A hit that must be rejected: a bot, a foreign site, hello.js itself, or garbage."""
    country, edge, *_ = _pick(rng, GEOS)
    kind = rng.random()
    if kind < 0.6:
        return Hit(
            time_s,
            "198.51.100.7",
            rng.choice(BOTS),
            {"v": "1", "t": "pv", "u": f"https://{domain}/"},
            country,
            edge,
        )
    if kind < 0.75:
        return Hit(
            time_s,
            "198.51.100.8",
            BROWSERS[0][0],
            {"v": "1", "t": "pv", "u": "https://copycat.example.net/"},
            country,
            edge,
        )
    if kind < 0.9:
        return Hit(time_s, "198.51.100.9", BROWSERS[0][0], {}, country, edge, stem="/hello.js")
    return Hit(time_s, "198.51.100.10", BROWSERS[0][0], {"v": "1", "t": "zz"}, country, edge)


#: the rhythm of generated traffic, one definition for the history and the demo's live
#: visits: a share of the visits gathers around a (UTC) afternoon peak, and weekends
#: see fewer visits than weekdays
AFTERNOON_SHARE = 0.3
AFTERNOON_PEAK_S = 15 * 3600
AFTERNOON_SPREAD_S = 3 * 3600
WEEKEND_FACTOR = 0.7
_DAY_S = 86400


def _weekday_factor(t: float) -> float:
    # 1970-01-01 was a Thursday: day 2 and 3 of each week counted from it are Sat/Sun
    return WEEKEND_FACTOR if int(t // _DAY_S + 3) % 7 >= 5 else 1.0


def visit_start(rng: random.Random, start_s: float, span: float) -> float:
    """A visit's start: uniform over the span, a share pulled to the afternoon peak,
    weekend days thinned (rejection keeps the count of visits)."""
    while True:
        t = start_s + rng.random() * span
        if rng.random() < AFTERNOON_SHARE:
            day = start_s + (t - start_s) // _DAY_S * _DAY_S
            t = day + rng.gauss(AFTERNOON_PEAK_S, AFTERNOON_SPREAD_S) % _DAY_S
        if rng.random() < _weekday_factor(t):
            return t


def rate_at(visits_per_day: float, t: float) -> float:
    """Visits per second at ``t`` in traffic of ``visits_per_day`` on an average weekday
    of the history (``hits``): the same afternoon curve and weekend dip, so live visits
    continue the history's rate and shape."""
    second = t % _DAY_S
    density = (1 - AFTERNOON_SHARE) / _DAY_S
    for shift in (-_DAY_S, 0.0, _DAY_S):  # the curve wraps around midnight
        z = (second - AFTERNOON_PEAK_S + shift) / AFTERNOON_SPREAD_S
        density += (
            AFTERNOON_SHARE * math.exp(-z * z / 2) / (AFTERNOON_SPREAD_S * math.sqrt(2 * math.pi))
        )
    # hits() spreads `visits` over all days; weekdays carry more than weekends
    mean_factor = (5 + 2 * WEEKEND_FACTOR) / 7
    return visits_per_day * density * _weekday_factor(t) / mean_factor


@functools.cache
def _peak_rate(visits_per_day: float) -> float:
    """The highest rate of a weekday (day 0 of the epoch was a Thursday), with a margin:
    the same for every visit, so worked out once per traffic level."""
    return 1.01 * max(rate_at(visits_per_day, h * 600.0) for h in range(144))


def next_visit_time(rng: random.Random, visits_per_day: float, t: float) -> float:
    """The start of the next visit after ``t`` in traffic of ``visits_per_day``
    (a Poisson process thinned to ``rate_at``)."""
    peak = _peak_rate(visits_per_day)
    while True:
        t += rng.expovariate(peak)
        if rng.random() * peak <= rate_at(visits_per_day, t):
            return t


def hits(
    domains: tuple[str, ...] | list[str],
    start_s: float,
    end_s: float,
    visits: int,
    *,
    seed: int = 1,
    noise_share: float = 0.05,
) -> Iterator[Hit]:
    """``visits`` visits spread over [start_s, end_s) with a daily rhythm, plus noise."""
    rng = random.Random(seed)
    span = max(end_s - start_s, 1.0)
    sites = [MAIN_SITE] + [BLOG_SITE] * (len(domains) - 1)
    weights = [site.weight for site in sites]
    regulars: list[Visitor] = []  # a quarter of visits come from people seen before
    for _ in range(visits):
        # a visit the afternoon peak would put after the end (today's afternoon, in the
        # demo's history) is drawn again: clamped to the end, they piled up at "now" as
        # one-page visits (today showed +42 % visitors and +30 pp bounce rate)
        t = visit_start(rng, start_s, span)
        while t >= end_s:
            t = visit_start(rng, start_s, span)
        (index,) = rng.choices(range(len(domains)), weights)
        domain = domains[index]
        if regulars and rng.random() < 0.25:
            who = rng.choice(regulars)
        else:
            who = new_visitor(rng)
            regulars.append(who)
            if len(regulars) > 200:
                regulars.pop(0)
        batch = visit(rng, domain, t, who, sites[index])
        if rng.random() < noise_share:
            batch.append(noise(rng, domain, t))
        for hit in batch:
            if hit.time_s < end_s:
                hit.request_id = f"{rng.getrandbits(96):024x}"
                yield hit


def lines(
    domains: tuple[str, ...] | list[str],
    start_s: float,
    end_s: float,
    visits: int,
    *,
    seed: int = 1,
    noise_share: float = 0.05,
) -> Iterator[str]:
    """The same traffic as CloudFront real-time log lines."""
    for hit in hits(domains, start_s, end_s, visits, seed=seed, noise_share=noise_share):
        yield hit.line()
