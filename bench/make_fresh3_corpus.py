"""Write tests/fixtures/useragents/fresh3.tsv: a third fresh, labelled held-out corpus.

Why: the bot classifier's held-out figures should be measured once more on user agents that
no rule was derived from and that no earlier fixture of this repository holds. These rows
come from nine projects' test suites this repository had not used (no bot list's corpus, no
tune or held-out source): each row keeps a user agent and the label the source's own test
gives it, "crawler" or "browser". Build it, measure once; never tune from it.

Rules per source (the header of the written file gives the counts):

- platform.js (bestiejs/platform.js, MIT): ``test/test.js``'s ``Tests`` object, each entry's
  ``ua`` with its expected ``name``: browser but for ``PLATFORM_JS_LEFT_OUT`` (Adobe AIR,
  Electron, NW.js, PhantomJS and the server runtimes). It labels no crawler.
- uasurfer (avct/uasurfer, Apache-2.0): ``uasurfer_test.go``'s ``testUAVars`` (commented-out
  cases skipped): crawler when its expected OS platform is ``PlatformBot`` (or a bot browser
  name), but the PhantomJS case (headless) and a case that is a pasted debug print (its
  string starts ``{UA:``); browser when it names a browser of ``UASURFER_BROWSERS`` (not
  ``BrowserUnknown``, not the Spotify app) on a known device type.
- mssola-user_agent (mssola/user_agent, MIT): ``all_test.go``'s ``uastrings``: crawler when
  ``Bot:true`` is expected; browser when ``Bot:false`` and a browser name is expected but
  for ``MSSOLA_LEFT_OUT`` (headless/automation, app shell, HTTP libraries and tools, generic
  ``Mozilla`` names); the Dalvik cases name no browser.
- medama-useragent (medama-io/go-useragent, MIT): ``testdata/cases.go``'s ``TestCases``,
  paired by position with ``ua_test.go``'s ``resultCases``: crawler for ``DeviceBot`` but the
  HeadlessChrome case; browser for a named ``Browser`` on any other device.
- express-useragent (biggora/express-useragent, MIT): ``tests/legacy/*.js`` (the files of
  ``EXPRESS_LEGACY_FILES``) and ``tests/bots.test.ts``: crawler when the test asserts
  ``isBot`` true; browser when it asserts no bot and one of ``EXPRESS_BROWSER_FLAGS`` true
  (or ``isBot: false`` in bots.test.ts), on a ``Mozilla/`` or ``Opera/`` string (its flags
  also mark devices and engines; this also leaves out apps' own clients and a string with a
  pasted ``User-Agent:`` prefix). Electron's and GeoIP's legacy files are not read.
- python-user-agents (selwin/python-user-agents, MIT): ``user_agents/devices.json``:
  crawler when ``is_bot`` is true; browser when it is false and the browser part of its
  expected ``str`` names a browser (not ``Other``, not missing).
- jenssegers-agent (jenssegers/agent, MIT): ``tests/AgentTest.php``: ``$robots`` are
  crawlers; ``$browsers`` (named browsers) and the device lists asserted no robot
  (``$desktops``, ``$phones``, ``$mobileDevices``, ``$desktopDevices``) browsers, the device
  lists' only on a ``Mozilla/`` or ``Opera/`` string (they label devices, not clients).
- php-browser-detector (sinergi/php-browser-detector, MIT):
  ``tests/BrowserDetector/Tests/_files/UserAgentStrings.xml``: browser for every named
  ``browser`` but wkhtmltopdf (a headless renderer); the XML wraps each string over lines,
  which are joined with one space (the test's own mapper turns line ends into spaces).
- Browser.php (cbschuld/Browser.php, MIT): ``tests/lists/*.txt`` (tab-separated: user agent,
  type, browser name, ...): browser for every row (types ``Browser`` and ``Console``).

Every source: a string labelled a browser that names a crawler, a headless browser or a
developer tool (``BROWSER_LEFT_OUT_TOKENS``, the string's own words) is left out.

Removed (each counted per source and label): a string labelled both ways (by two sources,
or two cases of one); strings with surrounding white space, tabs or newlines; a string
already taken (from an earlier source or earlier in its own); a string equal to, or
contained in, one of the bot lists' whole corpora after collapsing white space and case
folding (Matomo device-detector's every fixture; Crawler-Detect's whole crawlers.txt and
devices.txt from the crawlerdetect 0.4.2 sdist; crawler-user-agents' instances), or any
line or cell of any other file of tests/fixtures/useragents/ (tune-browsers.tsv and every
held-out corpus). A source with more than ``PER_SOURCE`` survivors of a label is sampled:
its labelled strings sorted, shuffled with ``random.Random(2026)``, the first ``PER_SOURCE``
that survive (``draw`` of bench/make_tune_corpus.py).

    python bench/make_fresh3_corpus.py --platform-js test.js --uasurfer uasurfer_test.go \\
        --mssola all_test.go --medama-cases cases.go --medama-test ua_test.go \\
        --express-useragent EXPRESS_USERAGENT/tests --python-user-agents devices.json \\
        --jenssegers AgentTest.php --sinergi UserAgentStrings.xml \\
        --browser-php BROWSER_PHP/tests/lists \\
        --crawler-detect CRAWLERDETECT_SDIST_DIR
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from make_tune_corpus import (
    FIXTURES,
    PER_SOURCE,
    SEED,
    Known,
    _php_array,
    _php_tokens,
    _wrap,
    draw,
    fixture_cells,
    list_corpora,
    normal,
)

OUT = FIXTURES / "fresh3.tsv"

#: (label, user agent) pairs of one source
Labelled = list[tuple[str, str]]

#: what each source is, for the file's header (the versions this file was drawn from)
SOURCES = {
    "platform.js": "platform.js (bestiejs/platform.js, Copyright 2014-2020 Benjamin Tan, "
    "Copyright 2011-2013 John-David Dalton, MIT licence), test/test.js at commit "
    "44978b28a5eaa992cf3e0d57d3fa5d4fb6e1026e (2020-07-04, 1.3.6 plus one commit)",
    "uasurfer": "uasurfer (avct/uasurfer, Copyright 2015 Avocet Systems Ltd., Apache License "
    "2.0), uasurfer_test.go at commit a0b2b1af2b48faae0aa591fdbe26cb69651e4a31 (2025-11-03)",
    "mssola-user_agent": "user_agent (mssola/user_agent, Copyright (c) 2012-2023 Miquel Sabaté "
    "Solà, MIT licence), all_test.go at commit 25e7f7406e60f182741174fd5804bca2b6a110ee "
    "(2023-02-17, v0.6.0 plus one commit)",
    "medama-useragent": "go-useragent (medama-io/go-useragent, Copyright (c) 2023 medama-io, "
    "MIT licence), testdata/cases.go and ua_test.go at commit "
    "38c5aa6b05232ef09068b2f33d5a9fb155ae4d21 (2025-01-19, v1.0.3 plus 4 commits)",
    "express-useragent": "express-useragent (biggora/express-useragent, Copyright (c) "
    "2012-2025 Aleksejs Gordejevs, MIT licence), tests/bots.test.ts and, in tests/legacy/, "
    "bots, browsers, silk, smart_tv, android_phone, android_tablet, mobile_native and wechat "
    ".test.js and ios.js at commit 015f88b98acacc4f77d824ca3d1746be83e31c8a (2026-07-29, "
    "v2.2.1 plus 6 commits)",
    "python-user-agents": "user-agents (selwin/python-user-agents, Copyright (c) 2013 Selwin "
    "Ong, MIT licence), user_agents/devices.json at commit "
    "5f2d80ab7f9833481089813f48241098679f5f05 (2023-02-16, v2.2.0 plus 6 commits)",
    "jenssegers-agent": "agent (jenssegers/agent, Copyright (c) 2020 Jens Segers, MIT "
    "licence), tests/AgentTest.php at commit 1d91c71bc076a60061e0498216c0caf849eced94 "
    "(2021-01-24, v2.6.4 plus 4 commits)",
    "php-browser-detector": "php-browser-detector (sinergi/php-browser-detector, Copyright (c) "
    "2013-2017 Chris Schuld, MIT licence), tests/BrowserDetector/Tests/_files/"
    "UserAgentStrings.xml at commit b63c08bf40e90d1ddb80ef8fbe69b25f554a0f0c (2022-02-24, "
    "6.1.4 plus 3 commits)",
    "Browser.php": "Browser.php (cbschuld/Browser.php, Copyright 2013 - 2019 Chris Schuld, MIT "
    "licence), tests/lists/*.txt at commit 9d07d6410977d494d7b8ecc2f3c877645c5477d9 "
    "(2020-04-14, tag v1.9.6)",
}

#: words in a string labelled a browser that make it no person's browser
BROWSER_LEFT_OUT_TOKENS = {
    "googlebot": "names Googlebot",
    "google web preview": "names Google's page-preview fetcher",
    "msiecrawler": "names IE's offline-reading crawler (MSIECrawler)",
    "appengine-google": "names Google App Engine's URL fetcher",
    "wechatdevtools": "WeChat DevTools, a developer tool",
    "headlesschrome": "headless/automation",
    "phantomjs": "headless/automation",
    "slimerjs": "headless/automation",
    "electron/": "app shell",
}

#: platform.js names that are no person's browser
PLATFORM_JS_LEFT_OUT = {
    "Adobe AIR": "app runtime",
    "Electron": "app shell",
    "NW.js": "app shell",
    "PhantomJS": "headless/automation",
    "Node.js": "server runtime",
    "Narwhal": "server runtime",
    "RingoJS": "server runtime",
    "Rhino": "server runtime",
}

#: uasurfer's browser names of people's browsers (its others: unknown, the Spotify app, bots)
UASURFER_BROWSERS = frozenset(
    {
        "BrowserChrome", "BrowserIE", "BrowserSafari", "BrowserFirefox", "BrowserAndroid",
        "BrowserOpera", "BrowserBlackberry", "BrowserUCBrowser", "BrowserSilk", "BrowserNokia",
        "BrowserNetFront", "BrowserQQ", "BrowserMaxthon", "BrowserSogouExplorer", "BrowserNintendo",
        "BrowserSamsung", "BrowserYandex", "BrowserCocCoc",
    }
)
UASURFER_DEVICES = frozenset(
    {
        "DeviceComputer", "DeviceTablet", "DevicePhone", "DeviceConsole", "DeviceWearable",
        "DeviceTV",
    }
)

#: mssola/user_agent's browser names that are no person's browser
MSSOLA_LEFT_OUT = {
    "Headless Chrome": "headless/automation",
    "PhantomJS": "headless/automation",
    "Electron": "app shell",
    "curl": "HTTP tool",
    "Python-urllib": "HTTP library",
    "OkHttp": "HTTP library",
    "Rails": "a framework's test client",
    "Mozilla": "no browser named",
    "nil": "no browser named",
}

#: express-useragent's legacy test files read (electron: app shells; geoip: no user agent)
EXPRESS_LEGACY_FILES = (
    "bots.test.js",
    "browsers.test.js",
    "ios.js",
    "silk.test.js",
    "smart_tv.test.js",
    "android_phone.test.js",
    "android_tablet.test.js",
    "mobile_native.test.js",
    "wechat.test.js",
)
#: express-useragent's flags that name a browser (in-app ones included)
EXPRESS_BROWSER_FLAGS = frozenset(
    {
        "isChrome", "isFirefox", "isSafari", "isOpera", "isIE", "isEdge", "isKonqueror",
        "isOmniWeb", "isSeaMonkey", "isFlock", "isAmaya", "isEpiphany", "isSilk", "isUC",
        "isFacebook", "isWechat", "isSamsungBrowser", "isYaBrowser",
    }
)

_JS_LITERAL = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""


def _js_string(literal: str) -> str:
    """A JavaScript (or Go) string literal's value."""
    body = literal[1:-1]
    return re.sub(
        r"\\(u[0-9a-fA-F]{4}|.)",
        lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5 else m.group(1),
        body,
    )


