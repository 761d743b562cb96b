"""Where a visit came from: the ``source`` and GA4-style ``channel`` of an event.

source = utm_source > ``ref``/``source`` parameter > known referrer name > referrer
host > ``Direct / None``. A tagged value and a referrer host are looked up the same way
(``utm_source=baidu`` is Baidu, search, like a link from baidu.com). What is known comes
from referrers.py: Google Analytics 4's source-category list, Plausible's names, paid
tags and custom sources, webmail, AI assistants, Android apps, and Matomo's maintained
search/social/AI list (vendored data) for hosts GA4's lacks. Channel rules follow GA4's default
channel group (https://support.google.com/analytics/answer/9756891) in Plausible's order,
with its "AI Assistants" channel and webmail counted as Email.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .referrers import (
    AI,
    ANDROID_APPS,
    EMAIL,
    GA4_SOURCES,
    LIST_SOURCES,
    NAMES,
    NOT_SEARCH,
    OURS,
    PAID_SOURCES,
    SEARCH,
    SHOPPING,
    SOCIAL,
    VIDEO,
)

DIRECT = "Direct / None"
#: a category with this prefix was tagged paid by its utm_source (``fb-ads``, ``adwords``)
PAID = "paid-"

# brand label → (name, category) for national domains of sites the list names once:
# google.de, bing.co.jp, yandex.kz, amazon.fr, ebay.it, pinterest.at …
_NATIONAL = re.compile(
    r"^(google|bing|yahoo|yandex|baidu|naver|ecosia|qwant|ask|amazon|ebay|etsy|walmart|"
    r"mercadolibre|mercadolivre|aliexpress|pinterest|facebook|instagram|linkedin|reddit|"
    r"twitter|tiktok|youtube|vk|xing|tumblr|yelp|tripadvisor|rakuten)"
    r"\.(?:(?:com?|ne|or)\.)?[a-z]{2,3}$"
)
_NATIONAL_CATEGORY = {
    "google": SEARCH, "bing": SEARCH, "yahoo": SEARCH, "yandex": SEARCH, "baidu": SEARCH,
    "naver": SEARCH, "ecosia": SEARCH, "qwant": SEARCH, "ask": SEARCH, "rakuten": SEARCH,
    "amazon": SHOPPING, "ebay": SHOPPING, "etsy": SHOPPING, "walmart": SHOPPING,
    "mercadolibre": SHOPPING, "mercadolivre": SHOPPING, "aliexpress": SHOPPING,
    "youtube": VIDEO,
}  # fmt: skip
# search engines whose other subdomains are other products (maps.google.com, news.yahoo.com)
_SEARCH_BRANDS = frozenset(
    {
        "google",
        "bing",
        "yahoo",
        "yandex",
        "baidu",
        "naver",
        "seznam",
        "sogou",
        "so",
        "msn",
        "aol",
        "rambler",
        "daum",
        "onet",
        "rakuten",
    }
)
_SEARCH_LABELS = frozenset({"search", "m", "mobile", "images", "image", "img", "video", "wap"})
_WEBMAIL_LABELS = frozenset({"mail", "webmail", "email", "e-mail", "posteo", "inbox", "outlook"})
# numbered and product webmail labels: webmail2.bigpond.com, lightmailer.gmx.es,
# mailbusiness.ionos.de, webmailer.example, e-mail3.example
_WEBMAIL_LABEL = re.compile(r"^(?:web|e-?|light)?mail(?:er|box|business)?(?:-?\d+)?$")
_COUNTRY_SLD = frozenset({"co", "com", "ne", "or", "ac", "go", "gov", "net", "org", "edu"})
# labels before a two-letter country TLD that make a combined one (google.co.uk, .com.br)
_COMBINED_TLD = _COUNTRY_SLD | {"it"}
_HOSTLIKE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")

_PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
_DISPLAY = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
_SOCIAL_MEDIUM = frozenset(
    {"social", "social-network", "social-media", "sm", "social network", "social media"}
)
_EMAIL_TAGS = ("email", "e-mail", "e_mail", "e mail", "newsletter")
_SHOPPING_CAMPAIGN = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$")


def brand_label(host: str) -> str:
    """The registrable label of a host: ``pinterest`` for ``ar.pinterest.com.mx``."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _COUNTRY_SLD:
        return labels[-3]
    return labels[-2] if len(labels) >= 2 else labels[0]


