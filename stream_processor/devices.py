"""Device type from the user agent, by Matomo device-detector's device lists and rules.

Whether an Android phone is a phone, a tablet or a TV box, or a Linux browser a TV, is
written in no token of its user agent: only a list of models knows (``SM-X710`` is a
tablet, ``32LH7010T`` a TV). Matomo's lists are the largest maintained ones; they come
with the ``device_detector`` package (its regex files only; its code is never run) and
are matched here the way Matomo's ``DeviceDetector::parseDevice`` does:

1. device parsers in Matomo's order, each a list of brands with a type and models with
   theirs: HbbTV (``televisions.yml``, only with an ``HbbTV/`` token, always a TV), shell
   TVs, notebooks (only with ``FBMD/``), consoles, car browsers, cameras, portable media
   players, then ``mobiles.yml``. The first brand that matches wins; its first matching
   model gives the type, else the brand's. Desktop user agents (``Windows NT``,
   ``X11; Linux x86_64`` without a mobile hint) skip the lists.
2. Matomo's rules for what is left: Chrome on Android with ``Mobile`` is a phone, without
   it a tablet; ``Android; Tablet;``; Android 3 is tablets only; ``Touch`` on Windows 8+
   is a tablet; TV hints (``Andr0id``, ``Android TV``, ``SmartTV``, ``(TV;``, TV browsers);
   a desktop OS is a desktop.

Matomo's types become ours: smartphone, phablet, feature phone and portable media player
are ``mobile``; car browser is ``car``; camera, smart speaker, smart display and
peripheral are ``other``; desktop, tablet, tv, console and wearable keep their names.
Brand patterns are compiled once; a brand's model list the first time a user agent of
that brand is seen.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import ahocorasick_rs
import regex

from .bots import matomo_file, matomo_regex
from .patternset import VERIFY_TIMEOUT_S, Pattern, PatternSet, bounded, required_literals

DESKTOP, MOBILE, TABLET, TV = "desktop", "mobile", "tablet", "tv"
CONSOLE, WEARABLE, CAR, OTHER = "console", "wearable", "car", "other"
#: every device_type the processor writes; the dashboard and views show them as they are
DEVICE_TYPES = (DESKTOP, MOBILE, TABLET, TV, CONSOLE, WEARABLE, CAR, OTHER)

_FROM_MATOMO = {
    "desktop": DESKTOP,
    "smartphone": MOBILE,
    "phablet": MOBILE,
    "feature phone": MOBILE,
    "portable media player": MOBILE,
    "tablet": TABLET,
    "tv": TV,
    "console": CONSOLE,
    "wearable": WEARABLE,
    "car browser": CAR,
    "camera": OTHER,
    "smart speaker": OTHER,
    "smart display": OTHER,
    "peripheral": OTHER,
}

# ua-parser OS families Matomo counts as desktop operating systems
DESKTOP_OS = frozenset(
    {
        "Windows",
        "Mac OS X",
        "Linux",
        "Ubuntu",
        "Chrome OS",
        "ChromeOS",
        "Debian",
        "Fedora",
        "Red Hat",
        "SUSE",
        "openSUSE",
        "Mandriva",
        "Gentoo",
        "Slackware",
        "Linux Mint",
        "Arch Linux",
        "CentOS",
        "Kubuntu",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
        "BeOS",
        "Haiku",
        "AmigaOS",
        "OS/2",
    }
)


class _Rule:
    """A Matomo rule (DeviceDetector::matchUserAgent: case-insensitive, not inside a word),
    run only when the lower-cased text holds one of the literals every match contains."""

    __slots__ = ("literals", "regex")

    def __init__(self, pattern: str, *literals: str) -> None:
        self.regex = re.compile(r"(?:^|[^A-Z_-])(?:" + pattern + ")", re.IGNORECASE)
        self.literals = literals

    def search(self, text: str, lowered: str) -> bool:
        return any(lit in lowered for lit in self.literals) and bool(self.regex.search(text))


_rx = _Rule


_DESKTOP_FRAGMENT = _rx(r"(?:Windows (?:NT|IoT)|X11; Linux x86_64)", "windows", "x11; linux x86_64")
_NOT_DESKTOP = _rx(
    r"CE-HTML| Mozilla/|Andr[o0]id|Tablet|Mobile|iPhone|Windows Phone|ricoh|OculusBrowser|"
    r"PicoBrowser|Lenovo|compatible; MSIE|Trident/|Tesla/|XBOX|FBMD/|ARM; ?([^)]+)",
    *("ce-html", "mozilla/", "andr", "tablet", "mobile", "iphone", "windows phone", "ricoh"),
    *("oculusbrowser", "picobrowser", "lenovo", "msie", "trident/", "tesla/", "xbox", "fbmd/"),
    "arm;",
)
_HBBTV = _rx(r"(?:HbbTV|SmartTvA)/([1-9]{1}(?:\.[0-9]{1}){1,2})", "hbbtv/", "smarttva/")
_SHELL_TV = _rx(r"[a-z]+[ _]Shell[ _]\w{6}|tclwebkit(\d+[.\d]*)", "shell", "tclwebkit")
_NOTEBOOK = _rx(r"FBMD/", "fbmd/")
_VR = _rx(r"Android( [\.0-9]+)?; Mobile VR;| VR ", "; mobile vr;", " vr ")
_CHROME = _rx(r"Chrome/[\.0-9]*", "chrome/")
_MOBILE_WORD = _rx(r"(?:Mobile|eliboM)", "mobile", "elibom")
_PAD = _rx(r"Pad/APad", "pad/apad")
# Matomo's ".*-tablet$" and ".*-mobile$" are endswith() checks below (".*" would make
# every search quadratic in the length of the user agent)
_ANDROID_TABLET = _rx(r"Android( [\.0-9]+)?; Tablet;|Tablet(?! PC)|Opera Tablet", "tablet")
_ANDROID_MOBILE = _rx(r"Android( [\.0-9]+)?; Mobile;", "; mobile;")
_JAVA_ME = _rx(r"J2ME|MIDP", "j2me", "midp")
_TOUCH = _rx(r"Touch", "touch")
_PUFFIN_DESKTOP = _rx(r"Puffin/(?:\d+[.\d]+)[LMW]D", "puffin/")
_PUFFIN_PHONE = _rx(r"Puffin/(?:\d+[.\d]+)[AIFLW]P", "puffin/")
_PUFFIN_TABLET = _rx(r"Puffin/(?:\d+[.\d]+)[AILW]T", "puffin/")
_TV_ALWAYS = _rx(
    r"Opera TV Store| OMI/|Andr0id|(?:Android(?: UHD)?|Google) TV|\(lite\) TV|BRAVIA| TV$",
    *("opera tv store", " omi/", "andr0id", " tv", "bravia"),
)
_TV_UNLESS_KNOWN = _rx(
    r"SmartTV|\(TV;", "smarttv", "(tv;"
)  # and Matomo's "Tizen.+ TV .+$": _tizen_tv()
_DESKTOP_WORD = _rx(r"Desktop(?: (x(?:32|64)|WOW64))?;", "desktop")
# Matomo's TV browsers (Kylo, Espial, LUJO, LogicUI, Open TV, Seraphic Sraf, Opera Devices,
# Crow, Vewd, TiviMate, Quick Search TV, QJY, TV Bro): their patterns come from browsers.yml
_TV_BROWSERS = (
    "Kylo",
    "Espial TV Browser",
    "LUJO TV Browser",
    "LogicUI TV Browser",
    "Open TV Browser",
    "Seraphic Sraf",
    "Opera Devices",
    "Crow Browser",
    "Vewd Browser",
    "TiviMate",
    "Quick Search TV",
    "QJY TV Browser",
    "TV Bro",
)


def _starts_a_word(text: str, start: int) -> bool:
    """Matomo's ``(?:^|[^A-Z0-9_\\-]|[^A-Z0-9\\-]_|sprd-|MZ-)`` before ``start``."""
    if start == 0:
        return True
    before = text[start - 1]
    if not (before.isascii() and (before.isalnum() or before in "_-")):
        return True
    if before == "_" and (
        start == 1
        or not (text[start - 2].isascii() and (text[start - 2].isalnum() or text[start - 2] == "-"))
    ):
        return True
    head = text[max(0, start - 5) : start].lower()
    return head.endswith(("sprd-", "mz-"))