def _no_line_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def platform_js(path: Path, dropped: Counter[str]) -> Labelled:
    """platform.js: each ``Tests`` entry's ``ua`` and expected ``name``."""
    text = path.read_text(encoding="utf-8")
    start = text.index("var Tests = {")
    body = text[start : text.index("\n  };\n", start)]
    entries = re.split(r"\n    '(?:[^'\\]|\\.)*'\s*:\s*", body)[1:]
    rows: Labelled = []
    for entry in entries:
        ua = re.search(r"\n      'ua'\s*:\s*(" + _JS_LITERAL + ")", "\n" + entry)
        name = re.search(r"\n\s+'name'\s*:\s*(" + _JS_LITERAL + ")", "\n" + entry)
        if not ua:
            continue  # a runtime-only case (no user agent)
        browser = _js_string(name.group(1)) if name else ""
        if not browser:
            dropped["platform.js: no browser named"] += 1
        elif browser in PLATFORM_JS_LEFT_OUT:
            dropped[f"platform.js: {browser} ({PLATFORM_JS_LEFT_OUT[browser]})"] += 1
        else:
            rows.append(("browser", _js_string(ua.group(1))))
    if len(entries) < 250:
        raise SystemExit(f"platform.js: only {len(entries)} entries read from {path}")
    return rows


