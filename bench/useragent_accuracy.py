"""How right the user-agent verdicts are, on labelled corpora that stay put (pinned, offline).

Corpora (none of them written by this project):

- Matomo device-detector's test fixtures, as shipped inside the ``device_detector`` wheel
  pinned in pyproject.toml (``device_detector/tests/fixtures/upstream/*.yml``, LGPL-3.0):
  ``bots.yml`` (crawlers, monitors, AI agents: must be dropped), the HTTP-library fixtures
  (client type ``library``: must be dropped), and every fixture whose client is a browser
  (must be kept; its browser family, OS family and device type are the truth).
- Crawler-Detect's test fixtures (JayBizzle/Crawler-Detect v1.4.1 as synced into the
  ``crawlerdetect`` 0.4.2 sdist, MIT): a fixed random sample of 500 crawlers and 500
  devices committed under tests/fixtures/useragents/ (the whole files are 3,730 and 165,639
  lines; see that folder's README).
- crawler-user-agents' own examples (``instances`` in the JSON shipped by the pinned
  package): a self-check of that list more than an independent test.

Figures: crawlers let through (false negatives) per crawler corpus; real browsers dropped
(false positives) per browser corpus; browser family, OS family and device type agreement
with Matomo's labels on the browsers kept. Names are compared through ``NAME_EQUIVALENTS``
(ua-parser and Matomo spell the same browser differently: "Samsung Internet" and "Samsung
Browser") and then Matomo's own name → family relation (read from the same fixtures).

    python bench/useragent_accuracy.py [--classifier module:function] [--show 10]

``--classifier`` measures another implementation with the same interface (a function from
user agent to an object with browser_name/os_name/device_type, or None for a bot), e.g. the
code before this change saved to a file: ``--classifier /tmp/old_useragent.py:classify``.
"""

from __future__ import annotations

import argparse
import glob
import importlib
import importlib.util
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml_rs

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "useragents"
sys.path.insert(0, str(ROOT))

# Matomo device type → ours (stream_processor/devices.py says why)
DEVICE_OF_MATOMO = {
    "desktop": "desktop",
    "smartphone": "mobile",
    "phablet": "mobile",
    "feature phone": "mobile",
    "portable media player": "mobile",
    "tablet": "tablet",
    "tv": "tv",
    "console": "console",
    "wearable": "wearable",
    "car browser": "car",
    "camera": "other",
    "smart speaker": "other",
    "smart display": "other",
    "peripheral": "other",
}

# ua-parser name → the Matomo name of the same product (spelling only, never a guess)
NAME_EQUIVALENTS = {
    "Chrome Mobile WebView": "Chrome Webview",
    "Android": "Android Browser",
    "Samsung Internet": "Samsung Browser",
    "MiuiBrowser": "Mi Browser",
    "QQ Browser Mobile": "QQ Browser",
    "Huawei Browser": "Huawei Browser Mobile",
    "IE": "Internet Explorer",
    "IE Large Screen": "IE Mobile",
    "Edge": "Microsoft Edge",
    "Edge Mobile": "Microsoft Edge",
    "VivoBrowser": "vivo Browser",
    "Amazon Silk": "Mobile Silk",
    "UP.Browser": "Openwave Mobile Browser",
    "Mobile Safari UI/WKWebView": "Mobile Safari",
    "Puffin": "Puffin Web Browser",
    "HeyTap Browser": "HeyTapBrowser",
    "Qt Web Engine": "QtWebEngine",
    "Dolfin": "Dolphin",
    "BlackBerry WebKit": "BlackBerry Browser",
    "HiBrowser": "Hi Browser",
    "Epiphany": "GNOME Web",
    "Baidu Explorer": "Baidu Browser",
    "Ecosia Android": "Ecosia",
    "Atom Browser": "Atom",
    "Espial": "Espial TV Browser",
    "Seznam prohlížeč": "Seznam Browser",
    "Nokia Services (WAP) Browser": "Nokia Browser",
    "webOS Browser": "wOSBrowser",
    "Teleca Browser": "Obigo",
    "NetFront NX": "NetFront",
    "Firefox Mobile": "Firefox Mobile",
    "Chrome Mobile iOS": "Chrome Mobile iOS",
    "Firefox iOS": "Firefox Mobile iOS",
    "Opera Mini iOS": "Opera Mini iOS",
    "Edge iOS": "Microsoft Edge",
    "Yandex Browser": "Yandex Browser",
    "Mobile Safari": "Mobile Safari",
    "Vewd Browser": "Opera Devices",
}
# ua-parser OS name → Matomo OS name (spelling only)
OS_EQUIVALENTS = {
    "Mac OS X": "Mac",
    "Linux": "GNU/Linux",
    "Web0S": "webOS",
    "BlackBerry OS": "BlackBerry OS",
    "Symbian OS": "Symbian OS",
    "Symbian^3": "Symbian^3",
    "BREW": "Brew",
    "Brew MP": "Brew",
    "Chromecast Linux": "GNU/Linux",
    "Fedora": "Fedora",
    "FreeBSD": "FreeBSD",
    "Chrome OS": "Chrome OS",
    "ChromeOS": "Chrome OS",
}


def matomo_fixtures() -> list[dict[str, Any]]:
    spec = importlib.util.find_spec("device_detector")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("install the dev extra: pip install -e '.[dev]' (device_detector)")
    base = Path(next(iter(spec.submodule_search_locations))) / "tests/fixtures/upstream"
    rows: list[dict[str, Any]] = []
    for path in sorted(glob.glob(str(base / "*.yml"))):
        if os.path.basename(path).startswith("clienthints"):
            continue  # these need client-hint headers CloudFront does not log
        for row in yaml_rs.loads(Path(path).read_text(encoding="utf-8")):
            row["_file"] = os.path.basename(path)
            rows.append(row)
    return rows


