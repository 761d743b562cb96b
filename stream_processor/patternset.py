"""Many regular expressions, one pass: the first that matches, in list order, in bounded time.

Bot lists and device lists are thousands of regexes each. Trying them one by one in
Python costs ~0.5 ms for an ordinary user agent and tens of milliseconds for a long one.
``PatternSet`` hands them all to ua-parser-rs (already a dependency: ua-parser's native
accelerator), whose matcher finds candidates with an Aho-Corasick literal prefilter and
runs Rust's ``regex`` engine, which guarantees time linear in the input: no backtracking,
so no pathological input.

Rust's engine has no look-around. A pattern that needs it is matched in two steps: its
look-arounds removed (a looser pattern, so never a missed match) in Rust first, then, only
when that matched, the exact pattern in Python's ``regex`` module on the same bounded text,
with a timeout. Callers bound the text (useragent.py caps it) before asking.

Compiling a whole list up front cost every process 2.5–4 s before its first record (a
short ``ownstats ingest``, every Lambda cold start), for patterns most traffic never
comes near. So a list compiles lazily: a literal index (``prefilter.py``) names the
patterns a text could match, and each is compiled, alone, the first time it is named.
The answers are the whole set's: the same first pattern in list order, the same Rust
and Python engines, the same cap on exact checks (bench/matcher_verdicts.py compares
them on every labelled user agent).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import regex
import ua_parser_rs

from .prefilter import (
    _LOOKAROUND,
    LiteralIndex,
    _drop_leading_star,
    _strip_lookarounds,
    cached_literals,
)

if TYPE_CHECKING:
    from .wholeset import WholeSet

#: exact checks of look-around patterns give up after this long (seconds): no match
VERIFY_TIMEOUT_S = 0.0002
#: a check that timed out having used less than this share of the timeout in CPU was
#: preempted (a busy machine), not slow: it is run again, at most ``VERIFY_ATTEMPTS`` times.
#: 3/4: a real user agent's slowest check takes ~90 us of CPU on an idle core, and about
#: twice that when the core's other hardware thread is busy (a 2-vCPU VM running two
#: test workers), which at 1/2 (100 us) now and then turned a Galaxy Watch into a phone;
#: a pattern that really computes its whole 200 us still gives up after one attempt
PREEMPTED_SHARE = 0.75
VERIFY_ATTEMPTS = 4
#: exact checks per text at most: a text built to pass many loose prefilters and fail
#: every exact check costs no more than this many (no real user agent needs more than 2)
MAX_CHECKS = 4


@dataclass(frozen=True, slots=True)
class Pattern:
    regex: str
    ignore_case: bool
    label: str
    #: what to report from a match, with groups as ``\\g<1>`` (e.g. a version), or None
    template: str | None = None


T = TypeVar("T")

_GROUP = re.compile(r"\\g<(\d+)>|\$(\d+)")


def _rust_template(template: str | None) -> str | None:
    return None if template is None else _GROUP.sub(lambda m: "${%s}" % (m[1] or m[2]), template)


def _python_template(template: str) -> str:
    return _GROUP.sub(lambda m: "\\g<%s>" % (m[1] or m[2]), template)


_Rust = ua_parser_rs.DeviceExtractor


def _rust(pattern: str, ignore_case: bool, template: str | None = None) -> _Rust | None:
    """One pattern compiled in Rust, or None when Rust refuses it."""
    try:
        return _Rust([(pattern, "i" if ignore_case else None, "0", None, template)])
    except Exception:
        return None


def _rust_ok(pattern: str, ignore_case: bool) -> bool:
    return _rust(pattern, ignore_case) is not None


#: a set asked about this many texts compiles its whole list once and uses that from then
#: on (``wholeset.py``): per text one Rust call beats trying candidates from Python, and a
#: process that sees this much variety (a long run, a flood of new user agents) has paid
#: the whole list's compile several times over in per-text overhead. Realistic traffic
#: repeats a few thousand user agents, each asked once (``classify`` caches answers)
WHOLE_SET_AFTER = 5000
#: a list longer than this never switches: compiling it whole is the one long wait of a
#: run (the device brands 1.2 s, Matomo's bots 0.3 s, one record holding it up, ingest's
#: and a Lambda's alike), and lazily it answers as fast per text, its literals being
#: whole runs of characters (prefilter.py): measured on the adversarial mix of
#: bench/useragent_worst_case.py, lists warm, device brands 29 us a text lazily and
#: 44 us whole, Matomo's bots 7.9 and 9.1, Crawler-Detect 5.6 and 5.7. The shorter lists
#: (browsers, OSes: 615 and 352 patterns) are faster whole, by 1-5 us, and cost 0.1 s
WHOLE_SET_MAX = 1000

#: a pattern no engine can run (``unusable``): it never matches
_NEVER = object()


class _Loose:
    """A look-around pattern: its look-arounds removed in Rust, then exactly in Python's
    ``regex``, compiled only when a text first passes the Rust step (~10 ms each)."""

    __slots__ = ("_exact", "ignore_case", "pattern", "relaxed")

    def __init__(self, relaxed: _Rust, pattern: str, ignore_case: bool) -> None:
        self.relaxed, self.pattern, self.ignore_case = relaxed, pattern, ignore_case
        self._exact: regex.Pattern[str] | None = None

    def exact(self) -> regex.Pattern[str] | None:
        """The exact pattern, or None when Python's ``regex`` refuses it (it never matches)."""
        if self._exact is None:
            try:
                flags = regex.IGNORECASE if self.ignore_case else 0
                self._exact = regex.compile(self.pattern, flags)
            except regex.error:
                return None
        return self._exact