class ModelList:
    """One brand's models, tried in order. A model's regex runs only when the user agent
    holds one of the literals every match of it contains (``sm-x710``), found for all
    models in one Aho-Corasick pass; so a user agent costs that pass and one or two regex
    searches. Kept in Python: the same models as Rust patterns hold hundreds of MB of
    matcher state per process."""

    __slots__ = ("always", "finder", "models")

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.models: list[tuple[frozenset[str], regex.Pattern[str], str]] = []
        for entry in entries:
            pattern = entry["regex"].replace("\\/", "/")
            try:
                compiled = regex.compile(pattern, regex.IGNORECASE)
            except regex.error:
                continue
            literals = frozenset(required_literals(pattern) or ())
            self.models.append((literals, compiled, entry.get("device") or ""))
        every = sorted({literal for literals, _, _ in self.models for literal in literals})
        self.finder = ahocorasick_rs.AhoCorasick(every) if every else None

    def widest_literal(self) -> int:
        """How many models the most shared literal stands for (the prefilter's worst case)."""
        counts: dict[str, int] = {}
        for literals, _, _ in self.models:
            for literal in literals:
                counts[literal] = counts.get(literal, 0) + 1
        return max(counts.values(), default=0)

    def first(self, text: str) -> str | None:
        """The device type of the first model matching ``text`` ("" when it has none)."""
        present: frozenset[str] = frozenset()
        if self.finder is not None:
            present = frozenset(self.finder.find_matches_as_strings(text.lower(), overlapping=True))
        for literals, compiled, kind in self.models:
            if literals and literals.isdisjoint(present):
                continue
            # Matomo's prefix rule checked on each start, not compiled in: a pattern that
            # starts with a literal is then found by a fast scan
            if bounded(lambda c=compiled: _word_start_match(c, text)):
                return kind
        return None


