"""User agent → browser, OS, device type, or "this is a bot": maintained lists, bounded work.

- Bot or not: three maintained lists (crawler-user-agents, Crawler-Detect, Matomo's bots
  and HTTP libraries) and a short local list, all in ``bots.py``; then Matomo's feed
  readers, players and mail clients when no web engine is named, and anything without the
  shape of a browser that could run the tracker (``browsers.py``: ``no_engine``).
- Browser and OS: ua-parser (its native ``ua-parser-rs`` matcher).
- Device type: Matomo's device lists and rules, in ``devices.py``.

Work per record is bounded whatever arrives: every verdict reads at most ``MAX_LENGTH``
characters (``head``: a longer user agent is judged on its first ones, cut back to a whole
token), every list is matched in linear time (``patternset.py``) and the whole answer is
cached per distinct user agent, because real traffic repeats a few thousand of them.

A little over ``MAX_LENGTH`` is no sign of a bot: add-ons, security suites and deployment
kits append their own tokens to a browser's string (Internet Explorer adds every token
listed in the registry, Microsoft's "Understanding user-agent strings"), and nothing stops
them at a given length, while the lists name a crawler by its product token, which crawlers
send first, in the ``(compatible; …)`` comment or right after the browser they imitate.
Kilobytes are: no browser of the ~200,000 in the lists' own corpora (Matomo's and
Crawler-Detect's, bench/useragent_accuracy.py) sends more than 440 characters, less than
half of ``MAX_BYTES``, so one of more than ``MAX_BYTES`` bytes is a payload (an overflow
probe, a browser string with junk behind it) and a bot without further look; reading none
of it also keeps the work per record of bench/useragent_worst_case.py's adversarial mix
where it was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from operator import attrgetter
from typing import Any, NamedTuple

import ua_parser_rs
from ua_parser import load_lazy_builtins

from . import patternset
from .bots import bot_lists
from .browsers import better_browser, better_os, no_engine, non_browser_client
from .devices import DEVICE_TYPES, device_type
from .patternset import PatternSet
from .prefilter import LiteralIndex, cached_literals

__all__ = [
    "DEVICE_TYPES",
    "MAX_BYTES",
    "MAX_LENGTH",
    "UNNAMED",
    "AgentInfo",
    "bot_reason",
    "classify",
    "head",
    "too_long",
    "warm",
]

#: the most characters a verdict reads (``head``): longer user agents are judged on their
#: first ones, so that matching stays bounded whatever arrives
MAX_LENGTH = 512
#: longer user agents (UTF-8 bytes; and longer than ``MAX_LENGTH`` characters) are bots
#: without a look: no browser sends kilobytes (module docstring)
MAX_BYTES = 2 * MAX_LENGTH
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


#: a row of a ua-parser-rs extractor: (regex, family, major, minor, patch, patch_minor)
Row = tuple[str, str | None, str | None, str | None, str | None, str | None]


class LazyExtractor:
    """A ua-parser-rs ``UserAgentExtractor`` or ``OSExtractor`` over ``rows`` (ua-parser's
    browser or OS list), compiled as ``PatternSet`` compiles: row by row, the first time
    a text holds one of a row's literals.

    Compiling ua-parser's two lists whole costs ~40 ms before the first record. The
    answers are the whole extractor's: the first row in list order whose regex matches,
    its replacements filled by ua-parser-rs itself (each row is compiled alone, as an
    extractor of one row). Rows without a literal are found by one extractor of them all
    whose families are their indexes. After ``WHOLE_SET_AFTER`` texts the whole
    extractor is compiled and used, as ``PatternSet`` does."""

    def __init__(self, rows: Iterable[Row], make: Callable[[Iterable[Row]], Any]) -> None:
        self.rows: tuple[Row, ...] = tuple(rows)
        self._make = make
        self._lock = threading.Lock()
        self._index: LiteralIndex | None = None
        self._always: Any = None  # the rows without a literal, families their indexes
        self._always_each: tuple[int, ...] = ()  # when that set could not be compiled
        self._one: dict[int, Any] = {}
        self._asked = 0
        self._whole: Any = None

    def _ready(self) -> LiteralIndex:
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    found = LiteralIndex(cached_literals([row[0] for row in self.rows]))
                    rows = [(self.rows[i][0], str(i), None, None, None, None) for i in found.always]
                    try:
                        self._always = self._make(rows) if rows else None
                    except Exception:  # a regex Rust refuses: each is tried alone
                        self._always_each = found.always
                    self._index = found
                index = self._index
        assert index is not None
        return index

    def prepare(self) -> None:
        """Build the literal index now rather than on the first text."""
        self._ready()

    def _row(self, index: int) -> Any:
        return patternset.built_once(
            self._one, self._lock, index, lambda i: self._make([self.rows[i]])
        )

    def extract(self, text: str) -> Any:
        """What the whole extractor's ``extract(text)`` gives (None: no row matches)."""
        whole = self._whole
        if whole is not None:
            return whole.extract(text)
        self._asked += 1
        if self._asked >= patternset.WHOLE_SET_AFTER:
            with self._lock:
                if self._whole is None:
                    self._whole = self._make(self.rows)
                    self._one = {}
            return self._whole.extract(text)
        index = self._ready()
        best: int | None = None
        if self._always is not None:
            hit = self._always.extract(text)
            if hit is not None:
                best = int(hit.family)
        candidates = index.candidates(text)
        if self._always_each:
            candidates = sorted({*candidates, *self._always_each})
        for i in candidates:
            if best is not None and i >= best:
                break
            hit = self._row(i).extract(text)
            if hit is not None:
                return hit
        return None if best is None else self._row(best).extract(text)


