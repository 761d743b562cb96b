"""Where a visit came from: the ``source`` and GA4-style ``channel`` of an event.

source = utm_source > ``ref``/``source`` parameter > known referrer name > referrer
host > ``Direct / None``. Channel rules follow Google Analytics 4's default channel
grouping (https://support.google.com/analytics/answer/9756891), plus an
"AI Assistants" channel for chat assistants that now send real traffic.
"""

from __future__ import annotations

import re
from functools import lru_cache

DIRECT = "Direct / None"

# host suffix → (source name, category). Categories drive the channel rules.
# Suffix match on whole labels: "google.de" matches "www.google.de", never "notgoogle.de".
KNOWN_REFERRERS: dict[str, tuple[str, str]] = {
    # search engines
    "google.com": ("Google", "search"),
    "bing.com": ("Bing", "search"),
    "duckduckgo.com": ("DuckDuckGo", "search"),
    "search.yahoo.com": ("Yahoo!", "search"),
    "yahoo.com": ("Yahoo!", "search"),
    "yandex.ru": ("Yandex", "search"),
    "yandex.com": ("Yandex", "search"),
    "baidu.com": ("Baidu", "search"),
    "ecosia.org": ("Ecosia", "search"),
    "search.brave.com": ("Brave Search", "search"),
    "startpage.com": ("Startpage", "search"),
    "qwant.com": ("Qwant", "search"),
    "naver.com": ("Naver", "search"),
    "seznam.cz": ("Seznam", "search"),
    "kagi.com": ("Kagi", "search"),
    "search.aol.com": ("AOL", "search"),
    "so.com": ("360 Search", "search"),
    "sogou.com": ("Sogou", "search"),
    # AI assistants (before their parents: gemini.google.com is not Google search)
    "chatgpt.com": ("ChatGPT", "ai"),
    "chat.openai.com": ("ChatGPT", "ai"),
    "perplexity.ai": ("Perplexity", "ai"),
    "claude.ai": ("Claude", "ai"),
    "gemini.google.com": ("Gemini", "ai"),
    "bard.google.com": ("Gemini", "ai"),
    "copilot.microsoft.com": ("Microsoft Copilot", "ai"),
    "you.com": ("You.com", "ai"),
    "phind.com": ("Phind", "ai"),
    "chat.deepseek.com": ("DeepSeek", "ai"),
    "chat.mistral.ai": ("Mistral Le Chat", "ai"),
    "meta.ai": ("Meta AI", "ai"),
    "grok.com": ("Grok", "ai"),
    # social
    "facebook.com": ("Facebook", "social"),
    "fb.com": ("Facebook", "social"),
    "instagram.com": ("Instagram", "social"),
    "t.co": ("Twitter", "social"),
    "twitter.com": ("Twitter", "social"),
    "x.com": ("Twitter", "social"),
    "linkedin.com": ("LinkedIn", "social"),
    "lnkd.in": ("LinkedIn", "social"),
    "reddit.com": ("Reddit", "social"),
    "news.ycombinator.com": ("Hacker News", "social"),
    "pinterest.com": ("Pinterest", "social"),
    "tiktok.com": ("TikTok", "social"),
    "bsky.app": ("Bluesky", "social"),
    "mastodon.social": ("Mastodon", "social"),
    "threads.net": ("Threads", "social"),
    "vk.com": ("VKontakte", "social"),
    "lobste.rs": ("Lobsters", "social"),
    "quora.com": ("Quora", "social"),
    "discord.com": ("Discord", "social"),
    "slack.com": ("Slack", "social"),
    "t.me": ("Telegram", "social"),
    "web.whatsapp.com": ("WhatsApp", "social"),
    "stackoverflow.com": ("Stack Overflow", "social"),
    "github.com": ("GitHub", "social"),
    "producthunt.com": ("Product Hunt", "social"),
    "dev.to": ("DEV", "social"),
    "medium.com": ("Medium", "social"),
    # video
    "youtube.com": ("YouTube", "video"),
    "youtu.be": ("YouTube", "video"),
    "vimeo.com": ("Vimeo", "video"),
    "twitch.tv": ("Twitch", "video"),
    # email (webmail)
    "mail.google.com": ("Gmail", "email"),
    "outlook.live.com": ("Outlook", "email"),
    "outlook.office.com": ("Outlook", "email"),
    "mail.yahoo.com": ("Yahoo! Mail", "email"),
    "mail.proton.me": ("Proton Mail", "email"),
    # shopping
    "amazon.com": ("Amazon", "shopping"),
    "ebay.com": ("eBay", "shopping"),
    "etsy.com": ("Etsy", "shopping"),
    "shopping.google.com": ("Google Shopping", "shopping"),
}

