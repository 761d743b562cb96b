"""CSV cells a spreadsheet shows as text and never runs as a formula (OWASP CSV injection).

Page paths, sources, campaigns and event names come from visitors' URLs, so anyone can
store ``utm_campaign==HYPERLINK(…)``. Used by the dashboard's CSV export and by
``ownstats query --format csv``; kept free of web imports so the CLI can load it cheaply.
"""

from __future__ import annotations

import unicodedata

__all__ = ["defuse", "is_formula"]

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
    """``text``, with a leading single quote when it could run as a formula.

    Only text is ever changed: pass numbers from numeric columns as numbers (``-3`` is
    a value, not a formula), and a spreadsheet shows them as such.
    """
    return "'" + text if is_formula(text) else text