def read_lines(name: str) -> list[str]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _client_type(row: dict[str, Any]) -> str | None:
    client = row.get("client")
    return client.get("type") if isinstance(client, dict) else None


def corpora() -> dict[str, tuple[str, list[Any]]]:
    """name → (kind, items): kind 'bot' (must drop) or 'browser' (must keep)."""
    import crawleruseragents

    rows = matomo_fixtures()
    return {
        "Matomo bots.yml": ("bot", [r["user_agent"] for r in rows if "bot" in r]),
        "Crawler-Detect crawlers (sample)": ("bot", read_lines("crawler-detect-crawlers.txt")),
        "Matomo HTTP libraries": (
            "bot",
            [r["user_agent"] for r in rows if _client_type(r) == "library"],
        ),
        "crawler-user-agents instances": (
            "bot",
            sorted({i for e in crawleruseragents.CRAWLER_USER_AGENTS_DATA for i in e["instances"]}),
        ),
        "Matomo browsers": ("browser", [r for r in rows if _client_type(r) == "browser"]),
        "Crawler-Detect devices (sample)": ("browser", read_lines("crawler-detect-devices.txt")),
        "Matomo mobile apps (info)": (
            "browser",
            [r["user_agent"] for r in rows if _client_type(r) == "mobile app"],
        ),
    }


def load_classifier(spec: str) -> Callable[[str], Any]:
    module_name, _, function = spec.partition(":")
    if module_name.endswith(".py"):
        loaded = importlib.util.spec_from_file_location("measured_useragent", module_name)
        assert loaded is not None and loaded.loader is not None
        module = importlib.util.module_from_spec(loaded)
        loaded.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    return getattr(module, function or "classify")


class Truth:
    """Matomo's own name → family relations, read from its fixtures."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.browser_family: dict[str, str] = {}
        self.os_family: dict[str, str] = {}
        for row in rows:
            client, system = row.get("client"), row.get("os")
            family = row.get("browser_family")
            if isinstance(client, dict) and family and family != "Unknown":
                self.browser_family.setdefault(client["name"], family)
            if isinstance(system, dict) and system.get("name") and row.get("os_family"):
                self.os_family.setdefault(system["name"], row["os_family"])

    def browser(self, ours: str | None) -> str | None:
        if ours is None:
            return None
        name = NAME_EQUIVALENTS.get(ours, ours)
        return self.browser_family.get(name, name)

    def os(self, ours: str | None) -> str | None:
        if ours is None:
            return None
        name = OS_EQUIVALENTS.get(ours, ours)
        return self.os_family.get(name, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", default="stream_processor.useragent:classify")
    parser.add_argument("--show", type=int, default=0, help="print N examples of each miss")
    args = parser.parse_args()
    classify = load_classifier(args.classifier)

    started = time.perf_counter()
    data = corpora()
    truth = Truth(data["Matomo browsers"][1])
    print(f"classifier: {args.classifier}")
    print("bots (share of each corpus given the wrong verdict):")
    for name, (kind, items) in data.items():
        user_agents = [i["user_agent"] if isinstance(i, dict) else i for i in items]
        wrong = [ua for ua in user_agents if (classify(ua) is None) != (kind == "bot")]
        label = "crawlers let through" if kind == "bot" else "real browsers dropped"
        print(
            f"  {name:36s} {len(wrong):5d} / {len(user_agents):6d} = "
            f"{len(wrong) / len(user_agents):7.2%}  {label}"
        )
        for ua in wrong[: args.show]:
            print(f"      {ua[:160]}")

    scores: dict[str, Counter[bool]] = {k: Counter() for k in ("browser", "os", "device")}
    misses: dict[str, Counter[tuple[str, str]]] = {k: Counter() for k in scores}
    for row in data["Matomo browsers"][1]:
        info = classify(row["user_agent"])
        if info is None:
            continue  # counted above as a browser dropped
        client, system = row["client"], row.get("os")
        want = row.get("browser_family")
        if not want or want == "Unknown":  # Matomo gives this browser no family: its name
            got, want = NAME_EQUIVALENTS.get(info.browser_name, info.browser_name), client["name"]
        else:
            got = truth.browser(info.browser_name)
        scores["browser"][got == want] += 1
        if got != want:
            misses["browser"][(str(want), str(got))] += 1
        want_os = row.get("os_family")
        if want_os and want_os != "Unknown" and isinstance(system, dict):
            got_os = truth.os(info.os_name)
            scores["os"][got_os == want_os] += 1
            if got_os != want_os:
                misses["os"][(str(want_os), str(got_os))] += 1
        want_device = DEVICE_OF_MATOMO.get((row.get("device") or {}).get("type") or "")
        if want_device:
            scores["device"][info.device_type == want_device] += 1
            if info.device_type != want_device:
                misses["device"][(want_device, str(info.device_type))] += 1
    print("browsers kept, agreement with Matomo's labels (Matomo browsers corpus):")
    for key, label in (
        ("browser", "browser family"),
        ("os", "OS family"),
        ("device", "device type"),
    ):
        total = sum(scores[key].values())
        print(
            f"  {label:15s} {scores[key][True]:6d} / {total:6d} = {scores[key][True] / total:7.2%}"
        )
        if args.show:
            for (want, got), count in misses[key].most_common(args.show):
                print(f"      {count:5d}  Matomo {want!r}, ours {got!r}")
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
