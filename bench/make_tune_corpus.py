"""Write tests/fixtures/useragents/tune-browsers.tsv: labelled browser user agents to tune from.

A **tune** corpus (bench role ``tune (2)``): rules may be derived from it, unlike the held-out
corpora. Its rows are people's browsers (in-app browsers and web views included) as labelled
by nine projects' test suites, none of them a bot list's corpus (the last six, added later
on 2026-12-05 and drawn after the first three so that those rows are unchanged, are also no
held-out corpus's project):

- bowser (lancedikson/bowser, MIT): ``test/acceptance/useragentstrings.yml``, grouped by
  browser name; its bot (Googlebot), headless/automation (PhantomJS, SlimerJS), app-shell
  (Electron), device-client (Roku) and nameless (Generic) groups are left out.
- uap-core (ua-parser/uap-core, Apache-2.0): every user agent of ``tests/test_ua.yaml``,
  ``tests/test_os.yaml`` and ``tests/test_device.yaml``, labelled with uap-core's own browser
  family and device family. Where a file does not state them they are computed by ua-parser's
  own resolver over the ``regexes.yaml`` of the same commit (this script checks that it
  reproduces every family the two test files state). Kept: a family of ``BROWSER_FAMILIES``,
  or of ``IN_APP_FAMILIES`` on a ``Mozilla/`` string (an app's web view, not its HTTP client),
  on a device that is not ``Spider``; uap-core's catch-all ``Android`` family only on a string
  naming ``Mozilla`` or ``AppleWebKit`` (it also names apps' own clients ``Android``).
- ua-parser-js (faisalman/ua-parser-js, a 1.x tag: MIT; 2.x is AGPL and not used):
  ``test/browser-test.json``, labelled by browser name; headless browsers, PhantomJS,
  Electron and unnamed entries left out.
- fnando/browser (the Ruby gem, MIT): ``test/ua.yml`` (name to user agent) but for
  ``FNANDO_LEFT_OUT`` (Adobe AIR, CoreMedia, QuickTime, a custom app's client, Electron,
  PhantomJS, a bare MIDP profile, a made-up Samsung model).
- Mobile-Detect (serbanghita/Mobile-Detect, MIT): ``tests/providers/vendors/*.php`` (group
  to user agent to its isMobile/isTablet labels), read by a small PHP-array reader here. It
  labels devices, not clients, so only a ``Mozilla/`` or ``Opera/`` string is kept (its
  groups also hold CFNetwork and Java clients), never its group ``Bot`` nor a string naming
  Googlebot (the smartphone crawler is in Google's device group).
- PhpUserAgent (donatj/PhpUserAgent, MIT): ``tests/user_agents.dist.json`` but its class
  ``Bots`` and ``PHP_USER_AGENT_LEFT_OUT`` (HeadlessChrome, FlipboardProxy).
- mileusna/useragent (Go, MIT): ``ua_test.go``'s test table, the rows of device type
  mobile, desktop or tablet but ``MILEUSNA_LEFT_OUT`` (Googlebot, HeadlessChrome, the
  surveyon app's client), a row naming no browser and Chrome-Lighthouse (page audits).
- detect-browser (DamonOehlman/detect-browser, MIT): ``test/logic.js``, the cases of type
  ``browser`` (not ``bot``/``bot-device``) but PhantomJS.
- inapp-spy (shalanah/inapp-spy, MIT): ``src/tests/{mobile,desktop,tablet}.ts``, in-app
  (Facebook, Instagram, Messenger, Threads, LINE, WeChat, TikTok, Snapchat, LinkedIn, GSA, …)
  and other browsers by device; a string the source mangled (``{useragents: [`` pasted
  inside it) left out.
- browscap-rest (browscap/browscap, MIT; added in session 16 as the rest of a held-out
  source): ``tests/issues/*.php`` labelled as tests/fixtures/useragents/browscap.tsv labels
  them (``Browser_Type`` Browser on a known ``Device_Type``; a property a "lite" test does not
  state is no label; a string with two labels left out), but for the browsers of
  ``BROWSCAP_LEFT_OUT`` and a string naming a crawler of ``BROWSCAP_CRAWLER_TOKENS``. The
  3,000 browser strings of browscap.tsv (the held-out sample) are removed as another
  fixture's cells; every other survivor is kept (``WHOLE``).

Removed (each counted): strings with surrounding white space, tabs or newlines; a string
already taken (from an earlier source or earlier in its own); a string equal to, or contained
in, one of the bot lists' whole corpora after collapsing white space and case folding
(Matomo device-detector's every fixture, client-hint files included; Crawler-Detect's whole
``crawlers.txt``/``devices.txt``, user-agent and ``sec_ch_ua``; crawler-user-agents'
instances) or any line or cell of any other file of tests/fixtures/useragents/ (the
held-out corpora above all). A source with more than ``PER_SOURCE`` survivors is sampled:
its labelled strings sorted, shuffled with ``random.Random(2026)``, the first ``PER_SOURCE``
that survive the removals; a source of ``WHOLE`` is kept whole.

    python bench/make_tune_corpus.py --bowser useragentstrings.yml --uap-core UAP_CORE_DIR \\
        --ua-parser-js browser-test.json --fnando-browser ua.yml \\
        --mobile-detect MOBILE_DETECT/tests/providers/vendors \\
        --php-user-agent user_agents.dist.json --mileusna ua_test.go \\
        --detect-browser logic.js --inapp-spy INAPP_SPY/src/tests \\
        --crawler-detect CRAWLERDETECT_SDIST_DIR
"""

