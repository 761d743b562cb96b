"""Is a user agent a bot? Three maintained lists in one linear-time pass, plus a short local list.

The lists, each from a package pinned in pyproject.toml (update the package, get the list):

- ``crawler-user-agents`` (monperrus/crawler-user-agents, MIT): crawler patterns,
  case-sensitive, as that package matches them.
- ``crawlerdetect`` (the Python port of JayBizzle/Crawler-Detect, MIT): crawler patterns,
  case-insensitive, matched after Crawler-Detect's own *exclusions* (browser tokens such as
  ``Safari/537.36`` and phone names such as ``; M bot``) are removed, as Crawler-Detect does.
- ``device_detector`` (the Python port of matomo-org/device-detector, LGPL-3.0; only its
  regex files are read, never its code): Matomo's ``bots.yml`` (crawlers, monitors, AI
  agents, previewers) and ``client/libraries.yml`` (HTTP libraries: curl, python-requests,
  okhttp, …), with Matomo's own match rule (the pattern must start the string or follow a
  character that is not a letter, digit, ``_`` or ``-``; case-insensitive).

``LOCAL_DENY`` adds what none of them lists, ``LOCAL_SIGNS`` general signs of a client that
is no browser (a contact address), tried last; ``LOCAL_MASKS`` and ``DISABLED`` keep real
browsers that a list entry takes for bots. Every entry says why it is there and was
measured on the corpora of ``bench/useragent_accuracy.py``. Matching is done by
``PatternSet`` (Rust, linear time) on text the caller has already bounded.
"""

from __future__ import annotations

import importlib.util
import re
from functools import cache
from pathlib import Path

import yaml_rs

from .patternset import Pattern, PatternSet, required_literal, required_literals

# Matomo's rule: a match starts the string or follows a non-word character (AbstractParser).
MATOMO_PREFIX = r"(?:^|[^A-Z0-9_\-]|[^A-Z0-9\-]_|sprd-|MZ-)"
# Matomo's catch-all starts with [a-z0-9_-]* after that prefix: it may start anywhere
_ANY_WORD_PREFIX = "[a-z0-9_-]*"

# (pattern, case-insensitive, why): automation and clients none of the lists names.
LOCAL_DENY: tuple[tuple[str, str], ...] = (
    (r"HeadlessChrome|Headless/", "headless browsers report themselves; no person reads the page"),
    (r"\bPhantomJS\b|\bSlimerJS\b", "scriptable browsers used for scraping and tests"),
    (r"\b(?:Playwright|Puppeteer|Selenium|WebDriver|Cypress)\b", "browser automation frameworks"),
    (r"Electron/[\d.]+ .*Headless", "headless Electron renderers (prerender services)"),
    (r"\bChrome-Lighthouse\b|Google Page Speed Insights", "PageSpeed/Lighthouse audits"),
    (r"^Mozilla/5\.0 \(compatible;?\)$", "an empty 'compatible' shell: scanners, never a browser"),
    (
        r"^008/",
        "Advanced Web Ranking's crawler (crawler-user-agents' 008/ also hits TS1008/ phones)",
    ),
    (r"Yandex\.Translate", "Yandex's page translator (Crawler-Detect's broad Yandex entry is off)"),
    (r"Blackboard Safeassign", "Blackboard's plagiarism crawler (its broad entry is off)"),
    # issue #25 (rules from its examples and isbot's "tune" half, bench/useragent_accuracy.py)
    (r"Synthetics", "synthetic monitors name themselves so (Splunk, SyntheticsAgent, Datadog)"),
    (r"\bDejaClick/", "AlertSite's recorder of scripted transactions: a monitor, not a visit"),
    (
        r"^[A-Za-z][\w.-]*/[\w.+-]+ (?-i:\((?:darwin|linux|win32|freebsd|openbsd|sunos|aix) "
        r"(?:x64|arm64|ia32|arm|ppc64|s390x|loong64|riscv64)\))",
        "a Node/Electron app's own fetch ('Name/1.2 (darwin arm64)': Node's platform and "
        "arch), as AI editors send when an agent reads a page; their windows send a Chrome "
        "string",
    ),
    (
        r"^(?:DuckDuckGo/\d+|ddg_android/[\d.]+|DDG-Android-[\d.]+)(?:[ ;(]|$)",
        "DuckDuckGo's apps fetching favicons and previews start with the app's name; its "
        "browser tabs send a Mozilla/5.0 string (…DuckDuckGo/5 Safari/…), which stays",
    ),
    (
        r"\((?:[a-z][\w-]*\.){2,}[\w-]+; Android API \d+\)",
        "an Android app's own HTTP client naming its package and API level; web views send "
        "a Mozilla/5.0 … wv) string instead",
    ),
    (r"googleweblight", "Google Web Light, a transcoding proxy: it fetched pages for phones"),
    (r"^ClamAV/", "ClamAV's URL scanner"),
    (r"\bgrpc-[a-z0-9]+(?:-[a-z0-9]+)*/\d", "gRPC client libraries (grpc-node, grpc-c, …)"),
    (
        r"\bMicrosoft-(?:CryptoAPI|Delivery-Optimization|WebDAV-MiniRedir|WNS)/"
        r"|\bWindows-Update-Agent/",
        "Windows' system agents (certificate revocation, updates, WebDAV, push): Matomo "
        "knows them only as an OS",
    ),
    (r"^iGetter/", "a download manager"),
)

