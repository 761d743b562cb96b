"""Decode the beacon (the ``/hello.gif`` query string) into a typed value, once.

This is where the tracker's short keys (docs/PROTOCOL.md) become names and where the hard
limits live: a beacon is either decoded within bounds or rejected with a reason;
nothing unbounded gets past this module into storage.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from .reasons import Reason

MAX_QUERY = 8192  # CloudFront itself refuses URLs over 8,192 bytes
MAX_STRING = 2048  # every stored string
MAX_URL = 1024  # page paths and referrer URLs are cut here
MAX_SHORT = 256  # UTM values, source, language, time zone
MAX_EVENT_NAME = 120
MAX_PROPS = 30
MAX_PROP_KEY = 128
MAX_PROP_VALUE = 1024
#: opening brackets allowed in ``p``: 30 keys with nested values need far fewer, and
#: bounding them bounds the JSON's nesting before it is parsed (a ~1,300-deep value
#: costs milliseconds and reaches the parser's recursion limit)
MAX_PROP_BRACKETS = 256
MAX_DIMENSION = 100_000  # screen and viewport pixels
MAX_ENGAGEMENT_MS = 24 * 3_600_000
#: a query value is decoded through a cache when at most this long (see ``parse_query``)
MAX_CACHED_VALUE = 512

EVENT_TYPES = {"pv": "pageview", "ev": "event", "en": "engagement"}


@dataclass(slots=True)
class Beacon:
    """A decoded v1 beacon; URLs are split, strings bounded, numbers parsed."""

    event_type: str
    scheme: str
    hostname: str  # lower-case, no port, no trailing dot
    path: str  # path (+ #fragment in hash mode); never the query
    referrer: str  # raw `r`, "" when absent
    params: dict[str, str]
    event_name: str | None = None
    props: dict[str, str] | None = None


class BeaconError(Exception):
    """Why a query string is not a usable beacon; carries the drop reason."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def bounded(value: str | None, limit: int = MAX_SHORT) -> str | None:
    """The value cut to ``limit`` characters; None for empty."""
    if not value:
        return None
    return value[:limit]


def bounded_int(value: str | None, upper: int) -> int | None:
    """A non-negative int clamped to ``upper``; None when absent or not a number."""
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        try:
            number = int(float(value))  # "1280.5" from a zoomed page
        except (ValueError, OverflowError):
            return None
    # max(0, min(number, upper)) without two calls: five of these run on every event
    return 0 if number < 0 else number if number <= upper else upper


def decode(query: str) -> Beacon:
    """Decode a beacon query string or raise ``BeaconError``."""
    if len(query) > MAX_QUERY:
        raise BeaconError(Reason.TOO_LARGE, f"query of {len(query)} characters")
    params = parse_query(query)
    if not params:
        raise BeaconError(Reason.MALFORMED, "no beacon parameters")
    version = params.get("v")
    if version != "1":
        if version is None:
            raise BeaconError(Reason.MALFORMED, "missing protocol version v")
        shown = version if version.isdigit() and len(version) <= 3 else "?"
        raise BeaconError(Reason.UNSUPPORTED_VERSION, f"protocol version {shown}")
    event_type = EVENT_TYPES.get(params.get("t", ""))
    if event_type is None:
        # details never echo what a request sent: it could be anything, an IP included
        raise BeaconError(Reason.MALFORMED, "unknown event type t")
    url = params.get("u")
    if not url:
        raise BeaconError(Reason.MALFORMED, "missing page URL u")
    scheme, hostname, path = split_page_url(url)
    beacon = Beacon(
        event_type=event_type,
        scheme=scheme,
        hostname=hostname,
        path=path,
        referrer=params.get("r", ""),
        params=params,
    )
    if event_type == "event":
        name = params.get("n", "").strip()
        if not name:
            raise BeaconError(Reason.MALFORMED, "custom event without a name n")
        beacon.event_name = name[:MAX_EVENT_NAME]
        if "p" in params:
            beacon.props = decode_props(params["p"])
    return beacon


