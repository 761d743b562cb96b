"""User agent → browser, OS, device type, or "this is a bot".

ua-parser (with its native ``ua-parser-rs`` accelerator when installed) does the
parsing; crawler-user-agents (a maintained pattern list) and ua-parser's ``Spider``
device family catch crawlers; a short list below catches the headless browsers and
HTTP clients that neither lists as a crawler. Real traffic repeats a few thousand
user agents, so the whole answer is cached per user-agent string.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import crawleruseragents
import ua_parser

# Automation and HTTP clients: not in crawler lists, never a person reading a page.
_NOT_A_PERSON = re.compile(
    r"HeadlessChrome|PhantomJS|Electron/.*Headless|Lighthouse|PageSpeed|"
    r"\bcurl/|\bWget/|python-requests|python-urllib|\bPython/|aiohttp|httpx|"
    r"Go-http-client|okhttp|axios/|node-fetch|undici|\bJava/|Apache-HttpClient|"
    r"libwww-perl|\bRuby\b|Scrapy|HttpClient|Postman|Insomnia|Playwright|Puppeteer|"
    r"Selenium|WebDriver|Cypress|\bbot\b|spider|crawler|preview",
    re.IGNORECASE,
)

_TABLET = re.compile(r"iPad|Tablet|Kindle|Silk/|PlayBook|Nexus (7|9|10)\b|SM-T\d|Tab\b", re.I)
_MOBILE_OS = frozenset({"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"})


class AgentInfo(NamedTuple):
    browser_name: str | None
    browser_version: str | None
    os_name: str | None
    os_version: str | None
    device_type: str


def _version(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return ".".join(kept) if kept else None


def device_type(user_agent: str, os_name: str | None, device_family: str | None) -> str:
    """desktop, mobile or tablet: Android without "Mobile" is a tablet, as Google advises."""
    if _TABLET.search(user_agent) or device_family == "iPad":
        return "tablet"
    if os_name == "Android" and "Mobile" not in user_agent:
        return "tablet"
    if os_name in _MOBILE_OS or "Mobile" in user_agent:
        return "mobile"
    return "desktop"


@lru_cache(maxsize=8192)
def classify(user_agent: str) -> AgentInfo | None:
    """The agent's browser, OS and device; None when it is a bot or automation."""
    if not user_agent or len(user_agent) < 10:
        return None
    if _NOT_A_PERSON.search(user_agent) or crawleruseragents.is_crawler(user_agent):
        return None
    result = ua_parser.parse(user_agent)
    agent, os, device = result.user_agent, result.os, result.device
    if device is not None and device.family == "Spider":
        return None
    browser_name = agent.family if agent and agent.family != "Other" else None
    os_name = os.family if os and os.family != "Other" else None
    return AgentInfo(
        browser_name=browser_name,
        browser_version=agent.major if agent and browser_name else None,
        os_name=os_name,
        os_version=_version(os.major, os.minor) if os and os_name else None,
        device_type=device_type(user_agent, os_name, device.family if device else None),
    )