def _word_start_match(compiled: regex.Pattern[str], text: str) -> bool:
    """Whether ``compiled`` matches ``text`` at the start of a word (raises TimeoutError)."""
    return any(
        _starts_a_word(text, match.start())
        for match in compiled.finditer(
            text, overlapped=True, timeout=VERIFY_TIMEOUT_S, concurrent=False
        )
    )


#: a brand whose models mostly share one literal (Infinix: 174 of 178 say "infinix") gets
#: nothing from the Python list's literal prefilter: every model would be searched for
#: each of its user agents (0.65 ms), so past this many it is matched in Rust (20 us)
SHARED_LITERAL_LIMIT = 32

#: brands with more models than this (the 14 largest: Samsung, Vivo, Huawei, Xiaomi,
#: OPPO, Apple, …) are matched in Rust, the rest in Python: Rust is ~5x faster per user
#: agent but holds ~25 KB of matcher state per model, 380 MB for all 15,000 of them
RUST_MODELS = 200


class RustModels:
    """A large brand's models in one Rust pattern set (see ``RUST_MODELS``)."""

    __slots__ = ("patterns",)

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.patterns = PatternSet(
            Pattern(matomo_regex(m["regex"]), True, m.get("device") or "") for m in entries
        )

    def first(self, text: str) -> str | None:
        found = self.patterns.first(text)
        return None if found is None else found.label


class DeviceList:
    """Matomo's device files: brands in order, each with a type and its models."""

    def __init__(self, files: list[str], forced_type: str | None = None) -> None:
        brands: list[tuple[str, dict[str, Any]]] = []
        for name in files:
            data: dict[str, Any] = matomo_file(f"device/{name}")  # type: ignore[assignment]
            brands.extend(data.items())
        self.entries = [entry for _, entry in brands]
        self.forced_type = forced_type
        self.brands = PatternSet(
            Pattern(matomo_regex(entry["regex"]), True, brand) for brand, entry in brands
        )
        self._models: dict[int, ModelList | RustModels] = {}

    def models(self, index: int) -> ModelList | RustModels:
        found = self._models.get(index)
        if found is None:
            entries = self.entries[index].get("models") or []
            found = RustModels(entries) if len(entries) > RUST_MODELS else ModelList(entries)
            if isinstance(found, ModelList) and found.widest_literal() > SHARED_LITERAL_LIMIT:
                found = RustModels(entries)
            self._models[index] = found
        return found

    def match(self, text: str) -> tuple[bool, str | None]:
        """(a brand matched, its Matomo type or None)."""
        index = self.brands.first_index(text)
        if index is None:
            return False, None
        entry = self.entries[index]
        kind = entry.get("device")
        if entry.get("models"):
            model = self.models(index).first(text)
            if model:
                kind = model
        return True, self.forced_type or kind


