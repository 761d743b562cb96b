"""Browser and OS names: ua-parser's, and Matomo's where ua-parser only sees the engine.

ua-parser names the browser a user agent announces; many Android and TV browsers announce
only their engine (``Chrome/…``, ``Version/4.0 … wv``, ``HbbTV``), so ua-parser calls
Yandex Browser Lite "Chrome Mobile WebView" and a Vewd TV browser "HbbTV". Matomo's
``client/browsers.yml`` (about 600 browsers, from the ``device_detector`` package) knows
them by their own tokens. ua-parser's answer is kept, so names stay the ones the lake has
always had; Matomo's replaces it only when ua-parser's is one of ``ENGINE_NAMES`` and
Matomo's is not one of its own generic names. The same for the OS with ``oss.yml`` when
ua-parser has none or only says "Linux".

``non_browser_client`` reads Matomo's feed-reader, media-player and mail-client lists for
the opposite question: a user agent that names one of them and no web engine fetched a
feed, an episode or a message, never a page with the tracker on it.
"""

from __future__ import annotations

import re
from functools import cache

from .bots import matomo_file, matomo_regex
from .patternset import Pattern, PatternSet

# ua-parser names that only say which engine or shell a browser uses
ENGINE_NAMES = frozenset(
    {
        "Chrome",
        "Chrome Mobile",
        "Chrome Mobile WebView",
        "Chromium",
        "Android",
        "Safari",
        "Mobile Safari",
        "Mobile Safari UI/WKWebView",
        "WebKit Nightly",
        "HbbTV",
        "Opera",
        "CFNetwork",
        "YandexSearch",
        "Other",
    }
)
# Matomo names as generic as those (never worth replacing ua-parser's with)
_MATOMO_GENERIC = frozenset(
    {
        "Chrome",
        "Chrome Mobile",
        "Chrome Webview",
        "Chromium",
        "Android Browser",
        "Safari",
        "Mobile Safari",
        "Opera",
        "Opera Mobile",
        "Chrome Mobile iOS",
        "Firefox",
    }
)
# ua-parser names that are no browser at all: any name Matomo has is better
_NOT_A_BROWSER = frozenset({"HbbTV", "CFNetwork", "Other"})
_GENERIC_OS = frozenset({"Linux", "Other"})
# Matomo OS names that ua-parser spells differently: the lake keeps ua-parser's spelling
_UA_PARSER_SPELLING = {"GNU/Linux": "Linux", "Mac": "Mac OS X"}


@cache
def _browsers() -> PatternSet:
    return PatternSet(
        Pattern(matomo_regex(e["regex"]), True, e["name"], str(e.get("version") or "") or None)
        for e in matomo_file("client/browsers.yml")  # type: ignore[attr-defined]
    )


#: Matomo's lists of clients that fetch without rendering: feed readers, media and podcast
#: players, mail and calendar clients. Only trusted when the user agent names no engine
#: (below): Thunderbird and many players also have a web view, which sends Gecko or WebKit.
NON_BROWSER_CLIENTS = ("client/feed_readers.yml", "client/mediaplayers.yml", "client/pim.yml")
#: a rendering engine, or the Mozilla/Opera shell every engine-based browser string has
_ENGINE = re.compile(r"^(?:Mozilla|Opera)/|AppleWebKit|KHTML|Gecko|Trident|Presto", re.I)


@cache
def _non_browser_clients() -> PatternSet:
    return PatternSet(
        Pattern(matomo_regex(e["regex"]), True, f"Matomo {kind.split('/')[1][:-4]}: {e['name']}")
        for kind in NON_BROWSER_CLIENTS
        for e in matomo_file(kind)  # type: ignore[attr-defined]
    )


def non_browser_client(text: str) -> str | None:
    """Which feed reader, player or mail client sent ``text``, when no engine could render:
    such a request fetched a feed, an episode or a message, and ran no tracker script."""
    if _ENGINE.search(text):
        return None
    found = _non_browser_clients().first(text)
    return None if found is None else f"{found.label} (no web engine)"


#: what every browser able to run the tracker names: the ``Mozilla/`` or ``Opera/`` shell or
#: a web engine. hello.js needs ES2018 and ``fetch``, which only engines of 2017 and later
#: have, and every browser on one of them sends ``Mozilla/5.0 (…)`` with its engine; some
#: phone makers' and TV makers' builds drop the shell but still name the engine
#: (``Browser/AppleWebKit537.36``, ``smarttv_…_Chromium_88``), an app that replaces its
#: web view's user agent may still say so (``…WebView/1.5``), and TV browsers that load
#: pages through Chromium's network stack send its name (Matomo's BrowseHere fixtures:
#: ``com.tcl.browser/… (…; Cronet/114…)``). Case-blind: proxies that lower-case the header
#: pass real browsers on.
#:
#: Plain substring tests on the lower-cased text: a case-blind regex alternation took
#: ~100 µs on a 500-character string that matches nothing, these take a few.
_SHELLS = ("mozilla/", "opera/")
_ENGINE_WORDS = (
    "applewebkit",
    "khtml",
    "gecko",
    "trident/",
    "presto/",
    "blink",
    "goanna",
    "webview",
    "cronet/",
)
_CHROME_VERSION = re.compile(r"chrom(?:e|ium)[/_]?\d")
NO_ENGINE = "not a browser (no engine): names neither the Mozilla/Opera shell nor a web engine"


def no_engine(text: str) -> str | None:
    """Every hit is a beacon that hello.js sent, so a user agent no script-running browser
    has ever sent (an app's own HTTP stack such as Dalvik or CFNetwork, a WAP phone, a
    script) did not send it: whatever did is not a visitor."""
    lowered = text.lower()
    if lowered.startswith(_SHELLS) or any(word in lowered for word in _ENGINE_WORDS):
        return None
    if "chrom" in lowered and _CHROME_VERSION.search(lowered):
        return None
    return NO_ENGINE


@cache
def _systems() -> PatternSet:
    return PatternSet(
        Pattern(matomo_regex(e["regex"]), True, e["name"])
        for e in matomo_file("oss.yml")  # type: ignore[attr-defined]
    )


def better_browser(text: str, name: str | None) -> tuple[str, str | None] | None:
    """Matomo's (name, major version) when it knows more than ua-parser's ``name``."""
    if name is not None and name not in ENGINE_NAMES:
        return None
    browsers = _browsers()
    found = browsers.first_match(text)
    if found is None:
        return None
    index, version = found
    matomo_name = browsers.patterns[index].label
    if matomo_name in _MATOMO_GENERIC and name is not None and name not in _NOT_A_BROWSER:
        return None
    major = version.split(".", 1)[0] if version else None
    return matomo_name, major if major and major.isdigit() else None


def better_os(text: str, name: str | None) -> str | None:
    """Matomo's OS name when ua-parser has none or only says "Linux" (a TV's, Android's …)."""
    if name is not None and name not in _GENERIC_OS:
        return None
    found = _systems().first(text)
    if found is None or "\\g<" in found.label or "$" in found.label:
        return None  # no match, or a name Matomo builds from the match (distributions)
    better = _UA_PARSER_SPELLING.get(found.label, found.label)
    return None if better == name else better