from __future__ import annotations

import argparse
import glob
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml_rs
from ua_parser import BasicResolver, Parser
from ua_parser.loaders import load_data

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "useragents"
OUT = FIXTURES / "tune-browsers.tsv"
PER_SOURCE = 4000
#: sources kept whole, however many survive: browscap's rest is the other side of a held-out
#: file's split, so every string of it is tune data (the sample is the held-out side)
WHOLE = frozenset({"browscap-rest"})
SEED = 2026

#: what each source is, for the file's header (the versions this file was drawn from)
SOURCES = {
    "bowser": "bowser (lancedikson/bowser, Copyright 2015 Dustin Diaz, MIT licence), "
    "test/acceptance/useragentstrings.yml at commit f09411489ced05811c91cc6670a8e4ca9cbe39a7 "
    "(2020-09-12, v2.11.0 plus one commit)",
    "uap-core": "uap-core (ua-parser/uap-core, Copyright 2009 Google Inc., Apache License 2.0), "
    "tests/test_ua.yaml, tests/test_os.yaml, tests/test_device.yaml and regexes.yaml at commit "
    "e3c5e634bee0b14f1a129c991483910739ad9f6c (2026-08-11, v0.18.0 plus 129 commits)",
    "ua-parser-js": "ua-parser-js (faisalman/ua-parser-js, Copyright (c) 2012-2025 Faisal "
    "Salman, MIT licence: version 1.0.41 only, 2.x is AGPL and was not used), "
    "test/browser-test.json at tag 1.0.41 (commit 90017c98d341788570435b7587ce1f0725022c7a, "
    "2025-08-19)",
    "fnando-browser": "browser (fnando/browser, the Ruby gem, Copyright (c) 2010 Nando Vieira, "
    "MIT licence), test/ua.yml at commit f5dc0c99546133515138a29467eded73d0bb3a48 (2024-12-04, "
    "tag v6.2.0)",
    "Mobile-Detect": "Mobile-Detect (serbanghita/Mobile-Detect, Copyright (c) 2021 Şerban Ghiţă, "
    "Nick Ilyin and contributors, MIT licence), tests/providers/vendors/*.php at commit "
    "912a6f416e128781537e66b091a88e6c7032220c (2024-10-20, branch 4.8.x, 4.8.06 plus 5 commits)",
    "PhpUserAgent": "PhpUserAgent (donatj/PhpUserAgent, Copyright (c) 2013 Jesse G. Donat, MIT "
    "licence), tests/user_agents.dist.json at commit b7e2f5702b58d2efe82af3c911c5f45294bb40a8 "
    "(2026-06-19, v1.12.0 plus one commit)",
    "mileusna-useragent": "useragent (mileusna/useragent, Copyright (c) 2017 Miloš Mileusnić, MIT "
    "licence), ua_test.go at commit ccb4f040357948ae385a7132cd85943c29790ed1 (2024-09-13, "
    "v1.3.5 plus one commit)",
    "detect-browser": "detect-browser (DamonOehlman/detect-browser, Copyright (c) 2019 Damon "
    "Oehlman, MIT licence), test/logic.js at commit 546e6f1348375d8a486f21da07b20717267f6c49 "
    "(2021-12-05, tag v5.3.0)",
    "inapp-spy": "inapp-spy (shalanah/inapp-spy, Copyright (c) 2024 Shalanah Dawson, MIT "
    "licence), src/tests/mobile.ts, desktop.ts and tablet.ts at commit "
    "5a9065efd49159a94497182ef16aa91f64d229c8 (2026-03-25, v5.0.9 plus one commit)",
    "browscap-rest": "browscap (browscap/browscap, Copyright (c) 1998-2017 Browser Capabilities "
    "Project, MIT licence), tests/issues/*.php at commit "
    "6c0c9208f9314f062c5ac45d933c1a419e05f421 (2024-03-27): the browser strings that are not "
    "in the held-out browscap.tsv (its 3,000 are removed as another fixture's cells)",
}

#: bowser's groups that are no person's browser
BOWSER_LEFT_OUT = {
    "Googlebot": "bot",
    "PhantomJS": "headless/automation",
    "SlimerJS": "headless/automation",
    "Electron": "app shell",
    "Roku": "device's own client, no browser",
    "Generic": "no browser named",
}
#: ua-parser-js' names that are no person's browser
UA_PARSER_JS_LEFT_OUT = {
    "Chrome Headless": "headless/automation",
    "PhantomJS": "headless/automation",
    "Electron": "app shell",
}