def display_name(key: str) -> str:
    """The name a known source is shown under (Plausible's spelling where it has one)."""
    name = NAMES.get(key)
    if name is not None:
        return name
    label = brand_label(key) if "." in key else key
    name = NAMES.get(label)
    return name if name is not None else label[:1].upper() + label[1:]


def _known(key: str) -> tuple[str, str | None] | None:
    ours = OURS.get(key)
    if ours is not None:
        return ours[0], ours[1]
    category = GA4_SOURCES.get(key)
    if category is not None:
        return display_name(key), category
    return None


def listed(host: str) -> tuple[str, str | None] | None:
    """(name, category) of a host in Matomo's list, ``{}`` standing for a country.

    Tried in this order: the host, its first label as ``{}`` (``de.search.yahoo.com`` →
    ``{}.search.yahoo.com``), its country TLD as ``{}`` (``news.google.co.uk`` →
    ``news.google.{}``), both. Four dict look-ups; only two-letter labels are countries.
    """
    hit = LIST_SOURCES.get(host)
    if hit is not None:
        return hit
    labels = host.split(".")
    if len(labels) < 2:
        return None
    wild_first = len(labels) > 2 and len(labels[0]) == 2
    if wild_first:
        hit = LIST_SOURCES.get("{}." + host[3:])
        if hit is not None:
            return hit
    if len(labels[-1]) != 2:
        return None
    cut = 2 if len(labels) > 2 and labels[-2] in _COMBINED_TLD else 1
    stem = labels[:-cut]
    if not stem:
        return None
    hit = LIST_SOURCES.get(".".join(stem) + ".{}")
    if hit is None and wild_first and len(stem) > 1:
        hit = LIST_SOURCES.get("{}." + ".".join(stem[1:]) + ".{}")
    return hit


@lru_cache(maxsize=16384)
def known_referrer(host: str) -> tuple[str, str | None] | None:
    """(name, category) of a referrer host, or None when it is not a known one.

    Exact host first (ours and GA4's, then Android packages, webmail, Yahoo!'s country
    portals, national domains of known sites such as ``google.de``, Matomo's list), then
    the nearest listed parent on a label boundary (``l.facebook.com`` → facebook.com,
    never ``notgoogle.com``); below a search engine only its search hosts are search.
    """
    host = host.lower().rstrip(".")
    host = host[4:] if host.startswith("www.") else host
    hit = _known(host)
    if hit is not None:
        return hit
    named = NOT_SEARCH.get(host)
    if named is not None:
        return named, None
    app = ANDROID_APPS.get(host)  # android-app://com.google.android.gm arrives as its host
    if app is not None:
        return app
    labels = host.split(".")
    webmail = labels[0] in _WEBMAIL_LABELS or _WEBMAIL_LABEL.match(labels[0]) is not None
    if webmail and len(labels) > 2:  # mail.yahoo.co.uk, webmail2.bigpond.com
        brand = brand_label(host)
        known = brand in NAMES or brand in GA4_SOURCES
        return (f"{display_name(brand)} Mail" if known else host), EMAIL
    national = _NATIONAL.match(host)
    if national is not None:
        brand = national.group(1)
        return display_name(brand), _NATIONAL_CATEGORY.get(brand, SOCIAL)
    if len(labels) == 3 and len(labels[0]) == 2 and labels[1:] == ["yahoo", "com"]:
        return display_name("yahoo"), SEARCH  # de.yahoo.com: Yahoo!'s country portal search
    hit = listed(host)
    if hit is not None:
        return hit
    for i in range(1, len(labels) - 1):
        parent = ".".join(labels[i:])
        hit = _known(parent)
        if hit is None:
            national = _NATIONAL.match(parent)
            if national is not None:
                brand = national.group(1)
                hit = display_name(brand), _NATIONAL_CATEGORY.get(brand, SOCIAL)
            else:
                hit = listed(parent)
                if hit is None:
                    continue
        brand = brand_label(parent)
        if hit[1] == SEARCH and brand in _SEARCH_BRANDS and parent.startswith(brand + "."):
            if _SEARCH_LABELS.intersection(labels[:i]):  # search.yahoo.co.jp, m.baidu.com
                return hit
            return None  # another product of the search engine: a plain referral
        return hit
    return None