# (pattern, why), case-insensitive: general signs of a client that is no browser, tried after
# every list, so that a list's own name for a client is the reason reported when it has one.
LOCAL_SIGNS: tuple[tuple[str, str], ...] = (
    # a contact address: crawlers, monitors, link previewers and fediverse servers name the
    # page or mailbox that answers for them (``+https://…/bot.html``, ``help@moz.com``,
    # ``brokenlinkcheck.com/1.2``); a browser names no site. Measured on every corpus of
    # bench/useragent_accuracy.py: no JavaScript-capable browser has one once an
    # embedded-IE component's self-description is masked (LOCAL_MASKS); one held-out
    # browser string without a script engine does (held-out "all browsers" 72 → 73)
    (r"https?://|\bmailto:|\bwww\.[a-z0-9-]+\.[a-z]", "a URL: a crawler's contact page"),
    (r"[\w.+-]@[a-z][a-z0-9-]*\.[a-z]{2}", "an e-mail address: a crawler's contact"),
    (
        r"(?:^|[\s;(,+/])(?:[a-z][a-z0-9-]*\.)+(?-i:com|net|org|io|ai|dev|info|biz)"
        r"(?:$|[^\w.-])",
        "a host name as a product or in a comment (``brokenlinkcheck.com/1.2``, "
        "``Siteimprove.com``): a service naming its site; the top-level domain is matched "
        "in lower case, so '.NET CLR' tokens are no host",
    ),
    (r"\bHappyDOM/", "happy-dom, a DOM emulator in Node (tests, scraping), like jsdom"),
)

# (pattern, why): tokens of real browsers and devices that list entries take for bot words.
# They are blanked out before the lists look, so a bot that also carries one is still caught.
LOCAL_MASKS: tuple[tuple[str, str], ...] = (
    (r"Cronet/[\d.]+", "Chromium's network stack in Android apps and TV boxes ('cron')"),
    (r"BOTECH\b", "a TV maker in HbbTV tokens ('bot')"),
    (r"\bC Bot Tab\b", "a tablet model"),
    (r"\bM_bot_tab", "a tablet model"),
    (r"\bVR BOT\b", "a phone model"),
    (r"\bXBot[ _](?:Junior|Senior)\b", "phone models"),
    (r"\bSpider 8\b", "a phone model (Matomo excludes it the same way)"),
    (r"\bCRONY-", "a tablet model ('cron')"),
    (r"Caboto", "a company name in an Internet Explorer token ('bot')"),
    (r"Demonstration only", "HbbTV demo firmware ('Demon')"),
    (
        r"(?:Embedded Web Browser from: )?http://bsalsa\.com\b/?",
        "the EmbeddedWB component's self-description in the Internet Explorer string of an "
        "app built on it (a URL, but an app's browser window, not a crawler's contact), also "
        "as its bare address ('…; SV1; http://bsalsa.com) (none)': Crawler-Detect's "
        "devices.txt, 8 Internet Explorer strings. Not its other form ('EmbeddedWB 14.52 from: "
        "http://www.bsalsa.com/'): crawlers built on the component send that one too",
    ),
    (
        r"\bMobile/[0-9A-Z]+(?: Safari/[\d.]+)? MetaIAB\b",
        "Meta's in-app browser (Facebook, Instagram, …) on iOS, whose token follows WebKit's "
        "'Mobile/<build>' ('Mobile/22G100 Safari/604.1 MetaIAB Facebook'); crawler-user-agents "
        "calls 'MetaIAB Facebook' a link-preview fetcher from an Android web view string "
        "('… Mobile Safari/537.36 MetaIAB Facebook', the in-app browser's prefetch), which "
        "stays a bot: tune (2) corpus, inapp-spy's Facebook in-app browser on iOS",
    ),
    # tune (2) corpus, browscap-rest (session 16): each from its JavaScript-capable misses
    (
        r"\bBuild/[^;()]{1,64}(?=[;)])",
        "an Android firmware's build id ('MID1126 Build/GreenDemon_v1.0)'): a maker's name "
        "for a firmware, where list words ('Demon', 'bot', 'cron') are product names",
    ),
    (r"\bKidbot[ _]", "a children's tablet ('Android 5.1; Kidbot_????)')"),
    (r"\biBuddyConnect", "a tablet model ('iBuddyConnectu2161_3G': 'Buddy')"),
    (r"\bQword/[\d.]+", "the Qword browser (Crawler-Detect's 'Word/' is Microsoft Word's)"),
    (
        r"\bSeznam\.cz/[\d.]+",
        "Seznam's desktop browser ('… Safari/537.36 Seznam.cz/2.0.4'); Seznam's crawlers name "
        "themselves SeznamBot, SeznamHomepageCrawler, … (crawler-user-agents, Matomo)",
    ),
    (r"\bBattle\.net/[\d.]+", "Blizzard's Battle.net launcher, whose window is a web view"),
    (
        r"\bQtWeb Internet Browser/[\d.]+ http://www\.QtWeb\.net\b",
        "the QtWeb browser, which names its own site after its version",
    ),
)

