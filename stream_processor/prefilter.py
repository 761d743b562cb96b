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

A run of characters, small classes and groups of exact alternatives is one literal set,
all its concatenations (``AM(?:350|40[25])``: ``am350``, ``am402``, ``am405``): Matomo's
device brands are mostly such lists of model names, and with single characters' runs
136 of their 2,075 patterns had no literal of three characters or more, compiled
together as one Rust set before a phone's first record (0.1 s); now 9 have none.

Working the literals out still costs ~25 µs a pattern, so they are worked out when the
package is built and read from ``CACHE_FILE`` (``cached_literals``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Sequence
from functools import cache
from pathlib import Path

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

# an item of a sequence: a literal character, an ``_Exact`` set of strings one of which
# the item matches exactly (``(?:ab|cd)``, ``[16]``, ``x?``), a tuple of alternatives one of
# which the item contains, or None (something that is no literal: a wide class, an anchor)
#: an exact set grows by concatenation (``C1[569]0[45]``: 6 strings); past this many a run
#: of literals is cut, so a pattern's literals stay few
EXACT_LIMIT = 64
#: a class of at most this many characters is an exact set (``[16]``, ``[0-5]``)
CLASS_LIMIT = 10


class _Exact(frozenset[str]):
    """Strings one of which an item matches, whole (so neighbours can be concatenated)."""


_Item = str | _Exact | tuple[str, ...] | None


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


def _class(token: str) -> _Exact | None:
    """A small class's characters, lower-cased (``[16]``, ``[0-5]``), or None (negated,
    wide, with escapes of a letter, non-ASCII): then it is no literal."""
    body = token[1:-1]
    if body.startswith("^") or not body.isascii():
        return None
    chars: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body) or body[i + 1].isalnum():
                return None  # \d, \w, \x41, …
            c = body[i + 1]
            i += 1
        elif c == "[":
            return None  # [:alpha:] and the like
        if i + 2 < len(body) and body[i + 1] == "-":
            end = body[i + 2]
            if (
                end == "\\"
                or not (c.isalnum() and end.isalnum())
                or ord(end) - ord(c) > CLASS_LIMIT
            ):
                return None
            chars.extend(chr(x) for x in range(ord(c), ord(end) + 1))
            i += 3
            continue
        chars.append(c)
        i += 1
    found = _Exact(c.lower() for c in chars)
    return found if 0 < len(found) <= CLASS_LIMIT else None


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
            items.append(_class(token))
        elif kind == "quant":
            if not items or token.startswith("{}"):
                raise _Unknown
            last = items.pop()
            if token[0] == "?" and isinstance(last, (str, _Exact)):
                # may be absent: exactly one of its strings or nothing
                items.append(_Exact((*([last] if isinstance(last, str) else last), "")))
            elif token[0] in "*?" or token.startswith(("{0", "{,")):
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
            group = _group(branches)
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


def _exact(items: list[_Item]) -> _Exact | None:
    """Every string a sequence matches, when it is only characters and exact sets (and
    they are few), else None."""
    found = {""}
    for item in items:
        if isinstance(item, str):
            found = {x + item for x in found}
        elif isinstance(item, _Exact):
            found = {x + y for x in found for y in item}
            if len(found) > EXACT_LIMIT:
                return None
        else:
            return None
    return _Exact(found)


def _group(branches: list[list[_Item]]) -> _Exact | tuple[str, ...]:
    """A group: the exact set of its strings when every branch is exact, else the
    literals one of which it contains (() when some branch requires none)."""
    exact = [_exact(branch) for branch in branches]
    if all(e is not None for e in exact):
        union = _Exact(x for e in exact for x in e)  # type: ignore[union-attr]
        if len(union) <= EXACT_LIMIT:
            return union
    return _either(branches)


def _strength(option: Collection[str]) -> int:
    return min(map(len, option)) if option else 0


def _best(items: list[_Item]) -> tuple[str, ...]:
    """The strongest requirement of a sequence: the option whose shortest literal is longest.

    A run of characters and exact sets is one option: all their concatenations (``AM`` then
    ``(?:350|40[25])`` gives ``am350``, ``am402``, ``am405``), cut where it would grow past
    ``EXACT_LIMIT`` strings."""
    best: tuple[str, ...] = ()
    run: set[str] = {""}
    for item in [*items, None]:
        options: list[Collection[str]] = []
        if isinstance(item, str):
            run = {x + item for x in run}
            continue
        if isinstance(item, _Exact):
            grown = {x + y for x in run for y in item}
            if len(grown) <= EXACT_LIMIT:
                run = grown
                continue
            options.append(run)  # the run so far is one option; a new run starts here
            run = set(item)
        else:
            options.append(run)
            run = {""}
            if isinstance(item, tuple):
                options.append(item)
        for option in options:
            if _strength(option) > _strength(best):
                best = tuple(sorted(option))
    return best


