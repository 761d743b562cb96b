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
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import regex
import ua_parser_rs

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


def _strip_lookarounds(pattern: str) -> str:
    """``pattern`` without its ``(?=…)`` ``(?!…)`` ``(?<=…)`` ``(?<!…)`` groups (a looser regex)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if c == "[":  # a character class: copied whole
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
            continue
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i) and not pattern.startswith(
            "(?<P", i
        ):
            depth, j = 0, i
            while j < n:
                if pattern[j] == "\\":
                    j += 2
                    continue
                if pattern[j] == "[":
                    j += 1
                    while j < n and pattern[j] != "]":
                        j += 2 if pattern[j] == "\\" else 1
                elif pattern[j] == "(":
                    depth += 1
                elif pattern[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            i = j + 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_LEADING_STAR = re.compile(r"^\[(?:\\.|[^\]\\])+\]\*(?=.)")


def _drop_leading_star(pattern: str) -> str:
    """``[a-z0-9_-]*bot`` → ``bot``: a leading ``[…]*`` never decides whether a search matches,
    but makes the matcher extend every match backwards over the whole text."""
    return _LEADING_STAR.sub("", pattern, count=1)


def _rust_ok(pattern: str, ignore_case: bool) -> bool:
    try:
        ua_parser_rs.DeviceExtractor([(pattern, "i" if ignore_case else None, "0", None, None)])
    except Exception:
        return False
    return True


class PatternSet:
    """The label of the first pattern that matches a text, in list order, or None."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        self.patterns: tuple[Pattern, ...] = tuple(patterns)
        prepared = [_drop_leading_star(p.regex) for p in self.patterns]
        # compiling patterns one by one to see which Rust takes costs as much as compiling
        # the set: only when the set refuses a pattern without look-around is that done
        try:
            self._build(prepared, [not _LOOKAROUND.search(p) for p in prepared])
        except Exception:
            ok = [
                _rust_ok(pattern, p.ignore_case)
                for pattern, p in zip(prepared, self.patterns, strict=True)
            ]
            self._build(prepared, ok)

    def _build(self, prepared: list[str], rust_ok: list[bool]) -> None:
        strict: list[tuple[str, str | None, str, None, str | None]] = []
        loose: list[tuple[int, str, bool]] = []
        self.unusable: list[Pattern] = []
        exact: dict[int, regex.Pattern[str]] = {}
        for index, (p, pattern) in enumerate(zip(self.patterns, prepared, strict=True)):
            flag = "i" if p.ignore_case else None
            if rust_ok[index]:
                strict.append((pattern, flag, str(index), None, _rust_template(p.template)))
                continue
            relaxed = _strip_lookarounds(pattern)
            try:
                exact[index] = regex.compile(pattern, regex.IGNORECASE if p.ignore_case else 0)
            except regex.error:
                self.unusable.append(p)
                continue
            if relaxed != pattern and _rust_ok(relaxed, p.ignore_case):
                loose.append((index, relaxed, p.ignore_case))
            else:
                self.unusable.append(p)
                del exact[index]
        self._strict = ua_parser_rs.DeviceExtractor(strict) if strict else None
        self._exact = exact
        # all look-around patterns in one Rust prefilter: its first candidate is checked
        # exactly; when that check fails, a prefilter of the patterns after it is asked
        self._loose = tuple(index for index, _, _ in loose)
        self._relaxed = {index: (rx, ic) for index, rx, ic in loose}
        # position in _loose → prefilter of the look-around patterns from there on
        self._from: dict[int, ua_parser_rs.DeviceExtractor] = {}
        self._loose_set = self._suffix(0) if loose else None

    def first_index(self, text: str) -> int | None:
        """Index of the first pattern matching ``text`` (bounded by the caller)."""
        found = self.first_match(text)
        return None if found is None else found[0]

    def first_match(self, text: str) -> tuple[int, str | None] | None:
        """(index, filled template or None) of the first pattern matching ``text``."""
        best: int | None = None
        value: str | None = None
        if self._strict is not None:
            hit = self._strict.extract(text)
            if hit is not None:
                best, value = int(hit.family), hit.model
        if self._loose_set is None or (best is not None and self._loose[0] > best):
            return None if best is None else (best, value)
        position, checks = 0, 0
        while position < len(self._loose) and checks < MAX_CHECKS:
            checks += 1
            hit = self._suffix(position).extract(text)
            if hit is None:
                break
            index = int(hit.family)
            if best is not None and index > best:
                break
            match = self._verify(index, text)
            if match is not None:
                best, template = index, self.patterns[index].template
                value = match.expand(_python_template(template)) if template else None
                break
            position = self._loose.index(index) + 1  # a false candidate: look further on
        return None if best is None else (best, value)

    def _suffix(self, position: int) -> ua_parser_rs.DeviceExtractor:
        found = self._from.get(position)
        if found is None:
            found = ua_parser_rs.DeviceExtractor(
                [
                    (rx, "i" if ic else None, str(index), None, None)
                    for index in self._loose[position:]
                    for rx, ic in [self._relaxed[index]]
                ]
            )
            self._from[position] = found
        return found

    def _verify(self, index: int, text: str) -> regex.Match[str] | None:
        pattern = self._exact[index]
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