# list entry → why it is switched off: it matches real browsers, and the bots it was meant
# for are named by another list (measured: no crawler of the corpora is lost).
DISABLED: dict[str, str] = {
    r"AP3A\.240617\.008": "an Android 15 build id of many OPPO/Realme/OnePlus phones",
    "Sogou": "Sogou Mobile Browser; Sogou's spiders are named by the other lists",
    "Sonic": "ViewSonic and Cherry Sonic devices, Slack's desktop app",
    "Butterfly": "HTC Butterfly phones",
    "Fever": "Fever phones",
    "Fluid": "the Fluid site-specific browser for macOS",
    "Expanse": "the Expanse phone",
    r"008\/": "device names ending in 008 (DESAY TS1008/); the crawler is in LOCAL_DENY",
    "Astute": "the X428 Astute phone",
    "OPPO A33": "the OPPO A33 phone",
    "QQDownload": "a download-manager token in Internet Explorer",
    "Webster": "the Webster Pro browser",
    "Yandex(?!Search)": "Yandex apps and Yandex Station; Yandex's robots are named elsewhere",
    "Zeus ": "the AUPO Zeus phone",
    "speedy": "the SMART 4G Speedy phone; Speedy Spider is named elsewhere",
    r"Slack\/": "Slack's desktop app; Slackbot and Slack-ImgProxy are named elsewhere",
    "Blackboard": "the Blackboard Learn app's web view; its crawler is in LOCAL_DENY",
    "Viber": "Viber's in-app browser (…wv)… Viber/11.9) and desktop app; its link fetcher is "
    "Matomo's ViberUrlDownloader, and the bare 'Viber' is too short to be a browser",
    r"Code\/1\.": "VS Code's built-in browser (Electron renders the page and runs the "
    "tracker); an agent reading a page through it sends the same string, so it is counted",
    r"Trae\/": "the Trae editor's built-in browser, for the same reason as VS Code's",
}


def _package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it (its code is never run)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def matomo_file(relative: str) -> object:
    """A YAML file of device_detector's copy of Matomo's regexes (``regexes/upstream/…``)."""
    path = _package_dir("device_detector") / "regexes" / "upstream" / relative
    return yaml_rs.loads(path.read_text(encoding="utf-8"))


def matomo_regex(pattern: str) -> str:
    """A Matomo pattern with Matomo's prefix, in syntax both Rust and Python accept."""
    pattern = pattern.replace("\\/", "/").replace("++", "+").replace("\\_", "_")
    if pattern.startswith(_ANY_WORD_PREFIX):
        return pattern  # PatternSet drops the leading [...]*: the prefix changes nothing then
    return f"{MATOMO_PREFIX}(?:{pattern})"


def _crawler_user_agents() -> list[Pattern]:
    import crawleruseragents

    return [
        Pattern(entry["pattern"], False, f"crawler-user-agents: {entry['pattern']}")
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        if entry["pattern"] not in DISABLED
    ]


def _crawler_detect() -> tuple[list[Pattern], list[tuple[str, re.Pattern[str]]]]:
    from crawlerdetect.providers.crawlers import data as crawlers
    from crawlerdetect.providers.exclusions import data as exclusions

    patterns = [Pattern(p, True, f"Crawler-Detect: {p}") for p in crawlers if p not in DISABLED]
    gated = [(required_literal(p) or "", re.compile(p, re.IGNORECASE)) for p in exclusions]
    return patterns, gated


def _matomo() -> list[Pattern]:
    found = []
    for entry in matomo_file("bots.yml"):  # type: ignore[attr-defined]
        found.append(Pattern(matomo_regex(entry["regex"]), True, f"Matomo bot: {entry['name']}"))
    for entry in matomo_file("client/libraries.yml"):  # type: ignore[attr-defined]
        label = f"Matomo library: {entry['name']}"
        found.append(Pattern(matomo_regex(entry["regex"]), True, label))
    return found


