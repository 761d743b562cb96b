"""Sites' time zones: the setting shared by ``ownstats serve --time-zone``, the stack's
``-c time_zone``, the hosted dashboard's and the compactor's ``OWNSTATS_TIME_ZONE``,
and the one definition of a zoned site's days: which UTC moments a local day spans
(``day_window``) and its events relabelled to the site's clock (``local_events``).

Why here: the dashboard's queries (``ownstats.dashboard.queries``) compute a zoned
site's panels from those events, and the compactor (``lake_compactor.roll_up``) rolls
the same local days up with the same SQL, so the hosted dashboard can read them.

Standard library only, so the CDK app can validate the setting at synth time without
the dashboard's dependencies.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "day_window",
    "hour_start",
    "local_days",
    "local_events",
    "offsets",
    "site_zone",
    "time_zone",
    "time_zones",
    "to_local",
    "to_utc",
    "utc_days",
]


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


def site_zone(site: str, default: str | None, per_site: dict[str, str | None]) -> str | None:
    """A site's zone under a ``time_zones`` setting (None: UTC)."""
    return per_site.get(site.lower(), default)


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A naive wall time on ``zone``'s clock as naive UTC."""
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def to_local(moment: datetime, name: str) -> datetime:
    """A naive UTC moment as naive wall time on ``name``'s clock."""
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(name)).replace(tzinfo=None)


def day_window(name: str, first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """The UTC moments (naive) local days ``first``..``last`` span: from the first's
    midnight to the midnight after the last (23 or 25 hours on a change of offset)."""
    zone = ZoneInfo(name)
    end = (last or first) + timedelta(days=1)
    low = to_utc(datetime.combine(first, time()), zone)
    return low, to_utc(datetime.combine(end, time()), zone)


def local_days(name: str, low: datetime, high: datetime) -> tuple[date, date]:
    """The first and last local days on ``name``'s clock that a window of naive UTC
    moments touches (``day_window``'s inverse when the window is whole local days)."""
    return to_local(low, name).date(), to_local(high - timedelta(milliseconds=1), name).date()


def hour_start(name: str, moment: datetime) -> datetime:
    """The last whole hour on ``name``'s clock at or before ``moment`` (both naive UTC):
    on a zone half an hour off UTC, 14:00 UTC is 19:30 in Kolkata, whose hour began at
    13:30 UTC. A page on the site's clock is shown as of such an hour when the compactor
    rolls today up by whole hours (``lake_compactor.zoned_rollups``)."""
    local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(name))
    start = local.replace(minute=0, second=0, microsecond=0)
    return start.astimezone(UTC).replace(tzinfo=None)


def utc_days(low: datetime, high: datetime) -> list[date]:
    """The UTC days (the lake's partitions) a window of naive UTC moments touches."""
    first, last = low.date(), (high - timedelta(milliseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@functools.lru_cache(maxsize=256)
def offsets(name: str, first: datetime, last: datetime) -> tuple[tuple[datetime, int], ...]:
    """The zone's UTC offset in minutes from ``first`` (naive UTC) on, and each change
    of it before ``last``: (moment it starts, minutes). Days are probed, a change is
    then found to the second (zones change on whole minutes)."""
    zone = ZoneInfo(name)

    def minutes(moment: datetime) -> int:
        offset = moment.replace(tzinfo=UTC).astimezone(zone).utcoffset()
        return int(offset.total_seconds() // 60) if offset else 0

    found = [(first, minutes(first))]
    day = first
    while day < last:
        following = min(day + timedelta(days=1), last)
        if minutes(following) != found[-1][1]:
            low, high = day, following  # minutes(low) is the old offset
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if minutes(middle) == found[-1][1] else (low, middle)
            found.append((high.replace(microsecond=0), minutes(high)))
        day = following
    return tuple(found)


def _timestamp(moment: datetime) -> str:
    return f"TIMESTAMP '{moment.isoformat(sep=' ', timespec='milliseconds')}'"


def local_events(
    name: str,
    low: datetime,
    high: datetime,
    condition: str,
    columns: Sequence[str],
    source: str = "events_deduped",
) -> str:
    """The deduplicated events (``columns``, the events schema's, read from ``source``)
    of the UTC moments ``low``..``high`` that meet ``condition`` (the site or sites),
    with ``event_time`` and ``event_date`` on ``name``'s clock: every view's SQL run on
    these counts days, hours and visits on the site's clock.

    The offset is a CASE over the zone's changes in the window, computed here from
    the time zone database, so Athena and DuckDB (whose time zone functions disagree)
    run the same arithmetic. The visitor id still changes at UTC midnight (the daily
    salt): a visitor active on both sides of it within one local day counts twice,
    as across days. So a local day's visits are those of its two UTC days' parts, and
    the compactor can roll each local day up from the events of those two days.
    """
    changes = offsets(name, low, high)
    shift = str(changes[-1][1])
    for (_, minutes), (change, _) in reversed(list(itertools.pairwise(changes))):
        shift = f"CASE WHEN event_time < {_timestamp(change)} THEN {minutes} ELSE {shift} END"
    local = f"date_add('minute', {shift}, event_time)"
    kept = ", ".join(c for c in columns if c != "event_time")
    days = utc_days(low, high)
    return (
        f"SELECT {kept}, {local} AS event_time, "
        f"CAST(CAST({local} AS date) AS varchar) AS event_date FROM {source} "
        f"WHERE event_date BETWEEN '{days[0].isoformat()}' AND '{days[-1].isoformat()}' "
        f"AND {condition} "
        f"AND event_time >= {_timestamp(low)} AND event_time < {_timestamp(high)}"
    )