@cache
def _lists() -> tuple[tuple[_Rule | None, DeviceList], ...]:
    # the ungated parsers run one after the other, each trying its brands in order: one
    # list of all their brands in that order gives the same first match in one pass
    return (
        (_HBBTV, DeviceList(["televisions.yml"], "tv")),
        (_SHELL_TV, DeviceList(["shell_tv.yml"], "tv")),
        (_NOTEBOOK, DeviceList(["notebooks.yml"])),
        (
            None,
            DeviceList(
                [
                    "consoles.yml",
                    "car_browsers.yml",
                    "cameras.yml",
                    "portable_media_player.yml",
                    "mobiles.yml",
                ]
            ),
        ),
    )


@cache
def _tv_browsers() -> PatternSet:
    entries = matomo_file("client/browsers.yml")
    return PatternSet(
        Pattern(matomo_regex(e["regex"]), True, e["name"])
        for e in entries  # type: ignore[attr-defined]
        if e["name"] in _TV_BROWSERS
    )


def matomo_type(text: str, os_family: str | None, os_major: str | None) -> str | None:
    """Matomo's device type name for a user agent, or None when Matomo would not know."""
    kind: str | None = None
    lowered = text.lower()
    if not (_DESKTOP_FRAGMENT.search(text, lowered) and not _NOT_DESKTOP.search(text, lowered)):
        for gate, device_list in _lists():
            if gate is not None and not gate.search(text, lowered):
                continue
            matched, kind = device_list.match(text)
            if matched:
                break
    android = os_family == "Android"
    if kind is None and _VR.search(text, lowered):
        kind = "wearable"
    if kind is None and android and _CHROME.search(text, lowered):
        kind = "smartphone" if _MOBILE_WORD.search(text, lowered) else "tablet"
    if kind == "smartphone" and _PAD.search(text, lowered):
        kind = "tablet"
    if kind is None and (_ANDROID_TABLET.search(text, lowered) or lowered.endswith("-tablet")):
        kind = "tablet"
    if kind is None and (_ANDROID_MOBILE.search(text, lowered) or lowered.endswith("-mobile")):
        kind = "smartphone"
    if kind is None and android and os_major and os_major.isdigit():
        if int(os_major) < 2:
            kind = "smartphone"
        elif int(os_major) == 3:
            kind = "tablet"
    if kind == "feature phone" and android:
        kind = "smartphone"
    if kind is None and _JAVA_ME.search(text, lowered):
        kind = "feature phone"
    windows_8 = os_family == "Windows" and os_major is not None and _at_least(os_major, 8)
    if kind is None and (os_family == "Windows RT" or windows_8) and _TOUCH.search(text, lowered):
        kind = "tablet"
    if kind is None:
        if _PUFFIN_DESKTOP.search(text, lowered):
            kind = "desktop"
        elif _PUFFIN_PHONE.search(text, lowered):
            kind = "smartphone"
        elif _PUFFIN_TABLET.search(text, lowered):
            kind = "tablet"
    if _TV_ALWAYS.search(text, lowered):
        kind = "tv"
    if kind is None and (_TV_UNLESS_KNOWN.search(text, lowered) or _tizen_tv(lowered)):
        kind = "tv"
    if _tv_browsers().first_index(text) is not None:
        kind = "tv"
    if kind != "desktop" and "Desktop" in text and _DESKTOP_WORD.search(text, lowered):
        kind = "desktop"
    if kind is None and os_family in DESKTOP_OS:
        kind = "desktop"
    return kind


def _tizen_tv(lowered: str) -> bool:
    """Matomo's ``Tizen.+ TV .+$`` in linear time."""
    start = lowered.find("tizen")
    while start >= 0:
        before = lowered[start - 1] if start else " "
        if not (before.isascii() and (before.isalpha() or before in "_-")):
            tv = lowered.find(" tv ", start + 6)
            return tv >= 0 and tv + 4 < len(lowered)
        start = lowered.find("tizen", start + 1)
    return False


def _at_least(major: str, version: int) -> bool:
    return major.isdigit() and int(major) >= version


def device_type(text: str, os_family: str | None, os_major: str | None) -> str:
    """Our device type (one of ``DEVICE_TYPES``) for a bounded user agent."""
    kind = matomo_type(text, os_family, os_major)
    if kind is None:
        return MOBILE if os_family in ("iOS", "Android") else OTHER
    return _FROM_MATOMO.get(kind, OTHER)