#: an Android device's model and build ('Android 4.0.3; en-us; Ainol Novo 7 Aurora
#: (TabletWarehouseUSA.com) Build/IML74K'), its version kept: a custom ROM writes its site or
#: forum there, which is no crawler's contact; a general sign (a host, a URL) is not looked
#: for in it (list entries still are: a crawler dressed as a phone may name itself there)
_ANDROID_DEVICE = re.compile(
    r"(\bAndroid [^;()]{0,24}; (?:U; )?(?:[a-z]{2}(?:[-_][a-z]{2})?; )?)(?:[^;()]|\([^;()]*\))+",
    re.IGNORECASE,
)

#: the tokens Internet Explorer 11 reads from the registry, between 'Trident/7.0;' and
#: 'rv:11.0)': a company's customization kit (IEAK) writes its name and intranet address
#: there ('Trident/7.0; Juniper.com; http://intranet.juniper.com; rv:11.0) like Gecko'), which
#: is no crawler's contact; a general sign is not looked for in them (list entries still are).
#: Not when a token holds a '+': crawlers write their contact '+http://…' (Google's, Bing's)
_IE_BRANDING = re.compile(
    r"(\bTrident/[\d.]+;)[^()+]*?(?=;? ?rv:[\d.]+\) like Gecko)", re.IGNORECASE
)
#: where ``_IE_BRANDING`` is tried: at the first Trident token only (Internet Explorer
#: writes one), so a string repeating the token costs one scan, not one per repetition
_TRIDENT = re.compile(r"\bTrident/", re.IGNORECASE)


def _without_device_and_branding(text: str, lowered: str) -> str:
    """``text`` as the general signs read it: an Android device's slot and Internet
    Explorer 11's registry tokens left out, each tried only when its words are in
    ``lowered`` (the caller's lower-cased text before its masks, which blank none of them;
    a gate only: a pattern that finds nothing changes nothing)."""
    if "android " in lowered:
        text = _ANDROID_DEVICE.sub(r"\1", text)
    if "trident/" in lowered and "rv:" in lowered and (token := _TRIDENT.search(text)):
        found = _IE_BRANDING.match(text, token.start())
        if found is not None:
            text = text[: found.end(1)] + text[found.end() :]
    return text


class BotLists:
    """The combined lists; ``match(text)`` names the first entry that calls ``text`` a bot."""

    def __init__(self) -> None:
        crawler_detect, self.exclusions = _crawler_detect()
        # each mask (in ``LOCAL_MASKS``' order) is tried when one of its own literals is in
        # the text: one common word ('build/' in most phones' strings) must not run the
        # others over every such text; one whose literals cannot be told is always tried
        # ("" is in every text), never gated on its own pattern text
        self.masks: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = tuple(
            (tuple(required_literals(p) or ("",)), re.compile(p, re.IGNORECASE))
            for p, _ in LOCAL_MASKS
        )
        #: (literal, mask's index) of every mask: one pass over them finds the masks to run
        self._mask_gates = tuple(
            (literal, index)
            for index, (literals, _) in enumerate(self.masks)
            for literal in literals
        )
        self.deny = PatternSet(
            [Pattern(p, True, f"local: {why}") for p, why in LOCAL_DENY]
            + _matomo()
            + _crawler_user_agents()
        )
        self.crawler_detect = PatternSet(crawler_detect)
        self.signs = PatternSet([Pattern(p, True, f"local: {why}") for p, why in LOCAL_SIGNS])

    def strip_exclusions(self, text: str) -> str:
        """Crawler-Detect's step one: remove browser tokens before its patterns look."""
        lowered = text.lower()
        for literal, pattern in self.exclusions:
            if literal in lowered:
                text = pattern.sub("", text)
        return text

    def match(self, text: str) -> str | None:
        """Which list entry calls ``text`` a bot, or None; ``text`` is already bounded."""
        lowered = text.lower()
        gated = {index for literal, index in self._mask_gates if literal in lowered}
        for index in sorted(gated):
            text = self.masks[index][1].sub(" ", text)
        hit = self.deny.first(text)
        if hit is not None:
            return hit.label
        found = self._crawler_detect(text)
        if found is not None:
            return found
        sign = self.signs.first(_without_device_and_branding(text, lowered))
        return sign.label if sign is not None else None

    def _crawler_detect(self, text: str) -> str | None:
        # Crawler-Detect's verdict is on the text without its exclusions; a pattern that
        # misses the whole text can only match the stripped text across a removed token,
        # which its own test corpus never relies on, so the strip runs only after a hit.
        first = self.crawler_detect.first_index(text)
        if first is None:
            return None
        stripped = self.strip_exclusions(text)
        if stripped == text:
            return self.crawler_detect.patterns[first].label
        hit = self.crawler_detect.first(stripped)
        return hit.label if hit is not None else None


@cache
def bot_lists() -> BotLists:
    return BotLists()