#: fnando/browser's test/ua.yml keys that are no person's browser
FNANDO_LEFT_OUT = {
    "ADOBE_AIR": "app runtime",
    "COREMEDIA": "media framework's client",
    "CUSTOM_APP": "an app's own client",
    "ELECTRON": "app shell",
    "MIDP": "no browser named",
    "PHANTOM_JS": "headless/automation",
    "QUICKTIME": "media player",
    "SAMSUNG_SM-FAKE": "a made-up device model",
}
#: PhpUserAgent's browser names that are no person's browser (besides its class "Bots")
PHP_USER_AGENT_LEFT_OUT = {
    "HeadlessChrome": "headless/automation",
    "FlipboardProxy": "a proxy's fetcher",
}
#: mileusna/useragent's names that are no person's browser (besides its device type "bot"
#: and the rows with no device type: tools, HTTP clients)
MILEUSNA_LEFT_OUT = {
    "ua.Googlebot": "bot",
    "ua.HeadlessChrome": "headless/automation",
    '"surveyon"': "an app's own client",
}

#: browscap's browser names that are no person's browser
BROWSCAP_LEFT_OUT = {
    "PhantomJS": "headless/automation",
    "SlimerJS": "headless/automation",
    "CasperJS": "headless/automation",
}
#: tokens by which a string browscap calls a browser names a crawler: the string's own words
BROWSCAP_CRAWLER_TOKENS = {
    "web-crawlers@": "a crawlers' mailbox (HubSpot's website grader)",
    "Bytespider": "ByteDance's spider",
    "ZumBot": "zum.com's bot",
    "moatbot": "Moat's ad-verification bot",
}

#: uap-core browser families: browsers people browse with (desktop, phone, TV, console, car)
BROWSER_FAMILIES = frozenset(
    """
    115 Browser|360 Secure Browser|AOL|AOL Desktop Gold Browser|AOL Shield Browser|AVG|
    Aloha Browser|Amazon Silk|Android|Atom Browser|Avast Secure Browser|Avira|BOLT|
    Baidu Browser|Baidu Explorer|Basilisk|BlackBerry|BlackBerry WebKit|Brave|Bunjalloo|
    CCleaner|Chrome|Chrome Frame|Chrome Mobile|Chrome Mobile WebView|Chrome Mobile iOS|
    Chromium|Chromium GOST Browser|Coc Coc|Comodo Dragon|Conkeror|Craving Explorer Browser|
    Decentr Web3 Browser|Dolfin|Dolphin|Dragon|DuckDuckGo|DuckDuckGo Mobile|ELinks|
    Ecosia Android|Ecosia iOS|Edge|Edge Mobile|Espial|FireWeb|Firefox|Firefox (Shiretoko)|
    Firefox Beta|Firefox Mobile|Firefox iOS|HbbTV|HeyTap Browser|HiBrowser|Hola Browser|
    Honor Browser|Huawei Browser|ICE Browser|IE|IE Large Screen|IE Mobile|IceCat|Iron|
    Jasmine|JiSu Browser|Kindle|Konqueror|Ladybird|Links|Lite Browser|LuaKit|Lunascape|
    Mail.ru Chromium Browser|Maxthon|MiuiBrowser|Midori|Minimo|Mint Browser|Mobile Safari|
    MozillaDeveloperPreview|MullvadBrowser|Mypal Browser|NCSA Mosaic|NetCast Smart TV|
    NetFront|NetFront NX|Netfront|Netscape|Nokia|Nokia Browser|Nokia OSS Browser|
    Nokia Services (WAP) Browser|Norton|ONE Browser|Obigo|Oculus Browser|Odin|Openwave|
    Opera|Opera Coast|Opera GX|Opera Mini|Opera Mobile|Opera Neon|Opera Tablet|Opera Touch|
    Otter|Ovi Browser|Pale Moon|Phantom Browser|Phoenix Browser|Planetweb|Polaris|Puffin|
    QAX Browser|QQ Browser|QQ Browser Mini|QQ Browser Mobile|QtCarBrowser|Quark|Quark PC|
    QupZilla|Rekonq|RockMelt|SEMC-Browser|Safari|Sailfish Browser|Samsung Internet|
    Sber Browser|SeaMonkey|Seznam prohlížeč|Skyfire|Sleipnir|Smart Lenovo Browser|
    SmartTV WebBrowser|Snowshoe|Sparrow Browser|Talon Cyber Security Browser|Teleca Browser|
    Tenta Browser|UC Browser|UP.Browser|Vewd Browser|Vivaldi|VivoBrowser|Waterfox|WeTab|
    WebKit Nightly|Whale|Wolvic Browser|Yandex Browser|iBrowser|iBrowser Mini|mDolphin|
    qutebrowser|webOS Browser
    """.replace("\n", "")
    .replace("    ", "")
    .split("|")
)
#: uap-core families of apps whose web view opens the links people follow (kept on a
#: ``Mozilla/`` string only: the app's own HTTP client is no browser)
IN_APP_FAMILIES = frozenset(
    {
        "Facebook",
        "Facebook Messenger",
        "Flipboard",
        "Flipboard-Briefing",
        "Google",
        "Instabridge",
        "Instagram",
        "KakaoTalk",
        "LINE",
        "Mobile Safari UI/WKWebView",
        "Onefootball",
        "Phantom",
        "Pinterest",
        "Snapchat",
        "Telegram",
        "TikTok",
        "TopBuzz",
        "Twitter",
        "WeChat Browser",
        "Weibo",
        "WhatsApp",
    }
)