_UASURFER_CASE = re.compile(
    r'\{"((?:[^"\\]|\\.)*)",[^\n]*\n\s*UserAgent\{\s*Browser\{(\w+),[^\n]*?OS\{(\w+),'
    r"[^\n]*?\}\},\s*(\w+)\}\}"
)


def uasurfer(path: Path, dropped: Counter[str]) -> Labelled:
    """uasurfer: a case's expected browser name, OS platform and device type."""
    text = _no_line_comments(path.read_text(encoding="utf-8"))
    rows: Labelled = []
    cases = _UASURFER_CASE.findall(text)
    empty = len(re.findall(r'\{"(?:[^"\\]|\\.)*",[^\n]*\n\s*UserAgent\{\}\}', text))
    dropped["uasurfer: an expected empty result (no user agent or unknown)"] += empty
    for literal, browser, platform, device in cases:
        ua = _js_string(f'"{literal}"')
        if platform == "PlatformBot" or (browser.endswith("Bot") and browser != "BrowserBot"):
            if ua.startswith("{UA:"):
                dropped["uasurfer: a pasted debug print, not a user agent"] += 1
            elif "phantomjs" in ua.lower():
                dropped["uasurfer: PhantomJS (headless/automation)"] += 1
            else:
                rows.append(("crawler", ua))
        elif browser in UASURFER_BROWSERS and device in UASURFER_DEVICES:
            rows.append(("browser", ua))
        else:
            dropped[f"uasurfer: {browser} on {device} (no person's browser named)"] += 1
    if len(cases) < 200:
        raise SystemExit(f"uasurfer: only {len(cases)} cases read from {path}")
    return rows


