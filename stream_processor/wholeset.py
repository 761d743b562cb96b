"""A list compiled whole, as one Rust set: what a process that sees much traffic switches to.

``PatternSet`` compiles lazily, pattern by pattern, because most processes are short or
see little variety. Per text, though, trying its candidate patterns one by one from Python
costs more than one call into a set compiled whole (measured on the adversarial mix of
bench/useragent_worst_case.py: 10–25 µs more per list). A set that has been asked about
many texts has paid for its patterns' compiles many times over in that overhead, so it
compiles the whole list once (this) and uses it from then on: the same answers (the
matcher every verdict was compared with), fastest per text.
"""

from __future__ import annotations

import regex
import ua_parser_rs

from . import patternset as _settings
from .patternset import (
    _LOOKAROUND,
    MAX_CHECKS,
    Pattern,
    _drop_leading_star,
    _python_template,
    _rust_ok,
    _rust_template,
    _strip_lookarounds,
    bounded,
)


class WholeSet:
    """A whole list compiled at once: one Rust call per text, whatever it holds."""

    def __init__(self, patterns: tuple[Pattern, ...]) -> None:
        self.patterns = patterns
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
        return bounded(
            lambda: pattern.search(text, timeout=_settings.VERIFY_TIMEOUT_S, concurrent=False)
        )