def parse_query(query: str) -> dict[str, str]:
    """``dict(urllib.parse.parse_qsl(query))``: the same names and values, at a fraction
    of the cost.

    Exactly ``parse_qsl``'s rules with ``keep_blank_values=False``: split on ``&``, skip
    a part without ``=`` or with nothing after it, split the rest at its first ``=``,
    turn ``+`` into a space and then decode ``%XX`` escapes (UTF-8, invalid bytes
    replaced) with ``unquote`` itself; a name seen again overrides the earlier value.
    What makes it faster: ``parse_qsl`` calls ``unquote`` twice per parameter, and a
    beacon has about ten, most of them without an escape; here a name or value is
    decoded only when it holds a ``%``, and a value through a cache (``_unquote_value``),
    because the values that hold escapes are mostly the page URL, the referrer and the
    time zone, which repeat across a site's page views. Decoding beacons was half of
    the pipeline's time, ``parse_qsl`` most of that (bench/processor_bench.py).
    """
    params: dict[str, str] = {}
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if not value:
            continue
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = unquote(name)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = _unquote_value(value) if len(value) <= MAX_CACHED_VALUE else unquote(value)
        params[name] = value
    return params


@lru_cache(maxsize=4096)
def _unquote_value(value: str) -> str:
    """``unquote(value)``, cached: page URLs, referrers and time zones repeat.

    Bounded: 4,096 values of at most ``MAX_CACHED_VALUE`` characters with their
    decodings, a few MB (under 20 MB even if every one held 4-byte characters); longer
    values are decoded each time.
    """
    return unquote(value)


@lru_cache(maxsize=16384)
def split_page_url(url: str) -> tuple[str, str, str]:
    """(scheme, hostname, path[#fragment]) of a page URL; the query string is dropped here.

    Cached: a site has far fewer distinct URLs than page views.
    """
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise BeaconError(Reason.MALFORMED, "unparseable page URL") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise BeaconError(Reason.MALFORMED, "page URL is not http(s)")
    path = clean_path(parts.path or "/")
    route = fragment_route(parts.fragment)
    if route:
        path = f"{path}#{route}"
    return parts.scheme, hostname.rstrip("."), path[:MAX_URL]


#: where a fragment's parameters begin: ``#access_token=…&token_type=bearer`` (OAuth's
#: implicit flow and OpenID Connect put tokens there), ``#/callback&code=…&state=…``
_FRAGMENT_PARAMS = re.compile(r"(?:^|[&;])[^&;/=]*=")


def fragment_route(fragment: str) -> str:
    """The route a hash-routed page is known by, without any parameters.

    Its query (``#/reset?token=…``) goes, and so does everything from the first
    ``name=value`` on: a fragment made of parameters (``#access_token=eyJ…``) is no
    page at all, and its values are credentials.
    """
    route = fragment.partition("?")[0]
    found = _FRAGMENT_PARAMS.search(route)
    if found:
        route = route[: found.start()]
    return clean_path(route) if route else ""


#: ``;name=value`` path parameters: session ids (``;jsessionid=…``) and tokens live there
_PATH_PARAMS = re.compile(r";[^/;=]*=[^/]*")


def clean_path(path: str) -> str:
    """A path as stored: ``;name=value`` parameters removed, then decoded once.

    Parameters go before decoding, so an encoded ``%3B`` stays part of the data.
    """
    if ";" in path:
        path = _PATH_PARAMS.sub("", path) or "/"
    return unquote(path) if "%" in path else path


def decode_props(raw: str) -> dict[str, str] | None:
    """Event properties: the first 30 keys of a JSON object, values made strings.

    The tracker sends what the page passed (checking it there would cost every
    visitor bytes), so the bounds live here: keys past the 30th are dropped,
    rather than losing the whole event.
    """
    if raw.count("{") + raw.count("[") > MAX_PROP_BRACKETS:
        raise BeaconError(Reason.TOO_LARGE, "props p nest or hold too many objects")
    try:
        # strict=False: a control character a mis-encoded log put inside a string (see
        # logline.request_query) must not lose the event
        value = json.loads(raw, strict=False)
    except (ValueError, RecursionError):
        raise BeaconError(Reason.MALFORMED, "props p is not JSON") from None
    if not isinstance(value, dict):
        raise BeaconError(Reason.MALFORMED, "props p is not a JSON object")
    props: dict[str, str] = {}
    for key, item in value.items():
        if len(props) == MAX_PROPS:
            break
        if item is None or not key:
            continue
        if isinstance(item, str):
            text = item
        elif isinstance(item, bool):
            text = "true" if item else "false"
        elif isinstance(item, int | float):
            text = str(item)
        else:  # nested objects and arrays are kept as compact JSON, bounded
            text = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
        props[key[:MAX_PROP_KEY]] = text[:MAX_PROP_VALUE]
    return props or None