_MSSOLA_CASE = re.compile(
    r'title:\s*"((?:[^"\\]|\\.)*)",\s*ua:\s*"((?:[^"\\]|\\.)*)",\s*'
    r'expected:\s*"((?:[^"\\]|\\.)*)"'
)


def mssola(path: Path, dropped: Counter[str]) -> Labelled:
    """mssola/user_agent: a case's expected ``Bot:`` flag and ``Browser:`` name."""
    text = _no_line_comments(path.read_text(encoding="utf-8"))
    rows: Labelled = []
    cases = _MSSOLA_CASE.findall(text)
    for _title, literal, expected in cases:
        ua = _js_string(f'"{literal}"')
        named = re.search(r"Browser:(.+?) (?:Engine:|Bot:)", expected)
        browser = re.sub(r"-[0-9v][^ ]*$", "", named.group(1)) if named else ""
        if not ua:
            dropped["mssola-user_agent: empty user agent"] += 1
        elif "Bot:true" in expected:
            rows.append(("crawler", ua))
        elif "Bot:false" not in expected:
            raise SystemExit(f"mssola-user_agent: no Bot flag in {expected!r}")
        elif not browser:
            dropped["mssola-user_agent: no browser named (Dalvik, an app's client)"] += 1
        elif browser in MSSOLA_LEFT_OUT:
            dropped[f"mssola-user_agent: {browser} ({MSSOLA_LEFT_OUT[browser]})"] += 1
        else:
            rows.append(("browser", ua))
    if len(cases) < 120:
        raise SystemExit(f"mssola-user_agent: only {len(cases)} cases read from {path}")
    return rows


def medama(cases_path: Path, test_path: Path, dropped: Counter[str]) -> Labelled:
    """medama-io/go-useragent: ``TestCases`` paired by position with ``resultCases``."""
    cases_text = _no_line_comments(cases_path.read_text(encoding="utf-8"))
    uas = [_js_string(s) for s in re.findall(r'^\s*("(?:[^"\\]|\\.)*"),', cases_text, re.M)]
    test_text = _no_line_comments(test_path.read_text(encoding="utf-8"))
    block = test_text[test_text.index("var resultCases = []ResultCase{") :]
    block = block[: block.index("\n}\n")]
    results = [
        dict(re.findall(r"(\w+): agents\.(\w+)", line))
        for line in block.splitlines()
        if line.strip().startswith("{")
    ]
    if len(uas) != len(results) or len(uas) < 40:
        raise SystemExit(f"medama: {len(uas)} user agents but {len(results)} results")
    rows: Labelled = []
    for ua, result in zip(uas, results, strict=True):
        if result.get("Device") == "DeviceBot":
            if "headlesschrome" in ua.lower():
                dropped["medama-useragent: HeadlessChrome (headless/automation)"] += 1
            else:
                rows.append(("crawler", ua))
        elif result.get("Browser"):
            rows.append(("browser", ua))
        else:
            dropped["medama-useragent: no browser named"] += 1
    return rows


