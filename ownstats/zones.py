"""Sites' time zones: the setting shared by ``ownstats serve --time-zone``, the stack's
``-c time_zone`` and the hosted dashboard's ``OWNSTATS_TIME_ZONE``.

Standard library only, so the CDK app can validate the setting at synth time without
the dashboard's dependencies.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["time_zone", "time_zones"]


def time_zone(name: str) -> str | None:
    """An IANA time zone name checked against the system's database; ``None`` for UTC
    (the lake's own time: nothing to convert). Raises ``ValueError`` naming it."""
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {name!r} (an IANA name, e.g. Europe/Berlin)") from err
    utc_names = ("UTC", "UCT", "UNIVERSAL", "ZULU", "GMT")
    if zone.utcoffset(datetime(2026, 7, 1)) == timedelta(0) and (
        name.upper().removeprefix("ETC/") in utc_names
    ):
        return None
    return name


def time_zones(spec: str) -> tuple[str | None, dict[str, str | None]]:
    """``--time-zone`` / ``-c time_zone``: ``ZONE`` for every site, and/or
    ``site=ZONE`` pairs, comma-separated: ``Europe/Berlin,shop.example=America/New_York``.
    Returns the default and the per-site zones (None: UTC, also as a site's exception
    to a default zone)."""
    default: str | None = None
    per_site: dict[str, str | None] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        site, sep, name = item.rpartition("=")
        zone = time_zone(name.strip())
        if sep:
            per_site[site.strip().lower()] = zone
        else:
            default = zone
    return default, per_site