def normal(user_agent: str) -> str:
    """White space collapsed, case folded: the form every removal compares."""
    return " ".join(user_agent.split()).casefold()


def _uap_core_parser(regexes: Path) -> Parser:
    """ua-parser's own resolver over the regexes.yaml of the uap-core commit the tests
    come from (the installed ua-parser-builtins may be another release)."""
    data = yaml_rs.loads(regexes.read_text(encoding="utf-8"))
    keys = ("user_agent_parsers", "os_parsers", "device_parsers")
    return Parser(BasicResolver(load_data(tuple(data[key] for key in keys))))  # type: ignore[arg-type]


def _cases(path: Path) -> list[dict[str, Any]]:
    return yaml_rs.loads(path.read_text(encoding="utf-8"))["test_cases"]


def uap_core(base: Path, dropped: Counter[str]) -> list[str]:
    """uap-core's test user agents whose browser family is a person's browser."""
    parse = _uap_core_parser(base / "regexes.yaml")

    def browser_of(ua: str) -> str:
        found = parse.parse_user_agent(ua)
        return found.family if found else "Other"

    def device_of(ua: str) -> str:
        found = parse.parse_device(ua)
        return found.family if found else "Other"

    stated_browser = {
        c["user_agent_string"]: c["family"] for c in _cases(base / "tests/test_ua.yaml")
    }
    stated_device = {
        c["user_agent_string"]: c["family"] for c in _cases(base / "tests/test_device.yaml")
    }
    wrong = [ua for ua, family in stated_browser.items() if browser_of(ua) != family]
    wrong += [ua for ua, family in stated_device.items() if device_of(ua) != family]
    if wrong:
        raise SystemExit(f"uap-core families not reproduced by its regexes: {wrong[:5]}")
    every = {*stated_browser, *stated_device}
    every.update(c["user_agent_string"] for c in _cases(base / "tests/test_os.yaml"))
    kept = []
    for ua in sorted(every):
        family = stated_browser.get(ua) or browser_of(ua)
        device = stated_device.get(ua) or device_of(ua)
        if device == "Spider":
            dropped["uap-core: device family Spider"] += 1
        elif family in IN_APP_FAMILIES and not ua.startswith("Mozilla/"):
            dropped["uap-core: an in-app family's own client (no Mozilla/)"] += 1
        elif (
            family == "Android" and "mozilla" not in ua.lower() and "applewebkit" not in ua.lower()
        ):
            dropped["uap-core: family Android on an app's client (no Mozilla, no AppleWebKit)"] += 1
        elif family in BROWSER_FAMILIES or family in IN_APP_FAMILIES:
            kept.append(ua)
        else:
            dropped["uap-core: family not a browser (Other, apps, libraries, bots, mail)"] += 1
    return kept


def bowser(path: Path, dropped: Counter[str]) -> list[str]:
    """bowser's acceptance strings, but for the groups of ``BOWSER_LEFT_OUT``."""
    kept = []
    for name, cases in yaml_rs.loads(path.read_text(encoding="utf-8")).items():
        for case in cases:
            platform = (case.get("spec") or {}).get("platform") or {}
            if name in BOWSER_LEFT_OUT or platform.get("type") == "bot":
                dropped[f"bowser: {name} ({BOWSER_LEFT_OUT.get(name, 'bot')})"] += 1
            else:
                kept.append(case["ua"])
    return kept


def ua_parser_js(path: Path, dropped: Counter[str]) -> list[str]:
    """ua-parser-js' browser tests, but for ``UA_PARSER_JS_LEFT_OUT`` and unnamed ones."""
    kept = []
    for case in json.loads(path.read_text(encoding="utf-8")):
        name = (case.get("expect") or {}).get("name")
        if not name or name == "undefined":
            dropped["ua-parser-js: no browser named"] += 1
        elif name in UA_PARSER_JS_LEFT_OUT:
            dropped[f"ua-parser-js: {name} ({UA_PARSER_JS_LEFT_OUT[name]})"] += 1
        else:
            kept.append(case["ua"])
    return kept


def fnando_browser(path: Path, dropped: Counter[str]) -> list[str]:
    """fnando/browser's test/ua.yml (name to user agent), but for ``FNANDO_LEFT_OUT``."""
    kept = []
    for name, ua in yaml_rs.loads(path.read_text(encoding="utf-8")).items():
        if name in FNANDO_LEFT_OUT:
            dropped[f"fnando-browser: {name} ({FNANDO_LEFT_OUT[name]})"] += 1
        else:
            kept.append(ua)
    return kept