def _express_source(block: str) -> str | None:
    """The user agent a legacy express-useragent test parses: ``var s = '...' + '...';``
    or ``var source = ''; source += '...';``."""
    found = re.search(r"var (\w+) =\s*((?:(?:" + _JS_LITERAL + r")\s*\+?\s*)+);", block)
    if not found:
        return None
    value = "".join(_js_string(s) for s in re.findall(_JS_LITERAL, found.group(2)))
    for more in re.findall(r"\b" + found.group(1) + r" \+= (" + _JS_LITERAL + ");", block):
        value += _js_string(more)
    return value


def express_useragent(directory: Path, dropped: Counter[str]) -> Labelled:
    """express-useragent: legacy tests' asserted flags and bots.test.ts's ``isBot``."""
    rows: Labelled = []
    name = "express-useragent"
    for file in EXPRESS_LEGACY_FILES:
        text = (directory / "legacy" / file).read_text(encoding="utf-8")
        for block in re.split(r"\nexports\[", text)[1:]:
            ua = _express_source(block)
            if ua is None:
                raise SystemExit(f"{name}: no user agent in legacy/{file}: {block[:60]!r}")
            true = set(re.findall(r"test\.ok\(\w+\.(is\w+)", block))
            if "isBot" in true:
                rows.append(("crawler", ua))
            elif not true & EXPRESS_BROWSER_FLAGS:
                dropped[f"{name}: no browser flag asserted (an app's client, engine only)"] += 1
            elif not ua.startswith(("Mozilla/", "Opera/")):
                dropped[f"{name}: a browser flag on no Mozilla/ or Opera/ string"] += 1
            else:
                rows.append(("browser", ua))
    text = (directory / "bots.test.ts").read_text(encoding="utf-8")
    cases = re.split(r"\n  \{\n    name:", text)[1:]
    for case in cases:
        found = re.search(r"source:\s*((?:(?:" + _JS_LITERAL + r")\s*\+?\s*)+),", case)
        bot = re.search(r"\n    isBot: (true|false)", case)
        if not found or not bot:
            raise SystemExit(f"{name}: bots.test.ts case not understood: {case[:60]!r}")
        ua = "".join(_js_string(s) for s in re.findall(_JS_LITERAL, found.group(1)))
        if bot.group(1) == "true":
            rows.append(("crawler", ua))
        elif ua.startswith(("Mozilla/", "Opera/")):
            rows.append(("browser", ua))
        else:
            dropped[f"{name}: not a bot, on no Mozilla/ or Opera/ string"] += 1
    return rows


def python_user_agents(path: Path, dropped: Counter[str]) -> Labelled:
    """python-user-agents' devices.json: ``is_bot`` and the browser part of ``str``."""
    rows: Labelled = []
    for case in json.loads(path.read_text(encoding="utf-8")).values():
        parts = case["str"].split(" / ")
        if case["is_bot"]:
            rows.append(("crawler", case["ua_string"]))
        elif len(parts) == 3 and parts[2] != "Other":
            rows.append(("browser", case["ua_string"]))
        else:
            dropped["python-user-agents: no browser named"] += 1
    return rows


def _php_property(text: str, name: str) -> list[tuple[str | None, str]]:
    """A ``private $name = [...];`` array of a PHP test class."""
    start = text.index(f"private ${name} = [")
    end = text.index("\n    ];", start) + len("\n    ]")
    pairs, _ = _php_array(_php_tokens(text[text.index("[", start) : end]), 0)
    return pairs


