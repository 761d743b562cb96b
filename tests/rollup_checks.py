"""The one check of stored rollups: each rolled-up view's rows, read from its month
objects under ``<root>/rollups``, equal the view over ``<root>/events`` (the same view
SQL, live, on DuckDB), and so do each day's stored visits (``sessions``), one object per
day with events and none for a day without, and a day's cut visits (a day too big to
load) are its visits until each whole hour. Shared by the rollup tests and the compaction
tests on S3."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from athena_views import load_views
from lake_compactor.rollups import (
    CUT_HOUR,
    create_views,
    cuts_key,
    events_select,
    files_literal,
    read_rollups,
    rollup_views,
    visits_key,
)
from ownstats.engine import Engine


def _normal(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else value
    if isinstance(value, list):
        return tuple(_normal(v) for v in value)
    return value


def _rows(relation: duckdb.DuckDBPyRelation) -> tuple[list[tuple[Any, ...]], list[str]]:
    columns = relation.columns
    rows = [tuple(_normal(v) for v in row) for row in relation.fetchall()]
    return sorted(rows, key=repr), columns


def stored(root: Path, view: str) -> tuple[list[tuple[Any, ...]], list[str]]:
    files = sorted((root / "rollups" / view).glob("month=*/rollup.parquet"))
    con = duckdb.connect()
    if not files:
        return [], []
    listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    return _rows(con.sql(f"SELECT * FROM {read_rollups(listed)}"))


def assert_rollups_equal_views(root: Path) -> None:
    checked = 0
    with Engine(root, materialize=False) as engine:
        for view in rollup_views():
            rows, columns = stored(root, view)
            result = engine.query(f"SELECT * FROM {view}")
            want = sorted((tuple(_normal(v) for v in row) for row in result.rows), key=repr)
            assert rows == want, view
            checked += len(want)
            if want:
                assert columns == result.columns, view
    assert checked, "no rows to compare: the check would pass on an empty lake"
    days = sorted(p.name.split("=", 1)[1] for p in (root / "events").glob("event_date=*"))
    days = [d for d in days if any((root / "events" / f"event_date={d}").glob("*.parquet"))]
    on_disk = sorted((root / "rollups" / "sessions").glob("event_date=*/visits.parquet"))
    assert [p.relative_to(root).as_posix() for p in on_disk] == [visits_key(d) for d in days]
    with Engine(root, materialize=False) as engine:
        for day in days:
            con = duckdb.connect()
            rows, columns = _rows(
                con.sql(f"SELECT * FROM {read_rollups(repr(str(root / visits_key(day))))}")
            )
            result = engine.query(f"SELECT * FROM sessions WHERE event_date = '{day}'")
            want = sorted((tuple(_normal(v) for v in row) for row in result.rows), key=repr)
            assert rows == want and want, day
            assert columns == result.columns, day
    for day in days:
        if (root / cuts_key(day)).is_file():
            assert_cut_visits(root, day)


def assert_cut_visits(root: Path, day: str) -> None:
    """For every whole hour h of ``day``: its stored visits that ended before h plus its
    cut visits of h are exactly ``sessions.sql`` over the day's events before h."""
    files = sorted((root / "events" / f"event_date={day}").glob("*.parquet"))
    live = duckdb.connect()
    live.execute("SET TimeZone = 'UTC'")
    live.execute(f"CREATE TABLE everything AS {events_select(files_literal(files))}")
    live.execute("CREATE VIEW events AS SELECT * FROM everything")
    create_views(live, load_views())
    stored = read_rollups(repr(str(root / visits_key(day))))
    cuts = read_rollups(repr(str(root / cuts_key(day))))
    check = duckdb.connect()
    for hour in range(1, 24):
        cut = datetime.fromisoformat(day) + timedelta(hours=hour)
        moment = f"TIMESTAMP '{cut.isoformat(sep=' ')}'"
        live.execute(  # the views bind ``events`` when queried
            f"CREATE OR REPLACE VIEW events AS SELECT * FROM everything WHERE event_time < {moment}"
        )
        want = _rows(live.sql("SELECT * FROM sessions"))[0]
        got = _rows(
            check.sql(
                f"SELECT * FROM {stored} WHERE session_end < {moment} UNION ALL "
                f"SELECT * EXCLUDE ({CUT_HOUR}) FROM {cuts} WHERE {CUT_HOUR} = {hour}"
            )
        )[0]
        assert got == want, (day, hour)


