"""User agent → browser, OS, device type, or "this is a bot": maintained lists, bounded work.

- Bot or not: three maintained lists (crawler-user-agents, Crawler-Detect, Matomo's bots
  and HTTP libraries) and a short local list, all in ``bots.py``; then Matomo's feed
  readers, players and mail clients when no web engine is named, and anything without the
  shape of a browser that could run the tracker (``browsers.py``: ``no_engine``).
- Browser and OS: ua-parser (its native ``ua-parser-rs`` matcher).
- Device type: Matomo's device lists and rules, in ``devices.py``.

Work per record is bounded whatever arrives: a user agent longer than ``MAX_LENGTH``
characters is a bot without further look (no browser in the ~200,000 labelled user agents
of bench/useragent_accuracy.py sends more than 440), every list is matched in linear time
(``patternset.py``) and the whole answer is cached per distinct user agent, because real
traffic repeats a few thousand of them.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import NamedTuple

from ua_parser import BestAvailableResolver, Domain, Parser, load_lazy_builtins

from .bots import bot_lists
from .browsers import better_browser, better_os, no_engine, non_browser_client
from .devices import DEVICE_TYPES, device_type

__all__ = ["DEVICE_TYPES", "MAX_LENGTH", "UNNAMED", "AgentInfo", "bot_reason", "classify", "warm"]

#: longer user agents are bots: no browser sends one, and matching stays bounded
MAX_LENGTH = 512
#: shorter ones are bots (empty, "-", "Mozilla", …)
MIN_LENGTH = 10


class AgentInfo(NamedTuple):
    browser_name: str | None
    browser_version: str | None
    os_name: str | None
    os_version: str | None
    device_type: str


def _version(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return ".".join(kept) if kept else None


class _Names(NamedTuple):
    browser_name: str | None
    browser_version: str | None
    os_name: str | None
    os_version: str | None
    ua_parser_os: str | None  # device rules read ua-parser's OS family and major version
    ua_parser_os_major: str | None


@cache
def _parser() -> Parser:
    """ua-parser without its own cache: ``classify`` caches whole answers per user agent,
    so a second cache would only cost a lookup and an eviction per new user agent. Only
    its browser and OS lists are compiled: its device list (60 % of its start-up, ~70 ms)
    is never asked (``_BROWSER_AND_OS``); device types come from ``devices.py``."""
    agents, systems, _devices = load_lazy_builtins()
    return Parser(BestAvailableResolver((agents, systems, [])))


_BROWSER_AND_OS = Domain.USER_AGENT | Domain.OS


def _names(user_agent: str) -> _Names:
    parsed = _parser()(user_agent, _BROWSER_AND_OS)
    agent, os = parsed.user_agent, parsed.os
    browser_name = agent.family if agent and agent.family != "Other" else None
    browser_version = agent.major if agent and browser_name else None
    better = better_browser(user_agent, browser_name)
    if better is not None:
        browser_name, browser_version = better
    parsed_os = os.family if os and os.family != "Other" else None
    os_name, os_version = parsed_os, _version(os.major, os.minor) if os and parsed_os else None
    matomo_os = better_os(user_agent, parsed_os)
    if matomo_os is not None:
        os_name, os_version = matomo_os, None
    major = os.major if os and parsed_os else None
    return _Names(browser_name, browser_version, os_name, os_version, parsed_os, major)


def bot_reason(user_agent: str) -> str | None:
    """Why ``user_agent`` is not a person (which list, which rule), or None for a person."""
    reason = _list_reason(user_agent)
    if reason is None and _unnamed(_names(user_agent)):
        return UNNAMED
    return reason


#: what neither ua-parser nor Matomo's browser and OS lists can name is no browser page
#: view (measured: no browser of the corpora; junk, media players, API clients)
UNNAMED = "names no browser and no operating system any list knows"


def _unnamed(names: _Names) -> bool:
    return names.browser_name is None and names.os_name is None


def _list_reason(user_agent: str) -> str | None:
    if len(user_agent) < MIN_LENGTH:
        return "empty or too short to name a browser"
    if len(user_agent) > MAX_LENGTH:
        return f"longer than {MAX_LENGTH} characters"
    return bot_lists().match(user_agent) or non_browser_client(user_agent) or no_engine(user_agent)


def warm(models: bool = False) -> None:
    """Make every list's literal index and ua-parser now (~0.3 s) rather than on the first
    user agent; with ``models``, also compile every pattern and every brand's model list
    (several seconds): otherwise each is compiled the first time a user agent needs it
    (a pattern ~0.3 ms, a brand's models up to ~0.2 s, once per process)."""
    from .browsers import _browsers, _non_browser_clients, _systems
    from .devices import _lists, _tv_browsers

    lists = bot_lists()
    _parser()
    sets = [lists.deny, lists.crawler_detect, _browsers(), _non_browser_clients(), _systems()]
    sets += [_tv_browsers(), *(device_list.brands for _gate, device_list in _lists())]
    for found in sets:
        if models:
            found.compile_all()
        else:
            found.prepare()
    if models:
        for _gate, device_list in _lists():
            for index in range(len(device_list.entries)):
                device_list.models(index)


@lru_cache(maxsize=8192)
def classify(user_agent: str) -> AgentInfo | None:
    """The agent's browser, OS and device; None when it is a bot or automation."""
    if _list_reason(user_agent) is not None:
        return None
    names = _names(user_agent)
    if _unnamed(names):
        return None
    return AgentInfo(
        browser_name=names.browser_name,
        browser_version=names.browser_version,
        os_name=names.os_name,
        os_version=names.os_version,
        device_type=device_type(user_agent, names.ua_parser_os, names.ua_parser_os_major),
    )