def jenssegers_agent(path: Path, dropped: Counter[str]) -> Labelled:
    """jenssegers/agent's AgentTest: robots, named browsers and device lists (no robot)."""
    text = path.read_text(encoding="utf-8")
    rows: Labelled = [("crawler", ua) for ua, _ in _php_property(text, "robots")]
    rows += [("browser", ua) for ua, _ in _php_property(text, "browsers")]
    for device_list in ("desktops", "phones", "mobileDevices", "desktopDevices"):
        for key, value in _php_property(text, device_list):
            ua = key if key is not None else value
            if not ua.startswith(("Mozilla/", "Opera/")):
                dropped["jenssegers-agent: a device list's string, no Mozilla/ or Opera/"] += 1
            else:
                rows.append(("browser", ua))
    return rows


def sinergi(path: Path, dropped: Counter[str]) -> Labelled:
    """php-browser-detector's UserAgentStrings.xml: the ``browser`` field and the string."""
    rows: Labelled = []
    for case in ET.parse(path).getroot().iter("string"):
        fields = {f.get("name"): (f.text or "") for f in case.findall("field")}
        ua = " ".join(fields["string"].split())
        browser = fields["browser"].strip()
        if browser == "wkhtmltopdf":
            dropped["php-browser-detector: wkhtmltopdf (headless renderer)"] += 1
        elif not browser or browser == "unknown":
            dropped["php-browser-detector: no browser named"] += 1
        else:
            rows.append(("browser", ua))
    return rows


def browser_php(directory: Path, dropped: Counter[str]) -> Labelled:
    """Browser.php's tab-separated lists: every row is a named browser."""
    rows: Labelled = []
    files = sorted(directory.glob("*.txt"))
    if len(files) < 9:
        raise SystemExit(f"Browser.php: only {len(files)} lists under {directory}")
    for file in files:
        with file.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle, delimiter="\t"):
                if not row:
                    continue
                if row[1] not in ("Browser", "Console") or not row[2]:
                    dropped[f"Browser.php: type {row[1]!r} / name {row[2]!r}"] += 1
                    continue
                rows.append(("browser", row[0]))
    return rows


def left_out_token(ua: str) -> str | None:
    low = ua.lower()
    return next((why for token, why in BROWSER_LEFT_OUT_TOKENS.items() if token in low), None)