_PHP_TOKEN = re.compile(
    r"""(?P<space>\s+|//[^\n]*|\#[^\n]*|/\*.*?\*/)"""
    r"""|'(?P<single>(?:[^'\\]|\\.)*)'"""
    r'''|"(?P<double>(?:[^"\\]|\\.)*)"'''
    r"""|(?P<punct>=>|[\[\](),;])|(?P<word>[^\s\[\](),;'"=]+)""",
    re.DOTALL,
)
_PHP_DOUBLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "$": "$"}


def _php_tokens(text: str) -> list[tuple[str, str]]:
    """PHP source as (kind, text) tokens: strings unescaped, comments and space dropped."""
    tokens, at = [], 0
    while at < len(text):
        found = _PHP_TOKEN.match(text, at)
        if not found:
            raise SystemExit(f"PHP not understood at {text[at : at + 60]!r}")
        at = found.end()
        kind = found.lastgroup or ""
        if kind == "space":
            continue
        if kind == "single":
            value = re.sub(r"\\([\\'])", r"\1", found.group(kind))
        elif kind == "double":
            value = re.sub(
                r"\\(.)",
                lambda m: _PHP_DOUBLE_ESCAPES.get(m.group(1), m.group(0)),
                found.group(kind),
            )
        else:
            value = found.group(kind)
        tokens.append(("string" if kind in ("single", "double") else kind, value))
    return tokens


def _php_array(tokens: list[tuple[str, str]], at: int) -> tuple[list[tuple[Any, Any]], int]:
    """A PHP array literal (``[...]`` or ``array(...)``) from ``at``: its (key, value) pairs
    (key None for a list item), and the index after it."""
    close = "]" if tokens[at][1] == "[" else ")"
    at += 1 if close == "]" else 2
    pairs: list[tuple[Any, Any]] = []
    while tokens[at][1] != close:
        first, at = _php_value(tokens, at)
        if tokens[at][1] == "=>":
            value, at = _php_value(tokens, at + 1)
            pairs.append((first, value))
        else:
            pairs.append((None, first))
        if tokens[at][1] == ",":
            at += 1
    return pairs, at + 1


def _php_value(tokens: list[tuple[str, str]], at: int) -> tuple[Any, int]:
    kind, text = tokens[at]
    if text == "[" or (text.lower() == "array" and tokens[at + 1][1] == "("):
        return _php_array(tokens, at)
    if kind in ("string", "word"):
        return text, at + 1
    raise SystemExit(f"PHP value not understood: {tokens[at : at + 5]}")


def _php_returned(text: str) -> list[tuple[Any, Any]] | None:
    """The (key, value) pairs of the array literal a PHP file returns (``return [...]``),
    or None when it returns something else. Only that literal is tokenized: what comes
    before it (``declare(strict_types=1);``) is no literal."""
    returned = re.search(r"^\s*return\s*\[", text, re.MULTILINE)
    if returned is None:
        return None
    pairs, _ = _php_array(_php_tokens(text[returned.start() :]), 1)
    return pairs


def mobile_detect(directory: Path, dropped: Counter[str]) -> list[str]:
    """Mobile-Detect's vendor test lists (group to user agent to device labels): a
    ``Mozilla/`` or ``Opera/`` string (its groups also hold apps' HTTP clients, CFNetwork
    and Java ones: it labels devices, not clients) outside its group ``Bot``, naming no
    Googlebot (Google's smartphone crawler is tested in the Google group for its device)."""
    files = sorted(directory.glob("*.php"))
    if not files:
        raise SystemExit(f"no Mobile-Detect vendor files under {directory}")
    kept = []
    for path in files:
        groups = _php_returned(path.read_text(encoding="utf-8"))
        if groups is None:
            raise SystemExit(f"Mobile-Detect: {path} returns no array literal")
        for group, cases in groups:
            for ua, _labels in cases:
                if group == "Bot":
                    dropped["Mobile-Detect: group Bot"] += 1
                elif "googlebot" in ua.lower():
                    dropped["Mobile-Detect: a Googlebot string in a device group"] += 1
                elif not ua.startswith(("Mozilla/", "Opera/")):
                    dropped["Mobile-Detect: no Mozilla/ or Opera/ string (a device's client)"] += 1
                else:
                    kept.append(ua)
    return kept


def php_user_agent(path: Path, dropped: Counter[str]) -> list[str]:
    """PhpUserAgent's test user agents but its class ``Bots`` and ``PHP_USER_AGENT_LEFT_OUT``."""
    kept = []
    for ua, case in json.loads(path.read_text(encoding="utf-8")).items():
        name = case.get("browser")
        if "Bots" in (case.get("class") or ()):
            dropped["PhpUserAgent: class Bots"] += 1
        elif name in PHP_USER_AGENT_LEFT_OUT:
            dropped[f"PhpUserAgent: {name} ({PHP_USER_AGENT_LEFT_OUT[name]})"] += 1
        elif not name:
            dropped["PhpUserAgent: no browser named"] += 1
        else:
            kept.append(ua)
    return kept