class _Parser:
    """ua-parser's browser and OS lists, as its Rust resolver matches them.

    Without ua-parser's own cache: ``classify`` caches whole answers per user agent, so a
    second cache would only cost a lookup and an eviction per new user agent. Without its
    device list, never asked (device types come from ``devices.py``). And compiled
    lazily (``LazyExtractor``): the two lists compiled whole cost ~40 ms before a
    process's first record; the answers are the same rows' and the same extractors'."""

    def __init__(self) -> None:
        agents, systems, _devices = load_lazy_builtins()
        fields = attrgetter("regex", "family", "major", "minor", "patch", "patch_minor")
        self.agents = LazyExtractor(map(fields, agents), ua_parser_rs.UserAgentExtractor)
        self.systems = LazyExtractor(map(fields, systems), ua_parser_rs.OSExtractor)

    def __call__(self, user_agent: str) -> tuple[Any, Any]:
        """ua-parser-rs's browser and OS matches (``family``, ``major``, ``minor``, …), or
        None each: what ua-parser's resolver wraps into its ``UserAgent`` and ``OS``."""
        return self.agents.extract(user_agent), self.systems.extract(user_agent)


@cache
def _parser() -> _Parser:
    return _Parser()


def _names(user_agent: str) -> _Names:
    agent, os = _parser()(user_agent)
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


def head(user_agent: str) -> str:
    """What every verdict reads of ``user_agent``: all of it up to ``MAX_LENGTH``
    characters; of a longer one its first ``MAX_LENGTH``, cut back to the last space so
    that no token is read in part (kept whole when that would leave less than
    ``MIN_LENGTH``)."""
    if len(user_agent) <= MAX_LENGTH:
        return user_agent
    bounded = user_agent[:MAX_LENGTH]
    cut = bounded.rfind(" ")
    return bounded[:cut] if cut >= MIN_LENGTH else bounded


def too_long(user_agent: str) -> bool:
    """Longer than ``MAX_LENGTH`` characters and than ``MAX_BYTES`` bytes of UTF-8."""
    return len(user_agent) > MAX_LENGTH and (
        len(user_agent) > MAX_BYTES or len(user_agent.encode("utf-8", "surrogatepass")) > MAX_BYTES
    )


def bot_reason(user_agent: str) -> str | None:
    """Why ``user_agent`` is not a person (which list, which rule), or None for a person."""
    if too_long(user_agent):
        return f"longer than {MAX_BYTES} bytes"
    user_agent = head(user_agent)
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
    """``user_agent`` is already bounded (``head``)."""
    if len(user_agent) < MIN_LENGTH:
        return "empty or too short to name a browser"
    return bot_lists().match(user_agent) or non_browser_client(user_agent) or no_engine(user_agent)


def pattern_sets(models: bool = False) -> list[PatternSet]:
    """Every list matcher the answers use; with ``models``, also each brand's model list
    that is matched in Rust (building every brand's model list: seconds). What
    ``indexed_patterns`` reads."""
    from .browsers import _browsers, _non_browser_clients, _systems
    from .devices import RustModels, _lists, _tv_browsers

    # every list of bots.py's BotLists, whichever it has (deny, Crawler-Detect, local signs…)
    sets = [found for found in vars(bot_lists()).values() if isinstance(found, PatternSet)]
    sets += [_browsers(), _non_browser_clients(), _systems(), _tv_browsers()]
    sets += [device_list.brands for _gate, device_list in _lists()]
    if models:
        for _gate, device_list in _lists():
            for index in range(len(device_list.entries)):
                found = device_list.models(index)
                if isinstance(found, RustModels):
                    sets.append(found.patterns)
    return sets


def indexed_patterns() -> set[str]:
    """Every regex a literal index is built for (each list's, each brand's model list
    in Rust, ua-parser's browsers and OSes): what ``prefilter.CACHE_FILE`` holds."""
    found = {p.regex for patterns in pattern_sets(models=True) for p in patterns.patterns}
    parser = _parser()
    return found | {row[0] for row in (*parser.agents.rows, *parser.systems.rows)}


def warm(models: bool = False) -> None:
    """Make every list's literal index and ua-parser now (~0.1 s) rather than on the first
    user agent; with ``models``, also compile every pattern and every brand's model list
    (several seconds): otherwise each is compiled the first time a user agent needs it
    (a pattern ~0.3 ms, a brand's models up to ~0.2 s, once per process)."""
    parser = _parser()
    parser.agents.prepare()
    parser.systems.prepare()
    for found in pattern_sets(models):
        if models:
            found.compile_all()
        else:
            found.prepare()


@lru_cache(maxsize=8192)
def classify(user_agent: str) -> AgentInfo | None:
    """The agent's browser, OS and device; None when it is a bot or automation. A user
    agent longer than ``MAX_LENGTH`` characters gets its ``head``'s answer, unless it is
    ``too_long``."""
    if len(user_agent) > MAX_LENGTH:
        return None if too_long(user_agent) else classify(head(user_agent))
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