def _either(branches: list[list[_Item]]) -> tuple[str, ...]:
    found = [_best(branch) for branch in branches]
    return tuple(sorted({x for f in found for x in f})) if all(found) else ()


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


#: a look-around group opens here: Rust cannot run the pattern as it is
#: a look-around group opens here: Rust cannot run the pattern as it is
_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_LEADING_STAR = re.compile(r"^\[(?:\\.|[^\]\\])+\]\*(?=.)")


def _drop_leading_star(pattern: str) -> str:
    """``[a-z0-9_-]*bot`` → ``bot``: a leading ``[…]*`` never decides whether a search matches,
    but makes the matcher extend every match backwards over the whole text."""
    return _LEADING_STAR.sub("", pattern, count=1)


def index_literals(pattern: str) -> tuple[str, ...]:
    """The literals a list indexes ``pattern`` (a list's regex as written) by: those of the
    pattern as it is run, look-arounds removed (the looser Rust step decides which
    look-around patterns are checked exactly, so its literals are the filter)."""
    prepared = _drop_leading_star(pattern)
    return literals(_strip_lookarounds(prepared) if _LOOKAROUND.search(prepared) else prepared)


#: every list pattern's literals, computed when the package is built
#: (``scripts/build_pattern_literals.py``; a test holds it to the lists and this code)
CACHE_FILE = Path(__file__).resolve().parent / "data" / "pattern_literals.json"


def pattern_key(pattern: str) -> str:
    """A pattern's key in ``CACHE_FILE``: 64 bits of BLAKE2b, so the file holds no pattern
    text (the device brands alone are 400 kB of it) and a changed pattern misses."""
    return hashlib.blake2b(pattern.encode(), digest_size=8).hexdigest()


def code_version() -> str:
    """A digest of this module's source: literals made by other code are not used."""
    return hashlib.blake2b(Path(__file__).read_bytes(), digest_size=8).hexdigest()


def cache_table(patterns: Iterable[str]) -> dict[str, str]:
    """``CACHE_FILE``'s ``literals`` for ``patterns``: key → its literals joined by newlines
    (one JSON string parses in half the time of a list: 4 ms for the file), in key order.
    A pattern with a newline in a literal is left out (its literals are worked out)."""
    table: dict[str, str] = {}
    for key, pattern in sorted((pattern_key(p), p) for p in patterns):
        found = index_literals(pattern)
        if not any("\n" in x for x in found):
            table[key] = "\n".join(found)
    return table


@cache
def _table() -> dict[str, str]:
    try:
        data = json.loads(CACHE_FILE.read_bytes())
        if data["version"] == code_version():
            return data["literals"]  # type: ignore[no-any-return]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return {}  # no file, or one made by other code: each pattern's literals are worked out


def cached_literals(patterns: Sequence[str]) -> list[tuple[str, ...]]:
    """``index_literals`` of each pattern, from ``CACHE_FILE`` when it holds them.

    Computing them costs ~25 us a pattern: 0.2 s for the device brands a phone's first
    user agent needs, in every process. The file is keyed by each pattern's digest, so a
    list that changed after the file was made (an updated package, a local edit) costs
    only its new patterns; the answers never depend on the file."""
    table = _table()
    found: list[tuple[str, ...]] = []
    for pattern in patterns:
        hit = table.get(pattern_key(pattern))
        if hit is None:
            found.append(index_literals(pattern))
        else:
            found.append(tuple(hit.split("\n")) if hit else ())
    return found


def fold(text: str) -> str:
    """``text`` as literals are looked for in it (see the module's docstring)."""
    return text.lower() if text.isascii() else text.casefold()


class LiteralIndex:
    """For a list of patterns' literals: which patterns a text may match."""

    __slots__ = ("always", "finder", "owners")

    def __init__(self, per_pattern: Sequence[tuple[str, ...]]) -> None:
        # every (literal, pattern) pair is its own key, a literal shared by patterns
        # repeated: the automaton reports each copy, and building it so takes half the
        # time of grouping the literals in Python first (a phone's first record waits)
        keys: list[str] = []
        owners: list[int] = []
        always: list[int] = []
        for index, found in enumerate(per_pattern):
            if not found:
                always.append(index)
            keys.extend(found)
            owners.extend([index] * len(found))
        #: patterns without a literal: candidates for every text
        self.always = tuple(always)
        #: the pattern of each key
        self.owners = owners
        self.finder = ahocorasick_rs.AhoCorasick(keys) if keys else None

    def candidates(self, text: str) -> list[int]:
        """Indexes of the patterns holding a literal ``text`` contains, in list order
        (the patterns of ``always`` are not among them)."""
        if self.finder is None:
            return []
        owners = self.owners
        return sorted(
            {
                owners[m[0]]
                for m in self.finder.find_matches_as_indexes(fold(text), overlapping=True)
            }
        )