def built_once(
    cache: dict[int, T], lock: threading.Lock, index: int, make: Callable[[int], T]
) -> T:
    """``cache[index]``, made by ``make(index)`` the first time it is asked for: read
    without the lock, built under it once (threads asking together wait for one build)."""
    found = cache.get(index)
    if found is None:
        with lock:
            found = cache.get(index)
            if found is None:
                found = cache[index] = make(index)
    return found


class PatternSet:
    """The label of the first pattern that matches a text, in list order, or None.

    Nothing is compiled when the set is made: the first text asked about builds the
    literal index (``prefilter.py``, milliseconds), and each pattern is compiled the first
    time a text holds its literal, so a process pays for the patterns its traffic needs,
    not for the whole list (2.5–4 s for all of them). Patterns without a literal are
    compiled together, once, as one Rust set. Both steps are once per process and
    thread-safe (a lock; the answers never depend on which thread compiled).
    """

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        self.patterns: tuple[Pattern, ...] = tuple(patterns)
        self._lock = threading.Lock()
        self._index: LiteralIndex | None = None
        self._always: _Rust | None = None  # the strict patterns without a literal, as one set
        self._always_each: tuple[int, ...] = ()  # the other patterns without a literal
        # the look-around ones among them, loosely, as one set: most texts pass none
        self._always_loose: _Rust | None = None
        self._compiled: dict[int, object] = {}  # index → _Rust, _Loose or _NEVER
        self._asked = 0  # texts asked about (roughly, under threads: only a trigger)
        self._whole: WholeSet | None = None

    def _ready(self) -> LiteralIndex:
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    self._build()
                index = self._index
        assert index is not None
        return index

    def _build(self) -> None:
        # the literals of every pattern come from the file made at build time
        # (prefilter.cached_literals): computing them costs ~25 us a pattern, 0.2 s for
        # the device brands a phone's first user agent needs
        index = LiteralIndex(cached_literals([p.regex for p in self.patterns]))
        prepared = {i: self._prepare(i) for i in index.always}
        strict = [i for i in index.always if not _LOOKAROUND.search(prepared[i])]
        rows = [
            (prepared[i], "i" if p.ignore_case else None, str(i), None, _rust_template(p.template))
            for i in strict
            for p in [self.patterns[i]]
        ]
        try:
            self._always = _Rust(rows) if rows else None
        except Exception:  # a pattern Rust refuses: it and the rest are compiled one by one
            self._always, strict = None, []
        in_set = set(strict)
        self._always_each = tuple(i for i in index.always if i not in in_set)
        loose = [i for i in self._always_each if _LOOKAROUND.search(prepared[i])]
        if len(loose) == len(self._always_each) and loose:
            rows = [
                (
                    _strip_lookarounds(prepared[i]),
                    "i" if p.ignore_case else None,
                    str(i),
                    None,
                    None,
                )
                for i in loose
                for p in [self.patterns[i]]
            ]
            try:
                self._always_loose = _Rust(rows)
            except Exception:  # one Rust refuses: each is tried alone
                self._always_loose = None
        self._index = index

    def _prepare(self, index: int) -> str:
        """The pattern as the matchers run it (``_drop_leading_star``)."""
        return _drop_leading_star(self.patterns[index].regex)

    def _matcher(self, index: int) -> object:
        return built_once(self._compiled, self._lock, index, self._compile)

    def _compile(self, index: int) -> object:
        """Like the whole set did: Rust when it takes the pattern, else its look-arounds
        removed in Rust and the exact pattern in Python's ``regex``; else never."""
        p, pattern = self.patterns[index], self._prepare(index)
        if not _LOOKAROUND.search(pattern):
            rust = _rust(pattern, p.ignore_case, _rust_template(p.template))
            if rust is not None:
                return rust
        relaxed = _strip_lookarounds(pattern)
        if relaxed == pattern:
            return _NEVER
        loose = _rust(relaxed, p.ignore_case)
        if loose is None:
            return _NEVER
        return _Loose(loose, pattern, p.ignore_case)

    @property
    def unusable(self) -> list[Pattern]:
        """Patterns neither engine can run (compiles every pattern: for tests)."""
        self._ready()
        return [p for i, p in enumerate(self.patterns) if self._never(self._matcher(i))]

    @staticmethod
    def _never(matcher: object) -> bool:
        return matcher is _NEVER or (isinstance(matcher, _Loose) and matcher.exact() is None)

    def _compile_whole(self) -> WholeSet:
        from .wholeset import WholeSet

        with self._lock:
            if self._whole is None:
                self._whole = WholeSet(self.patterns)
                self._compiled = {}  # the whole set holds them all now
            return self._whole

    def prepare(self) -> None:
        """Build the literal index now rather than on the first text."""
        self._ready()

    def compile_all(self) -> None:
        """Compile every pattern now (a benchmark's warm state; never needed for answers)."""
        self._ready()
        for i in range(len(self.patterns)):
            self._matcher(i)

    def first_index(self, text: str) -> int | None:
        """Index of the first pattern matching ``text`` (bounded by the caller)."""
        found = self.first_match(text)
        return None if found is None else found[0]

    def first_match(self, text: str) -> tuple[int, str | None] | None:
        """(index, filled template or None) of the first pattern matching ``text``."""
        whole = self._whole
        if whole is not None:
            return whole.first_match(text)
        self._asked += 1
        if self._asked >= WHOLE_SET_AFTER and len(self.patterns) <= WHOLE_SET_MAX:
            return self._compile_whole().first_match(text)
        index = self._ready()
        best: int | None = None
        value: str | None = None
        if self._always is not None:
            hit = self._always.extract(text)
            if hit is not None:
                best, value = int(hit.family), hit.model
        candidates = index.candidates(text)
        each = self._always_each
        if each and self._always_loose is not None:
            # those before the first that passes loosely cannot pass: not candidates
            hit = self._always_loose.extract(text)
            each = () if hit is None else tuple(i for i in each if i >= int(hit.family))
        if each:
            candidates = sorted({*candidates, *each})
        checks = 0
        for i in candidates:
            if best is not None and i > best:
                break
            matcher = self._matcher(i)
            if isinstance(matcher, _Loose):
                # at most MAX_CHECKS exact checks per text, as many as candidates pass loosely
                if checks >= MAX_CHECKS or matcher.relaxed.extract(text) is None:
                    continue
                exact = matcher.exact()
                if exact is None:
                    continue  # as unusable: never matches, uses no check
                checks += 1
                match = self._verify(exact, text)
                if match is not None:
                    template = self.patterns[i].template
                    return i, match.expand(_python_template(template)) if template else None
            elif matcher is not _NEVER:
                hit = matcher.extract(text)  # type: ignore[attr-defined]
                if hit is not None:
                    return i, hit.model
        return None if best is None else (best, value)

    @staticmethod
    def _verify(pattern: regex.Pattern[str], text: str) -> regex.Match[str] | None:
        return bounded(lambda: pattern.search(text, timeout=VERIFY_TIMEOUT_S, concurrent=False))

    def first(self, text: str) -> Pattern | None:
        index = self.first_index(text)
        return None if index is None else self.patterns[index]


