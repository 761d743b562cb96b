"""Make every string an event carries storable: valid Unicode, no control characters.

Everything in a beacon comes from outside and may hold what no sink can write: a JSON
``\\ud800`` escape decodes to a lone surrogate that UTF-8 cannot encode (Parquet and
Firehose's JSON both need UTF-8), an ``%00`` decodes to NUL (stored, but no filter can
match it), escape and other C0 characters garble logs and exports (tab and line
breaks are kept: they are text, and every output escapes them). The pipeline's
``put_storable_text`` step passes the finished event through ``storable_event``, so one
hostile value is replaced, never able to fail the batch it travels in; the sinks use
the same functions as a last guard.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"
#: C0 controls, DEL and C1 controls (CSI \x9b …); tab and line breaks are text (an event
#: name or a property may hold them) and are kept where asked
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def storable(text: str, *, keep_whitespace: bool = False) -> str:
    """``text`` with lone surrogates replaced by U+FFFD and control characters removed.

    The fast path (printable ASCII, nearly every value) costs two C calls.
    """
    if text.isascii() and text.isprintable():
        return text
    if not text.isascii():
        text = _SURROGATES.sub(REPLACEMENT, text)
    pattern = _CONTROLS_BUT_WHITESPACE if keep_whitespace else _CONTROLS
    return pattern.sub("", text)


def storable_props(props: dict[str, str]) -> dict[str, str] | None:
    """Keys and values made storable; a key that ends up empty is dropped."""
    cleaned: dict[str, str] = {}
    for key, value in props.items():
        key = storable(key, keep_whitespace=True)
        if key:
            cleaned[key] = storable(value, keep_whitespace=True)
    return cleaned or None


def storable_event(event: dict[str, Any]) -> dict[str, Any]:
    """Every string field (and the props map) of ``event`` made storable, in place.

    The strings are checked all at once first: ASCII and printable are properties of
    each character, so their concatenation has them exactly when every string does,
    and one join and two C calls cost a quarter less than two per field (this runs on
    every event; nearly every one passes). Only an event that fails is gone through
    field by field.
    """
    texts = "".join([value for value in event.values() if type(value) is str])
    if not (texts.isascii() and texts.isprintable()):
        for name, value in event.items():
            if type(value) is str and not (value.isascii() and value.isprintable()):
                event[name] = storable(value, keep_whitespace=True)
    props = event.get("props")
    if props and type(props) is not str:  # a str "props" was made storable above
        event["props"] = storable_props(props)
    return event
