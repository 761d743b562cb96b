"""Write tests/fixtures/useragents/tune-browsers.tsv: labelled browser user agents to tune from.

A **tune** corpus (bench role ``tune (2)``): rules may be derived from it, unlike the held-out
corpora. Its rows are people's browsers (in-app browsers and web views included) as labelled
by three projects' test suites, none of them a bot list's corpus:

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

Removed (each counted): strings with surrounding white space, tabs or newlines; a string
already taken (from an earlier source or earlier in its own); a string equal to, or contained
in, one of the bot lists' whole corpora after collapsing white space and case folding
(Matomo device-detector's every fixture, client-hint files included; Crawler-Detect's whole
``crawlers.txt``/``devices.txt``, user-agent and ``sec_ch_ua``; crawler-user-agents'
instances) or any line or cell of any other file of tests/fixtures/useragents/ (the
held-out corpora above all). A source with more than ``PER_SOURCE`` survivors is sampled:
its labelled strings sorted, shuffled with ``random.Random(2026)``, the first ``PER_SOURCE``
that survive the removals.

    python bench/make_tune_corpus.py --bowser useragentstrings.yml --uap-core UAP_CORE_DIR \\
        --ua-parser-js browser-test.json --crawler-detect CRAWLERDETECT_SDIST_DIR
"""

from __future__ import annotations

import argparse
import glob
import json
import random
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


def fixture_cells(out: Path) -> list[str]:
    """Every line and cell of the directory's other files (held-out corpora among them)."""
    cells: list[str] = []
    for path in sorted(FIXTURES.iterdir()):
        if path.suffix not in (".txt", ".tsv") or path.resolve() == out.resolve():
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
    if len(kept) > PER_SOURCE:
        dropped[f"{name}: survivors past the sample of {PER_SOURCE}"] = len(kept) - PER_SOURCE
    return sorted(kept[:PER_SOURCE])


def header(labelled: dict[str, int], dropped: Counter[str], rows: dict[str, list[str]]) -> str:
    lines = [
        "TUNE corpus (bench role 'tune (2)', added 2026-12-05): rules MAY be derived from these "
        "rows; they are no held-out figure. People's browsers (in-app browsers and web views "
        "included), each source's own labels. Written by bench/make_tune_corpus.py (its "
        "docstring gives every rule).",
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
        "when fewer survive); rows sorted by source, then user agent.",
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
        "--crawler-detect", type=Path, required=True, help="the crawlerdetect 0.4.2 sdist, unpacked"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    dropped: Counter[str] = Counter()
    labelled = {
        "bowser": bowser(args.bowser, dropped),
        "uap-core": uap_core(args.uap_core, dropped),
        "ua-parser-js": ua_parser_js(args.ua_parser_js, dropped),
    }
    lists, fixtures = Known(list_corpora(args.crawler_detect)), Known(fixture_cells(args.out))
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