_GO_ROW = re.compile(r'^\s*\{"((?:[^"\\]|\\.)*)",\s*([^,]+),\s*"[^"]*",\s*([^,}]+)')


def mileusna_useragent(path: Path, dropped: Counter[str]) -> list[str]:
    """mileusna/useragent's test table (user agent, name, version, device type, ...): device
    type mobile, desktop or tablet, but ``MILEUSNA_LEFT_OUT``, a name that is the user agent
    itself (no browser named) and Chrome-Lighthouse (Google's page audit, automation)."""
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = _GO_ROW.match(line)
        if not row:
            continue
        ua = json.loads(f'"{row.group(1)}"')
        name, device = row.group(2).strip(), row.group(3).strip()
        if device not in ('"mobile"', '"desktop"', '"tablet"'):
            dropped["mileusna-useragent: device type bot or none (bots, tools, clients)"] += 1
        elif name in MILEUSNA_LEFT_OUT:
            dropped[f"mileusna-useragent: {name} ({MILEUSNA_LEFT_OUT[name]})"] += 1
        elif name == f'"{row.group(1)}"':
            dropped["mileusna-useragent: no browser named"] += 1
        elif "Chrome-Lighthouse" in ua:
            dropped["mileusna-useragent: Chrome-Lighthouse (page audit, automation)"] += 1
        else:
            kept.append(ua)
    return kept


_JS_CASE = re.compile(
    r"assertAgentString\(\s*t,\s*(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\")\s*,"
    r"\s*\{\s*type:\s*'([a-z-]+)',(?:\s*bot:\s*true,)?\s*name:\s*'([^']*)'"
)
#: detect-browser's names of type ``browser`` that are no person's browser
DETECT_BROWSER_LEFT_OUT = {"phantomjs": "headless/automation"}


def detect_browser(path: Path, dropped: Counter[str]) -> list[str]:
    """detect-browser's parse tests: the ones of type ``browser`` (not bot, bot-device), but
    ``DETECT_BROWSER_LEFT_OUT``."""
    kept = []
    for case in _JS_CASE.finditer(path.read_text(encoding="utf-8")):
        ua = re.sub(r"\\(.)", r"\1", case.group(1) if case.group(1) is not None else case.group(2))
        kind, name = case.group(3), case.group(4)
        if kind != "browser":
            dropped[f"detect-browser: type {kind}"] += 1
        elif name in DETECT_BROWSER_LEFT_OUT:
            dropped[f"detect-browser: {name} ({DETECT_BROWSER_LEFT_OUT[name]})"] += 1
        else:
            kept.append(ua)
    return kept


_TS_KEY = re.compile(r"^( *)([A-Za-z_0-9]+): [\[{]")
_TS_STRING = re.compile(r'^\s*"((?:[^"\\]|\\.)*)",?\s*(?://.*)?$')


def inapp_spy(directory: Path, dropped: Counter[str]) -> list[str]:
    """inapp-spy's test user agents (device, then ``inapp`` or ``not_inapp``, then the app or
    browser): all are people's browsers; a string the source mangled (``{useragents: [``
    pasted inside it) is left out."""
    kept = []
    for name in ("mobile.ts", "desktop.ts", "tablet.ts"):
        category = ""
        for line in (directory / name).read_text(encoding="utf-8").splitlines():
            if key := _TS_KEY.match(line):
                if len(key.group(1)) == 4:
                    category = key.group(2)
                continue
            found = _TS_STRING.match(line)
            if not found:
                continue
            ua = json.loads(f'"{found.group(1)}"')
            if category not in ("inapp", "not_inapp"):
                raise SystemExit(f"inapp-spy: a user agent outside inapp/not_inapp: {ua!r}")
            if "{useragents:" in ua:
                dropped["inapp-spy: mangled in the source ('{useragents: [' inside)"] += 1
            else:
                kept.append(ua)
    return kept