# national variants of the big search engines: google.de, google.co.uk, bing.co.jp …
_NATIONAL = re.compile(r"(?:^|\.)(google|bing|yahoo|yandex|amazon|ebay)\.(?:com?\.)?[a-z]{2,3}$")
_NATIONAL_NAMES = {
    "google": ("Google", "search"),
    "bing": ("Bing", "search"),
    "yahoo": ("Yahoo!", "search"),
    "yandex": ("Yandex", "search"),
    "amazon": ("Amazon", "shopping"),
    "ebay": ("eBay", "shopping"),
}
# utm_source values people type for the same places
_SOURCE_ALIASES: dict[str, tuple[str, str]] = {
    "google": ("Google", "search"),
    "bing": ("Bing", "search"),
    "duckduckgo": ("DuckDuckGo", "search"),
    "facebook": ("Facebook", "social"),
    "fb": ("Facebook", "social"),
    "ig": ("Instagram", "social"),
    "instagram": ("Instagram", "social"),
    "twitter": ("Twitter", "social"),
    "x": ("Twitter", "social"),
    "linkedin": ("LinkedIn", "social"),
    "reddit": ("Reddit", "social"),
    "hackernews": ("Hacker News", "social"),
    "hn": ("Hacker News", "social"),
    "youtube": ("YouTube", "video"),
    "tiktok": ("TikTok", "social"),
    "pinterest": ("Pinterest", "social"),
    "bluesky": ("Bluesky", "social"),
    "mastodon": ("Mastodon", "social"),
    "newsletter": ("Newsletter", "email"),
    "chatgpt": ("ChatGPT", "ai"),
    "chatgpt.com": ("ChatGPT", "ai"),
    "openai": ("ChatGPT", "ai"),
    "perplexity": ("Perplexity", "ai"),
    "claude": ("Claude", "ai"),
    "gemini": ("Gemini", "ai"),
    "copilot": ("Microsoft Copilot", "ai"),
}

_PAID = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
_DISPLAY = re.compile(r"^(display|banner|expandable|interstitial|cpm)$")
_SOCIAL_MEDIUM = re.compile(
    r"^(social|social-network|social-media|sm|social network|social media)$"
)
_EMAIL = re.compile(r"e[-_ ]?mail")
_SHOPPING_CAMPAIGN = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$")


@lru_cache(maxsize=16384)
def known_referrer(host: str) -> tuple[str, str] | None:
    """(name, category) of a referrer host, by label-wise suffix, or None."""
    labels = host.split(".")
    for i in range(len(labels) - 1):
        hit = KNOWN_REFERRERS.get(".".join(labels[i:]))
        if hit:
            return hit
    match = _NATIONAL.search(host)
    return _NATIONAL_NAMES[match.group(1)] if match else None


def _category_of_source(source: str) -> str | None:
    lowered = source.lower()
    hit = _SOURCE_ALIASES.get(lowered) or known_referrer(lowered)
    return hit[1] if hit else None


def source_of(
    utm_source: str | None, ref: str | None, referrer_host: str | None
) -> tuple[str, str | None]:
    """(source, category) by precedence: utm_source > ref > known referrer > host > Direct."""
    for tagged in (utm_source, ref):
        if tagged:
            hit = _SOURCE_ALIASES.get(tagged.lower())
            if hit:
                return hit
            return tagged, _category_of_source(tagged)
    if referrer_host:
        hit = known_referrer(referrer_host)
        if hit:
            return hit
        return referrer_host, None
    return DIRECT, None


@lru_cache(maxsize=16384)
def channel_of(source: str, category: str | None, medium: str | None, campaign: str | None) -> str:
    """GA4's default channel group for one (source, medium, campaign)."""
    medium = (medium or "").lower()
    campaign = (campaign or "").lower()
    if source == DIRECT and not medium:
        return "Direct"
    if "cross-network" in campaign:
        return "Cross-network"
    paid = bool(_PAID.match(medium))
    if category == "ai":
        return "AI Assistants"
    if category == "shopping" or _SHOPPING_CAMPAIGN.match(campaign):
        return "Paid Shopping" if paid else "Organic Shopping"
    if category == "search" and paid:
        return "Paid Search"
    if category == "social" and paid:
        return "Paid Social"
    if category == "video" and paid:
        return "Paid Video"
    if _DISPLAY.match(medium):
        return "Display"
    if paid:
        return "Paid Other"
    if category == "search" or medium == "organic":
        return "Organic Search"
    if category == "social" or _SOCIAL_MEDIUM.match(medium):
        return "Organic Social"
    if category == "video" or "video" in medium:
        return "Organic Video"
    if category == "email" or _EMAIL.search(medium) or _EMAIL.search(source.lower()):
        return "Email"
    if medium == "affiliate":
        return "Affiliates"
    if medium == "referral" or (not medium and source != DIRECT):
        return "Referral"
    if medium in ("audio",):
        return "Audio"
    if medium in ("sms",):
        return "SMS"
    if medium.endswith("push") or "mobile" in medium or "notification" in medium:
        return "Mobile Push Notifications"
    return "Unassigned"
