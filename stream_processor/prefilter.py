"""Which patterns of a list could match a text, found without compiling any of them.

Compiling a list's thousands of regexes in Rust is what made every process start slow
(2.5–4 s): most of them never match anything a site receives. So each pattern gets the
literals one of which every match of it contains (``Googlebot``: ``googlebot``), all of a
list's literals go into one Aho-Corasick automaton (milliseconds to build), and a text is
only ever tried against the patterns whose literal it holds. ``patternset.py`` compiles
those the first time they are asked for.

The literals come from a small tokenizer rather than ``re``'s parser (``required_literals``
in patternset.py), which costs ~100 µs a pattern: 0.7 s for the lists. It is sound, never
exact: whatever it does not understand (an escape with arguments, a nested class, verbose
mode, a non-ASCII character) gives no literal, and a pattern without one is tried on
every text. Literals are ASCII and lower-case and are looked for in ``text.casefold()``:
the only non-ASCII characters that match an ASCII letter case-insensitively (``ſ``,
the Kelvin sign) fold to it, and no ASCII character folds to anything else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import ahocorasick_rs

#: a pattern whose literals are shorter than this is tried on every text, as one without
#: a literal is (patternset.py tries those together, in one Rust call): two-character
#: literals are in so many texts that trying their patterns one by one costs more
#: (measured on the adversarial mix of bench/useragent_worst_case.py: 24 candidates per
#: text in the device brands instead of 6)
MIN_LITERAL = 3

_TOKEN = re.compile(
    r"\\(?P<esc>.)"
    r"|(?P<cls>\[\^?\]?(?:\\.|\[:\w+:\]|[^\]\\\[])*\])"
    r"|(?P<open>\((?:\?(?:[:=!]|<[=!]|P?<\w+>|[a-zA-Z-]*:?))?)"
    r"|(?P<close>\))"
    r"|(?P<bar>\|)"
    r"|(?P<quant>(?:[*+?]|\{\d*(?:,\d*)?\})[?+]?)"
    r"|(?P<ch>.)",
    re.DOTALL,
)
#: escapes of a letter or digit that stand for one position and take no argument
_CLASS_ESCAPES = frozenset("dDwWsSbBAzZ")
_LOOKAROUND_OPEN = ("(?=", "(?!", "(?<=", "(?<!")
#: characters that are never a literal of their own outside a class
_SYNTAX = frozenset(".^$[]{}")

# an item of a sequence: a literal character, a set of alternatives one of which is
# required, or None (something that is no literal: a class, an anchor, an optional part)
_Item = str | tuple[str, ...] | None


class _Unknown(Exception):
    """The tokenizer met syntax it does not model: the pattern gets no literal."""


#: a pattern that is one literal (``Googlebot``, ``bingbot\\/``): most of the bot lists
_PLAIN = re.compile(r"(?:[^\\.^$|?*+()\[\]{}]|\\[^A-Za-z0-9])+")
_UNESCAPE = re.compile(r"\\(.)")
#: a leading group with an empty-requiring first branch (Matomo's ``(?:^|[^A-Z0-9…]|…)``
#: prefix, without nested groups): it requires no literal, so reading can start after it
_LEADING_ANCHOR = re.compile(r"\(\?:\^\|(?:[^()\[\]\\]|\\.|\[\^?(?:[^\]\\]|\\.)+\])*\)")


def literals(pattern: str) -> tuple[str, ...]:
    """Lower-case ASCII literals, one of which every match of ``pattern`` contains; () when
    none can be told (or the pattern uses syntax this tokenizer does not model)."""
    if _PLAIN.fullmatch(pattern) and pattern.isascii():
        found: tuple[str, ...] = (_UNESCAPE.sub(r"\1", pattern).lower(),)
    else:
        leading = _LEADING_ANCHOR.match(pattern)
        try:
            found = _literals(pattern[leading.end() :] if leading else pattern)
        except _Unknown:
            return ()
    if not found or min(len(x) for x in found) < MIN_LITERAL:
        return ()
    return found


def _literals(pattern: str) -> tuple[str, ...]:
    items: list[_Item] = []
    branches: list[list[_Item]] = []
    frames: list[tuple[list[_Item], list[list[_Item]], str]] = []
    for match in _TOKEN.finditer(pattern):
        kind, token = match.lastgroup, match.group()
        if kind == "ch":
            if token == "[":
                raise _Unknown  # a class this tokenizer could not read (nested, …)
            items.append(token.lower() if token.isascii() and token not in _SYNTAX else None)
        elif kind == "esc":
            char = match.group("esc")
            if char.isascii() and char.isalnum():
                if char not in _CLASS_ESCAPES:
                    raise _Unknown  # \x41, \p{L}, \1, …: arguments or meanings not modelled
                items.append(None)
            else:
                items.append(char if char.isascii() else None)
        elif kind == "cls":
            items.append(None)
        elif kind == "quant":
            if not items or token.startswith("{}"):
                raise _Unknown
            last = items.pop()
            if token[0] in "*?" or token.startswith(("{0", "{,")):
                items.append(None)  # may be absent: requires nothing
            else:
                items.extend((last, None))  # present, but repeated: a run ends after it
        elif kind == "open":
            if "x" in token:
                raise _Unknown  # verbose mode: spaces are not literals
            frames.append((items, branches, token))
            items, branches = [], []
        elif kind == "bar":
            branches.append(items)
            items = []
        else:  # close
            if not frames:
                raise _Unknown
            branches.append(items)
            group = _either(branches)
            items, branches, token = frames.pop()
            if token.startswith(_LOOKAROUND_OPEN):
                items.append(None)
            elif token in ("(", "(?") or token.endswith((":", ">")):
                items.append(group or None)
            # else inline flags such as (?i): zero width, the run goes on
    if frames:
        raise _Unknown
    branches.append(items)
    return _either(branches)


def _best(items: list[_Item]) -> tuple[str, ...]:
    """The strongest requirement of a sequence: the option whose shortest literal is longest."""
    best: tuple[str, ...] = ()
    run: list[str] = []
    for item in [*items, None]:
        if isinstance(item, str):
            run.append(item)
            continue
        options = [("".join(run),)] if run else []
        run = []
        if isinstance(item, tuple):
            options.append(item)
        for option in options:
            if option and (not best or min(map(len, option)) > min(map(len, best))):
                best = option
    return best


def _either(branches: list[list[_Item]]) -> tuple[str, ...]:
    found = [_best(branch) for branch in branches]
    return tuple(sorted({x for f in found for x in f})) if all(found) else ()


def fold(text: str) -> str:
    """``text`` as literals are looked for in it (see the module's docstring)."""
    return text.lower() if text.isascii() else text.casefold()


class LiteralIndex:
    """For a list of patterns' literals: which patterns a text may match."""

    __slots__ = ("always", "finder", "owners")

    def __init__(self, per_pattern: Sequence[tuple[str, ...]]) -> None:
        owners: dict[str, list[int]] = {}
        always: list[int] = []
        for index, found in enumerate(per_pattern):
            if not found:
                always.append(index)
            for literal in found:
                owners.setdefault(literal, []).append(index)
        #: patterns without a literal: candidates for every text
        self.always = tuple(always)
        keys = list(owners)
        self.owners = [tuple(owners[k]) for k in keys]
        self.finder = ahocorasick_rs.AhoCorasick(keys) if keys else None

    def candidates(self, text: str) -> list[int]:
        """Indexes of the patterns holding a literal ``text`` contains, in list order
        (the patterns of ``always`` are not among them)."""
        if self.finder is None:
            return []
        found: set[int] = set()
        for key in {
            m[0] for m in self.finder.find_matches_as_indexes(fold(text), overlapping=True)
        }:
            found.update(self.owners[key])
        return sorted(found)