def browscap_rest(directory: Path, dropped: Counter[str]) -> list[str]:
    """browscap's issue tests labelled as browscap.tsv labels them (``Browser_Type`` Browser
    on a known ``Device_Type``, headless browsers left out, a string with two labels left
    out); the held-out sample in browscap.tsv is removed later with every other fixture."""
    files = sorted(directory.glob("*.php"))
    if not files:
        raise SystemExit(f"no browscap issue tests under {directory}")
    labels: dict[str, set[str]] = {}
    for path in files:
        tests = _php_returned(path.read_text(encoding="utf-8"))
        if tests is None:  # the file of "invalid" strings returns a variable: no labels
            dropped[f"browscap-rest: {path.name} (returns no literal: no labels)"] += 1
            continue
        for _name, case in tests:
            fields = dict(case)
            properties = dict(fields["properties"])
            # a "lite" test states only some properties: one it does not state is no label
            kind = properties.get("Browser_Type")
            name = properties.get("Browser", "")
            token = next((t for t in BROWSCAP_CRAWLER_TOKENS if t in fields["ua"]), None)
            if kind == "Browser" and "headless" in name.lower():
                kind = "headless browser"
            elif kind == "Browser" and name in BROWSCAP_LEFT_OUT:
                kind = f"{name} ({BROWSCAP_LEFT_OUT[name]})"
            elif kind == "Browser" and token is not None:
                kind = f"names a crawler: {token} ({BROWSCAP_CRAWLER_TOKENS[token]})"
            elif kind == "Browser" and properties.get("Device_Type") == "unknown":
                kind = "browser on an unknown device"
            found = labels.setdefault(fields["ua"], set())
            if kind is not None:
                found.add(kind)
    kept = []
    for ua, kinds in sorted(labels.items()):
        if not kinds:
            dropped["browscap-rest: no Browser_Type stated"] += 1
        elif len(kinds) > 1:
            dropped["browscap-rest: a string with two labels"] += 1
        elif kinds == {"Browser"}:
            kept.append(ua)
        else:
            dropped[f"browscap-rest: {next(iter(kinds))}"] += 1
    return kept


def _user_agents(node: Any) -> Iterable[str]:
    """Every ``user_agent`` value of a Matomo fixture file, however deep."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "user_agent" and isinstance(value, str):
                yield value
            else:
                yield from _user_agents(value)
    elif isinstance(node, list):
        for item in node:
            yield from _user_agents(item)


def list_corpora(crawler_detect: Path) -> list[str]:
    """The bot lists' whole corpora: Matomo's fixtures, Crawler-Detect's, crawler-user-agents'."""
    import crawleruseragents
    import device_detector

    base = Path(device_detector.__file__).parent / "tests/fixtures/upstream"
    strings: list[str] = []
    for path in sorted(glob.glob(str(base / "*.yml"))):
        strings.extend(_user_agents(yaml_rs.loads(Path(path).read_text(encoding="utf-8"))))
    texts = sorted(glob.glob(str(crawler_detect / "**/fixtures/*/*.txt"), recursive=True))
    if len(texts) < 2:
        raise SystemExit(f"no Crawler-Detect fixtures under {crawler_detect}")
    for path in texts:
        strings.extend(Path(path).read_text(encoding="utf-8").splitlines())
    strings.extend(i for e in crawleruseragents.CRAWLER_USER_AGENTS_DATA for i in e["instances"])
    return [s for s in strings if s.strip()]


#: fixture files written after this one from sources it holds none of: they removed every
#: string of this file already (the other way round a tune row contained in one of theirs
#: would leave this file on a rerun)
WRITTEN_AFTER = frozenset({"fresh3.tsv"})


def fixture_cells(out: Path, skip: frozenset[str] = frozenset()) -> list[str]:
    """Every line and cell of the directory's other files (held-out corpora among them)."""
    cells: list[str] = []
    for path in sorted(FIXTURES.iterdir()):
        if path.suffix not in (".txt", ".tsv") or path.resolve() == out.resolve():
            continue
        if path.name in skip:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                cells.append(line)
                cells.extend(line.split("\t"))
    return [c for c in cells if c.strip()]


class Known:
    """Strings to keep out: equal to one, or contained in one, after ``normal``."""

    def __init__(self, strings: list[str]) -> None:
        self.equal = {normal(s) for s in strings}
        self.joined = "\n".join(sorted(self.equal))

    def why(self, ua: str) -> str | None:
        key = normal(ua)
        if key in self.equal:
            return "equal"
        return "contained" if key in self.joined else None


def draw(
    name: str,
    labelled: list[str],
    seen: set[str],
    lists: Known,
    fixtures: Known,
    dropped: Counter[str],
) -> list[str]:
    """The source's survivors: all, or a sample of ``PER_SOURCE`` (sorted, shuffled, first)."""
    order = sorted(labelled)
    random.Random(SEED).shuffle(order)
    kept: list[str] = []
    for ua in order:
        if ua in seen:
            dropped[f"{name}: duplicate"] += 1
            continue
        seen.add(ua)
        if ua != ua.strip():
            reason = "surrounding white space"
        elif "\t" in ua or "\n" in ua or "\r" in ua:
            reason = "tab or newline"
        elif why := lists.why(ua):
            reason = f"in a bot list's corpus ({why})"
        elif why := fixtures.why(ua):
            reason = f"in another fixture of this directory ({why})"
        else:
            kept.append(ua)
            continue
        dropped[f"{name}: {reason}"] += 1
    dropped[f"{name}: survivors"] = len(kept)
    if name in WHOLE:
        return sorted(kept)
    if len(kept) > PER_SOURCE:
        dropped[f"{name}: survivors past the sample of {PER_SOURCE}"] = len(kept) - PER_SOURCE
    return sorted(kept[:PER_SOURCE])