def header(
    labelled: dict[str, Counter[str]],
    dropped: Counter[str],
    rows: list[tuple[str, str, str]],
) -> str:
    kept = Counter((source, label) for label, source, _ in rows)
    counts = "; ".join(
        f"{source} labelled crawler {n['crawler']}, browser {n['browser']}, kept crawler "
        f"{kept[source, 'crawler']}, browser {kept[source, 'browser']}"
        for source, n in labelled.items()
    )
    lines = [
        "FRESH HELD-OUT corpus, third set (bench role 'held-out (fresh 3)', added 2026-12-05): "
        "user agents labelled 'crawler' or 'browser' by nine projects' own test suites that "
        "no earlier fixture here came from. Measure once; never derive a rule from these rows. "
        "Written by bench/make_fresh3_corpus.py (its docstring gives every rule).",
        *(f"Source {name}: {text}." for name, text in SOURCES.items()),
        "Licence texts: tests/fixtures/useragents/README.md. Changed from the original: only "
        "each test's user agent and a label were kept.",
        "Labelling rule: each source's own label. crawler = the test expects a bot, crawler, "
        "spider or robot (uasurfer: OS platform PlatformBot; mssola: Bot:true; medama: "
        "DeviceBot; express-useragent: isBot; python-user-agents: is_bot; jenssegers: "
        "$robots). browser = the test expects a named web browser or an in-app browser / web "
        "view on a person's device (platform.js name; uasurfer browser name on a device type; "
        "mssola Browser: with Bot:false; medama Browser; express-useragent browser flags with "
        "no bot, on Mozilla/ or Opera/ strings; python-user-agents the browser part of str; "
        "jenssegers $browsers, and its device lists asserted no robot on Mozilla/ or Opera/ "
        "strings; php-browser-detector browser; Browser.php lists). Left out of 'browser': "
        "headless/automation, app shells, app runtimes, server runtimes, HTTP libraries and "
        "tools, apps' own clients, "
        "unnamed or generic browsers, strings naming a crawler or a developer tool; left out "
        "of both: pasted debug prints. A 'crawler' row keeps the source's label also where it "
        "calls an HTTP library or tool a bot (express-useragent: node-superagent, Dispatch, "
        "Go-http-client, Jersey, PostmanRuntime).",
        "Removed: a string labelled both ways (two sources, or two cases of one); a bot list's "
        "corpus string (Matomo device-detector 6.5.1's every fixture, client-hint files "
        "included; Crawler-Detect 1.4.1's whole crawlers.txt and devices.txt, from the "
        "crawlerdetect 0.4.2 sdist; crawler-user-agents' instances) or any line or cell of "
        "another file of this directory (tune-browsers.tsv and every held-out corpus), equal "
        "to it or contained in it after collapsing white space and case folding; duplicates; "
        "strings with surrounding white space, tabs or newlines.",
        f"Drawn/kept rule: per source and label, the labelled strings sorted, shuffled with "
        f"random.Random({SEED}), the first {PER_SOURCE} that survive the removals (all of them "
        "when fewer survive); rows sorted by source, then label, then user agent.",
        f"Counts: {counts}.",
        *(f"  {reason}: {count}" for reason, count in sorted(dropped.items())),
        "Columns: label, source, user agent.",
    ]
    out: list[str] = []
    for line in lines:
        out.extend(_wrap(line))
    return "\n".join(f"# {line}".rstrip() for line in out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, what in (
        ("--platform-js", "platform.js's test/test.js"),
        ("--uasurfer", "uasurfer's uasurfer_test.go"),
        ("--mssola", "mssola/user_agent's all_test.go"),
        ("--medama-cases", "go-useragent's testdata/cases.go"),
        ("--medama-test", "go-useragent's ua_test.go"),
        ("--express-useragent", "express-useragent's tests directory"),
        ("--python-user-agents", "python-user-agents' user_agents/devices.json"),
        ("--jenssegers", "jenssegers/agent's tests/AgentTest.php"),
        ("--sinergi", "php-browser-detector's UserAgentStrings.xml"),
        ("--browser-php", "Browser.php's tests/lists directory"),
        ("--crawler-detect", "the crawlerdetect 0.4.2 sdist, unpacked"),
    ):
        parser.add_argument(flag, type=Path, required=True, help=what)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    dropped: Counter[str] = Counter()
    readers: dict[str, Callable[[], Labelled]] = {
        "platform.js": lambda: platform_js(args.platform_js, dropped),
        "uasurfer": lambda: uasurfer(args.uasurfer, dropped),
        "mssola-user_agent": lambda: mssola(args.mssola, dropped),
        "medama-useragent": lambda: medama(args.medama_cases, args.medama_test, dropped),
        "express-useragent": lambda: express_useragent(args.express_useragent, dropped),
        "python-user-agents": lambda: python_user_agents(args.python_user_agents, dropped),
        "jenssegers-agent": lambda: jenssegers_agent(args.jenssegers, dropped),
        "php-browser-detector": lambda: sinergi(args.sinergi, dropped),
        "Browser.php": lambda: browser_php(args.browser_php, dropped),
    }
    sources: dict[str, Labelled] = {}
    for name, read in readers.items():
        kept: Labelled = []
        for label, ua in read():
            why = left_out_token(ua) if label == "browser" else None
            if why:
                dropped[f"{name}: a browser string left out: {why}"] += 1
            else:
                kept.append((label, ua))
        sources[name] = kept
    labelled = {name: Counter(label for label, _ in rows) for name, rows in sources.items()}

    labels_of: dict[str, set[str]] = {}
    for rows in sources.values():
        for label, ua in rows:
            labels_of.setdefault(normal(ua), set()).add(label)
    lists, fixtures = Known(list_corpora(args.crawler_detect)), Known(fixture_cells(args.out))
    seen: set[str] = set()  # every string met so far, in any source
    out_rows: list[tuple[str, str, str]] = []
    for name, rows in sources.items():
        for label in ("crawler", "browser"):
            mine = []
            for row_label, ua in rows:
                if row_label != label:
                    continue
                if len(labels_of[normal(ua)]) > 1:
                    dropped[f"{name} {label}: labelled both ways"] += 1
                else:
                    mine.append(ua)
            if not mine:
                continue
            for ua in draw(f"{name} {label}", mine, seen, lists, fixtures, dropped):
                out_rows.append((label, name, ua))
    out_rows.sort(key=lambda row: (row[1], row[0], row[2]))
    body = "".join(f"{label}\t{source}\t{ua}\n" for label, source, ua in out_rows)
    args.out.write_text(header(labelled, dropped, out_rows) + body, encoding="utf-8")
    kept_labels = Counter(label for label, _, _ in out_rows)
    print(f"wrote {args.out}: {kept_labels['crawler']} crawlers, {kept_labels['browser']} browsers")


if __name__ == "__main__":
    main()
