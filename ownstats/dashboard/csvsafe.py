"""Text from visitors made safe to show: CSV cells a spreadsheet shows as text and never
runs as a formula (OWASP CSV injection), and no character a terminal or a spreadsheet
acts on or reorders text with.

Page paths, sources, campaigns and event names come from visitors' URLs, so anyone can
store ``utm_campaign==HYPERLINK(…)`` or a path with an ESC sequence or a bidi override
(U+202E shows ``/gpj.exe`` as ``/exe.jpg``). Used by the dashboard's CSV export and by
``ownstats query`` (table, CSV, JSON); kept free of web imports so the CLI loads it
cheaply.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["UNSAFE", "defuse", "is_formula", "visible"]

#: characters a terminal acts on or that reorder what it shows: C0 controls (ESC …),
#: DEL, C1 controls (CSI \x9b, OSC \x9d …), line/paragraph separators, the bidi
#: embeddings, overrides and isolates (U+202E …) and lone surrogates
UNSAFE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: the same without tab and line breaks, which a CSV field holds quoted, as data
_UNSAFE_IN_CSV = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every ``UNSAFE`` character shown as an escape (``\\x1b``,
    ``\\u202e``), everything else as it is."""
    return UNSAFE.sub(_escape, text)


#: what a spreadsheet may read as the start of a formula, once normalised (NFKC folds
#: the fullwidth ＝＋－＠ and the small ﹦﹢﹣﹫ forms onto these)
_FORMULA_START = frozenset("=+-@")
#: a cell starting with one of these is quoted whatever follows (OWASP: tab, CR)
_RAW_START = ("\t", "\r")
#: skipped when looking for the first real character: spreadsheets trim or ignore them
_SKIPPED = frozenset(("Cc", "Cf", "Zs", "Zl", "Zp"))


def is_formula(text: str) -> bool:
    """Whether a spreadsheet could take ``text`` for a formula (or its start for one)."""
    if text.startswith(_RAW_START):
        return True
    for char in text:
        if char.isspace() or unicodedata.category(char) in _SKIPPED:
            continue
        return unicodedata.normalize("NFKC", char)[:1] in _FORMULA_START
    return False


def defuse(text: str) -> str:
    """``text`` as a CSV cell: a leading single quote when it could run as a formula, and
    control and bidi characters as visible escapes (tab and line breaks stay: the CSV
    writer quotes them).

    Only text is ever changed: pass numbers from numeric columns as numbers (``-3`` is
    a value, not a formula), and a spreadsheet shows them as such.
    """
    text = _UNSAFE_IN_CSV.sub(_escape, text)
    return "'" + text if is_formula(text) else text