def bounded(check: Callable[[], T]) -> T | None:
    """``check()`` (a regex call with ``timeout=VERIFY_TIMEOUT_S``), or None if it timed out.

    The regex module's timeout is wall time, so a check that waited would time out and
    change the answer (a Galaxy Watch counted as a phone) only on a busy machine. Two
    waits are possible: for the GIL, which regex releases while matching unless told
    ``concurrent=False`` (every check here says so: it holds the GIL for microseconds),
    and for the CPU, when the OS runs another process. The thread's CPU time tells the
    latter apart: a pathological pattern spends its timeout computing and gives up; a
    paused one used little CPU and runs again. So the answer depends on the text alone,
    and the work stays bounded.
    """
    for _ in range(VERIFY_ATTEMPTS):
        started = time.thread_time()
        try:
            return check()
        except TimeoutError:
            if time.thread_time() - started >= VERIFY_TIMEOUT_S * PREEMPTED_SHARE:
                return None
    return None


def required_literal(pattern: str) -> str | None:
    """A lower-case literal every match of ``pattern`` contains (the longest found), or None."""
    found = required_literals(pattern)
    return found[0] if found is not None and len(found) == 1 else None


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Lower-case literals of which every match of ``pattern`` contains at least one
    (``(?:SM-A105|SM-A107)`` → ``sm-a105``, ``sm-a107``), or None when none can be told."""
    try:
        parsed = _parser.parse(pattern)
    except re.error:
        return None
    return _required(list(parsed)) or None


def _strength(option: tuple[str, ...]) -> int:
    return min((len(x) for x in option), default=0)


def _required(items: list) -> tuple[str, ...]:  # type: ignore[type-arg]
    best: tuple[str, ...] = ()
    run: list[str] = []
    for op, arg in [*items, (None, None)]:
        if op is _LITERAL:
            run.append(chr(arg))
            continue
        options: list[tuple[str, ...]] = []
        if run:
            options.append(("".join(run).lower(),))
            run = []
        if op is _SUBPATTERN:
            options.append(_required(list(arg[-1])))
        elif op in _REPEATS and arg[0] >= 1:
            options.append(_required(list(arg[2])))
        elif op is _BRANCH:
            branches = [_required(list(branch)) for branch in arg[1]]
            if all(branches):
                options.append(tuple(sorted({x for b in branches for x in b})))
        for option in options:
            if option and _strength(option) > _strength(best):
                best = option
    return best


_parser = re._parser  # type: ignore[attr-defined]
_constants = re._constants  # type: ignore[attr-defined]
_LITERAL, _SUBPATTERN, _BRANCH = _constants.LITERAL, _constants.SUBPATTERN, _constants.BRANCH
_REPEATS = (_constants.MAX_REPEAT, _constants.MIN_REPEAT)