def header(labelled: dict[str, int], dropped: Counter[str], rows: dict[str, list[str]]) -> str:
    lines = [
        "TUNE corpus (bench role 'tune (2)', added 2026-12-05; the sources after ua-parser-js "
        "added later that day, drawn after the first three so that their rows are unchanged): "
        "rules MAY be derived from these rows; they are no held-out figure. People's browsers "
        "(in-app browsers and web views included), each source's own labels. Written by "
        "bench/make_tune_corpus.py (its docstring gives every rule).",
        *(f"Source {name}: {text}." for name, text in SOURCES.items()),
        "Licence texts: tests/fixtures/useragents/README.md. Changed from the originals: only "
        "the user agents labelled a person's browser are kept, and a label 'browser'.",
        "Removed: a bot list's corpus string (Matomo device-detector 6.5.1's every fixture, "
        "client-hint files included; Crawler-Detect 1.4.1's whole crawlers.txt and devices.txt, "
        "from the crawlerdetect 0.4.2 sdist; crawler-user-agents' instances) or any line or "
        "cell of another file of this directory, equal to it or contained in it after "
        "collapsing white space and case folding; duplicates; strings with surrounding white "
        "space, tabs or newlines.",
        f"Drawn/kept rule: per source, the labelled strings sorted, shuffled with "
        f"random.Random({SEED}), the first {PER_SOURCE} that survive the removals (all of them "
        f"when fewer survive; every survivor of {', '.join(sorted(WHOLE))}, the tune side of "
        "a held-out file's split); rows sorted by source, then user agent.",
        "Counts: "
        + "; ".join(
            f"{name} labelled browser {n}, kept {len(rows[name])}" for name, n in labelled.items()
        )
        + ".",
        *(f"  {reason}: {count}" for reason, count in sorted(dropped.items())),
        "Columns: label, source, user agent.",
    ]
    out: list[str] = []
    for line in lines:
        out.extend(_wrap(line))
    return "\n".join(f"# {line}".rstrip() for line in out) + "\n"


def _wrap(text: str, width: int = 96) -> list[str]:
    indent = text[: len(text) - len(text.lstrip())]
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = indent + word
        else:
            line = f"{line} {word}" if line else indent + word
    return [*lines, line]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bowser", type=Path, required=True, help="useragentstrings.yml")
    parser.add_argument("--uap-core", type=Path, required=True, help="a uap-core checkout")
    parser.add_argument("--ua-parser-js", type=Path, required=True, help="browser-test.json")
    parser.add_argument(
        "--fnando-browser", type=Path, required=True, help="fnando/browser's ua.yml"
    )
    parser.add_argument(
        "--mobile-detect", type=Path, required=True, help="Mobile-Detect's tests/providers/vendors"
    )
    parser.add_argument(
        "--php-user-agent", type=Path, required=True, help="PhpUserAgent's user_agents.dist.json"
    )
    parser.add_argument(
        "--mileusna", type=Path, required=True, help="mileusna/useragent's ua_test.go"
    )
    parser.add_argument(
        "--detect-browser", type=Path, required=True, help="detect-browser's test/logic.js"
    )
    parser.add_argument("--inapp-spy", type=Path, required=True, help="inapp-spy's src/tests")
    parser.add_argument(
        "--browscap", type=Path, required=True, help="browscap's tests/issues directory"
    )
    parser.add_argument(
        "--crawler-detect", type=Path, required=True, help="the crawlerdetect 0.4.2 sdist, unpacked"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    dropped: Counter[str] = Counter()
    labelled = {
        "bowser": bowser(args.bowser, dropped),
        "uap-core": uap_core(args.uap_core, dropped),
        "ua-parser-js": ua_parser_js(args.ua_parser_js, dropped),
        # added 2026-12-05, after the three above: drawn after them, so their rows are unchanged
        "fnando-browser": fnando_browser(args.fnando_browser, dropped),
        "Mobile-Detect": mobile_detect(args.mobile_detect, dropped),
        "PhpUserAgent": php_user_agent(args.php_user_agent, dropped),
        "mileusna-useragent": mileusna_useragent(args.mileusna, dropped),
        "detect-browser": detect_browser(args.detect_browser, dropped),
        "inapp-spy": inapp_spy(args.inapp_spy, dropped),
        # added 2026-12-05 (session 16), after the nine above (its own "tune (2)" line)
        "browscap-rest": browscap_rest(args.browscap, dropped),
    }
    lists = Known(list_corpora(args.crawler_detect))
    fixtures = Known(fixture_cells(args.out, WRITTEN_AFTER))
    seen: set[str] = set()  # every string met so far, in any source
    rows = {name: draw(name, uas, seen, lists, fixtures, dropped) for name, uas in labelled.items()}
    with args.out.open("w", encoding="utf-8", newline="\n") as out:
        out.write(header({k: len(v) for k, v in labelled.items()}, dropped, rows))
        for name, uas in rows.items():
            out.writelines(f"browser\t{name}\t{ua}\n" for ua in uas)
    for reason, count in sorted(dropped.items()):
        print(f"{count:6d}  {reason}", file=sys.stderr)
    print(f"{sum(map(len, rows.values()))} rows written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