@lru_cache(maxsize=16384)
def _tagged(value: str) -> tuple[str, str | None]:
    lowered = value.strip().lower()
    paid = PAID_SOURCES.get(lowered)
    if paid is not None:
        return paid[0], PAID + paid[1]
    hit = _known(lowered)
    if hit is None and _HOSTLIKE.match(lowered):
        hit = known_referrer(lowered)
    if hit is None:
        for name, category in _BY_NAME.get(lowered, ()):
            hit = name, category
            break
    return hit if hit is not None else (value, None)


def _names_index() -> dict[str, list[tuple[str, str | None]]]:
    """Shown names, lower-cased → (name, category): ``utm_source=Hacker News`` works too."""
    index: dict[str, list[tuple[str, str | None]]] = {}
    for key, category in GA4_SOURCES.items():
        index.setdefault(display_name(key).lower(), []).append((display_name(key), category))
    for name, category, _why in OURS.values():
        index.setdefault(name.lower(), []).insert(0, (name, category))
    for name, category in LIST_SOURCES.values():  # after GA4's: its category wins
        index.setdefault(name.lower(), []).append((name, category))
    return index


_BY_NAME = _names_index()


def source_of(
    utm_source: str | None, ref: str | None, referrer_host: str | None
) -> tuple[str, str | None]:
    """(source, category) by precedence: utm_source > ref > known referrer > host > Direct."""
    for tagged in (utm_source, ref):
        if tagged and tagged.strip():
            return _tagged(tagged)
    if referrer_host:
        hit = known_referrer(referrer_host)
        if hit is not None:
            return hit
        return referrer_host, None
    return DIRECT, None


@lru_cache(maxsize=16384)
def channel_of(source: str, category: str | None, medium: str | None, campaign: str | None) -> str:
    """GA4's default channel group for one (source, medium, campaign), Plausible's order."""
    medium = (medium or "").lower()
    campaign = (campaign or "").lower()
    if source == DIRECT and not medium:
        return "Direct"
    tagged_paid = category is not None and category.startswith(PAID)
    if tagged_paid:
        category = category[len(PAID) :]  # type: ignore[index]
    paid = tagged_paid or bool(_PAID_MEDIUM.match(medium))
    if "cross-network" in campaign:
        return "Cross-network"
    shopping = category == SHOPPING or bool(_SHOPPING_CAMPAIGN.match(campaign))
    if shopping and paid:
        return "Paid Shopping"
    if paid and category == SEARCH:
        return "Paid Search"
    if paid and category == SOCIAL:
        return "Paid Social"
    if paid and category == VIDEO:
        return "Paid Video"
    if medium in _DISPLAY:
        return "Display"
    if paid:
        return "Paid Other"
    if shopping:
        return "Organic Shopping"
    if category == SOCIAL or medium in _SOCIAL_MEDIUM:
        return "Organic Social"
    if category == VIDEO or "video" in medium:
        return "Organic Video"
    if category == AI:
        return "AI Assistants"
    if category == SEARCH or medium == "organic":
        return "Organic Search"
    lowered = source.lower()
    if category == EMAIL or any(t in medium or t in lowered for t in _EMAIL_TAGS):
        return "Email"
    if medium == "affiliate":
        return "Affiliates"
    if medium in ("referral", "app", "link") or (not medium and source != DIRECT):
        return "Referral"
    if medium == "audio":
        return "Audio"
    if medium == "sms" or lowered == "sms":
        return "SMS"
    if medium.endswith("push") or "mobile" in medium or "notification" in medium:
        return "Mobile Push Notifications"
    if lowered == "firebase":
        return "Mobile Push Notifications"
    return "Unassigned"