def assert_zoned_rollups(root: Path, spec: str) -> None:
    """Each zone's stored rows (``lake_compactor.zoned_rollups``) equal, site by site,
    what the dashboard's own SQL for whole local days (``queries.zoned_days_sql``)
    returns over the events, on every local day the events touch; a local day the index
    names an hour for (``until``: the site at a size rolled up by whole hours) equals the
    dashboard's SQL for that day until that hour (``queries.cut_sql`` on the zone's
    clock), and a local day starting after it has no rows."""
    import json
    from datetime import date

    from athena_views import to_duckdb
    from athena_views.zoned import site_zone, time_zones, to_local
    from lake_compactor.rollups import INDEX_KEY, zone_prefix
    from ownstats.dashboard.queries import cut_sql, zoned_days_sql

    default, per_site = time_zones(spec)
    index = json.loads((root / INDEX_KEY).read_text())
    checked = 0
    with Engine(root, materialize=False) as engine:
        sites = [r[0] for r in engine.query("SELECT DISTINCT domain_name FROM events").rows]
        first, last = engine.query("SELECT min(event_date), max(event_date) FROM events").rows[0]
        start = date.fromisoformat(first) - timedelta(days=1)
        end = date.fromisoformat(last) + timedelta(days=1)
        for view in rollup_views():
            for site in sites:
                zone = site_zone(site, default, per_site)
                if zone is None:
                    continue
                known = index["zones"][zone]["days"]
                until = {d: m["until"] for d, m in known.items() if m.get("until")}
                files = sorted((root / zone_prefix(zone) / view).glob("month=*/rollup.parquet"))
                listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
                con = duckdb.connect()
                rows, columns = (
                    _rows(con.sql(f"SELECT * FROM {read_rollups(listed)} "
                                  f"WHERE domain_name = '{site}'"))
                    if files else ([], [])
                )  # fmt: skip
                whole = to_duckdb(f"SELECT * FROM {zoned_days_sql(view, site, zone, start, end)}")
                parts = [whole]
                if until:
                    (day, moment), *_ = until.items()
                    assert len(until) == 1, until
                    cut_day = date.fromisoformat(day)
                    local = to_local(datetime.fromisoformat(moment), zone)
                    parts = [
                        f"SELECT * FROM ({whole}) AS w WHERE event_date < '{day}'",
                        to_duckdb(f"SELECT * FROM {cut_sql(view, site, cut_day, local, zone)}"),
                    ]
                union = " UNION ALL ".join(f"SELECT * FROM ({p}) AS p" for p in parts)
                result = engine.query(union)
                want = sorted((tuple(_normal(v) for v in row) for row in result.rows), key=repr)
                # (sums of durations in another order may differ in the last digits)
                assert len(rows) == len(want), (view, site, zone)
                for got, wanted in zip(rows, want, strict=True):
                    assert all(
                        math.isclose(a, b, rel_tol=1e-6) if isinstance(a, float) else a == b
                        for a, b in zip(got, wanted, strict=True)
                    ), (view, site, zone, got, wanted)
                if want:
                    assert columns == result.columns, (view, site)
                checked += len(want)
    assert checked, "no zoned rows to compare"


def assert_zoned_cut_visits(root: Path, spec: str, zone: str, day: str) -> int:
    """For every whole hour h of local ``day`` on ``zone``'s clock: its stored visits
    that ended before h, plus its cut visits of h, are exactly ``sessions.sql`` over the
    zone's sites' events on that clock from the day's midnight to h. The cut visits."""
    from datetime import date

    from athena_views import to_duckdb
    from athena_views.zoned import day_window, local_events
    from lake_compactor.rollups import CUT_HOUR
    from lake_compactor.zoned_rollups import zone_sites
    from ownstats.dashboard.queries import sessions_of
    from stream_processor.schema import COLUMN_NAMES

    condition = zone_sites(spec)[zone]
    stored = read_rollups(repr(str(root / visits_key(day, zone))))
    cuts = read_rollups(repr(str(root / cuts_key(day, zone))))
    check = duckdb.connect()
    low = day_window(zone, date.fromisoformat(day))[0]
    going = 0
    with Engine(root, materialize=False) as engine:
        for hour in range(1, 24):
            moment = datetime.fromisoformat(day) + timedelta(hours=hour)  # (local)
            visits = sessions_of(
                local_events(zone, low, low + timedelta(hours=hour), condition, COLUMN_NAMES)
            )
            result = engine.query(to_duckdb(visits))
            want = sorted((tuple(_normal(v) for v in row) for row in result.rows), key=repr)
            literal = f"TIMESTAMP '{moment.isoformat(sep=' ')}'"
            got = _rows(
                check.sql(
                    f"SELECT * FROM {stored} WHERE session_end < {literal} UNION ALL "
                    f"SELECT * EXCLUDE ({CUT_HOUR}) FROM {cuts} WHERE {CUT_HOUR} = {hour}"
                )
            )[0]
            assert got == want, (zone, day, hour)
            counted = check.sql(f"SELECT count(*) FROM {cuts} WHERE {CUT_HOUR} = {hour}")
            going += counted.fetchall()[0][0]
    return going


def assert_zoned_visits(root: Path, spec: str, zone: str, day: str, high: datetime) -> None:
    """Local ``day``'s stored visits on ``zone``'s clock are ``sessions.sql`` over the
    zone's sites' events from its midnight to ``high`` (naive UTC: its end, or the hour
    it was rolled up to)."""
    from datetime import date

    from athena_views import to_duckdb
    from athena_views.zoned import day_window, local_events
    from lake_compactor.zoned_rollups import zone_sites
    from ownstats.dashboard.queries import sessions_of
    from stream_processor.schema import COLUMN_NAMES

    low = day_window(zone, date.fromisoformat(day))[0]
    events = local_events(zone, low, high, zone_sites(spec)[zone], COLUMN_NAMES)
    with Engine(root, materialize=False) as engine:
        result = engine.query(to_duckdb(sessions_of(events)))
    want = sorted((tuple(_normal(v) for v in row) for row in result.rows), key=repr)
    stored = read_rollups(repr(str(root / visits_key(day, zone))))
    assert _rows(duckdb.connect().sql(f"SELECT * FROM {stored}"))[0] == want and want, (zone, day)
