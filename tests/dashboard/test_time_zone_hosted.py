"""A site on its own clock, hosted: whole local days from the compactor's zoned rollups.

The dashboard tests' lake (two weeks of March 2026, New York's change to daylight time
on the 8th inside it; Kolkata half an hour off every UTC hour; Sydney a day ahead) is
put in a moto bucket, the compactor rolls it up with the sites' time zones, and every
period of the hosted API must equal local mode's on the same events and clock, with
no Athena query and only the days of "today" (and the compared cut) loaded.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dashboard_support import DOMAINS, NOW, Lake
from starlette.testclient import TestClient

from lake_compactor import roll_up as roll_up_module
from lake_compactor.roll_up import roll_up
from lake_compactor.rollups import INDEX_KEY, rollup_views, zone_prefix
from lake_compactor.store import S3Store
from ownstats.dashboard import build_app, hosted
from ownstats.dashboard.lake_backend import LakeBackend
from ownstats.engine import Engine
from tests.hosted.test_hosted_rollups import NoAthena, lake_bucket

SITE = DOMAINS[0]
ZONES = ("America/New_York", "Asia/Kolkata", "Australia/Sydney")
PERIODS = ("today", "yesterday", "7d", "30d", "month", "last_month", "year", "12mo", "all")
PANELS = "pages,sources,countries,devices,entry-pages,exit-pages,custom-events"
#: filtered pages: their visits of whole local days are kept as tables in the function
FILTERED = (
    {"period": "30d", "source": "Google"},
    {"period": "7d", "event": "Signup", "device": "mobile"},
    {"period": "month", "page": "~blog"},
    {"period": "custom", "from": "2026-03-02", "to": "2026-03-09", "source": "Google"},
)


@pytest.fixture
def bucket(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Store]:
    with lake_bucket(lake.data_dir, monkeypatch) as store:
        yield store


def close(got: Any, want: Any) -> bool:
    """Equal, floats to 1e-9 relative (a sum of durations in another order), timings
    aside."""
    if isinstance(got, float) and isinstance(want, float):
        return math.isclose(got, want, rel_tol=1e-9)
    if isinstance(got, dict) and isinstance(want, dict):
        keys = got.keys() - {"took_ms", "elapsed_ms"}
        return keys == want.keys() - {"took_ms", "elapsed_ms"} and all(
            close(got[k], want[k]) for k in keys
        )
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(close(a, b) for a, b in zip(got, want, strict=True))
    return bool(got == want)


def compare(bucket: S3Store, engine: Engine, spec: str, cache: Path) -> LakeBackend:
    """Every period (and a custom range) hosted vs local under ``spec``; no Athena."""
    athena = NoAthena()
    fast = LakeBackend(bucket, cache, today=NOW.date, zones=spec)
    routed = hosted.RoutedBackend(fast, athena)
    remote_app = hosted.build_hosted_app(
        routed, DOMAINS, require_claims=False, now=lambda: NOW, cache_ttl_s=0, time_zone=spec
    )
    local_app = build_app(engine, now=lambda: NOW, time_zone=spec, parallel=True)
    queries = [{"site": SITE, "panels": PANELS, "period": p} for p in PERIODS]
    queries.append({"site": SITE, "panels": PANELS, "period": "custom", "from": "2026-03-02",
                    "to": "2026-03-09"})  # fmt: skip
    queries.append({"site": SITE, "period": "7d", "comparison": "year_over_year"})
    queries.extend({"site": SITE, "panels": PANELS, **state} for state in FILTERED)
    with TestClient(remote_app) as remote, TestClient(local_app) as local:
        for query in queries:
            got = remote.get("/api/page", params=query)
            want = local.get("/api/page", params=query)
            assert got.status_code == want.status_code == 200, (query, got.text[:300])
            assert close(got.json(), want.json()), (spec, query)
    assert athena.asked == []
    return fast


@pytest.mark.parametrize("zone", ZONES)
def test_every_period_on_the_sites_clock_equals_local_mode_from_zoned_rollups(
    bucket: S3Store, engine: Engine, tmp_path: Path, zone: str
) -> None:
    spec = f"{SITE}={zone}"
    report = roll_up(bucket, workdir=tmp_path / "work", zones=spec)
    assert any(day.startswith(f"{zone} ") for day in report.days)
    fast = compare(bucket, engine, spec, tmp_path / "cache")
    assert fast.zoned_read > 0
    # the filtered pages' visits of whole local days came from tables, the days no
    # recent UTC day touches apart from the others (a delivery redoes only those)
    assert fast.zoned_visits_read > 0
    kept = {n: state for n, state in fast._recent_tables.items() if n.startswith("sessions__")}
    assert len({len(state) for state in kept.values()}) > 1, sorted(kept)
    # the long periods read their whole local days from the zone's rollups: a fresh
    # function loads only the live counter's recent UTC days for them
    fresh = LakeBackend(bucket, tmp_path / "fresh", today=NOW.date, zones=spec)
    app = hosted.build_hosted_app(
        hosted.RoutedBackend(fresh, NoAthena()), DOMAINS, require_claims=False,
        now=lambda: NOW, cache_ttl_s=0, time_zone=spec,
    )  # fmt: skip
    with TestClient(app) as remote:
        for period in ("30d", "month", "year", "12mo", "all"):
            query = {"site": SITE, "panels": PANELS, "period": period}
            assert remote.get("/api/page", params=query).status_code == 200
    recent = {NOW.date().isoformat(), (NOW.date() - timedelta(days=1)).isoformat()}
    assert set(fresh._loaded) <= recent, sorted(fresh._loaded)
    assert fresh.zoned_read > 0


def test_without_zoned_rollups_every_period_is_computed_from_events_and_equal(
    bucket: S3Store, engine: Engine, tmp_path: Path
) -> None:
    """The compactor of a stack without the setting (or not run since it was set):
    the same answers, from events."""
    spec = f"{SITE}={ZONES[0]}"
    roll_up(bucket, workdir=tmp_path / "work")
    fast = compare(bucket, engine, spec, tmp_path / "cache")
    assert fast.zoned_read == 0
    assert fast.zoned_visits_read > 0  # (the function's own tables: no compactor needed)


def test_a_changed_utc_day_makes_its_local_days_computed_from_events_until_rolled_up(
    bucket: S3Store, engine: Engine, lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A late delivery to a closed UTC day changes the local days it spans: they are
    computed from events (still equal), and the next run rolls them up again; a run
    killed after a month object (before the index) is finished by the next one."""
    spec = f"{SITE}={ZONES[0]}"
    roll_up(bucket, workdir=tmp_path / "work", zones=spec)
    late = "2026-03-05"
    first = sorted((lake.data_dir / "events" / f"event_date={late}").glob("*.parquet"))[0]
    bucket.upload(first, f"events/event_date={late}/late-{first.name}")  # duplicates
    fast = compare(bucket, engine, spec, tmp_path / "cache")
    assert fast.zoned_read > 0  # the other days still from rollups

    class Killed(BaseException):
        """The function's process ends (a timeout): no handler catches it."""

    # the run rewrites the late day's UTC month objects first (one per view), then the
    # zone's: it is killed right after the zone's first month object
    written = []

    def crash(step: str) -> None:
        written.append(step)
        if written.count("rollup_written") == len(rollup_views()) + 1:
            raise Killed

    monkeypatch.setattr(roll_up_module, "checkpoint", crash)
    with pytest.raises(Killed):
        roll_up(bucket, workdir=tmp_path / "work", zones=spec)
    monkeypatch.setattr(roll_up_module, "checkpoint", lambda step: None)
    report = roll_up(bucket, workdir=tmp_path / "work", zones=spec)
    redone = sorted(d.split(" ")[1] for d in report.days if d.startswith(ZONES[0]))
    assert redone == ["2026-03-04", "2026-03-05"]  # New York's days spanning that UTC day
    assert roll_up(bucket, workdir=tmp_path / "work", zones=spec).days == []
    compare(bucket, engine, spec, tmp_path / "cache2")


def test_a_view_without_a_zoned_object_answers_empty_not_athena(
    bucket: S3Store, tmp_path: Path
) -> None:
    """The compactor writes no object for a view with no rows on a clock (a site
    without campaign terms): its panel is empty, from the function's engine."""
    spec = f"{SITE}={ZONES[0]}"
    roll_up(bucket, workdir=tmp_path / "work", zones=spec)
    index = bucket.get_json(INDEX_KEY)
    assert index is not None
    terms = [key for key in index["files"] if key.startswith(zone_prefix(ZONES[0]) + "utm_terms/")]
    assert terms
    bucket.delete(terms)
    for key in terms:
        del index["files"][key]
    bucket.put_json(INDEX_KEY, index)
    athena = NoAthena()
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date, zones=spec)
    app = hosted.build_hosted_app(
        hosted.RoutedBackend(fast, athena), DOMAINS, require_claims=False,
        now=lambda: NOW, cache_ttl_s=0, time_zone=spec,
    )  # fmt: skip
    with TestClient(app) as remote:
        got = remote.get("/api/page", params={"site": SITE, "period": "30d", "panels": "terms"})
    assert got.status_code == 200
    assert got.json()["panels"]["terms"]["rows"] == []
    assert athena.asked == [] and fast.zoned_read > 0


def without_as_of(value: Any) -> Any:
    """``value`` without the hosted page's ``as_of`` flag (local mode's clock is pinned
    to that hour instead)."""
    if isinstance(value, dict):
        return {k: without_as_of(v) for k, v in value.items() if k != "as_of"}
    if isinstance(value, list):
        return [without_as_of(v) for v in value]
    return value


#: (zone, the clock): NOW, and the first hour of a local day (shown as of its midnight:
#: compared with the day before until midnight, none of its events)
AT_SCALE = [
    *((zone, NOW) for zone in ZONES),
    ("Asia/Kolkata", NOW.replace(hour=19, minute=10)),  # 00:40 on the 15th there
    ("America/New_York", NOW.replace(hour=4, minute=10)),  # 00:10 on the 14th there
]


@pytest.mark.parametrize(("zone", "clock"), AT_SCALE, ids=[f"{z}@{c:%H%M}" for z, c in AT_SCALE])
def test_a_site_too_big_to_load_on_its_clock_is_shown_as_of_its_hour_with_no_athena(
    lake: Lake, bucket: S3Store, tmp_path: Path, zone: str, clock: datetime
) -> None:
    """#22 at ~50 M page views a month and more, on the site's clock: no day's events
    can be loaded. The compactor rolls local today up until the zone's last whole hour
    before its own (Kolkata's half an hour earlier) and stores the cut visits of the
    local days before; the page is shown as of that hour, compared with the earlier
    period until the same local hour, and every period equals local mode at that moment
    over the same events, with no Athena query and no events loaded."""
    import duckdb

    from athena_views.zoned import hour_start, to_local

    spec = f"{SITE}={zone}"
    shown = hour_start(zone, clock.replace(minute=0))
    at = clock.replace(tzinfo=UTC).timestamp()
    report = roll_up(bucket, workdir=tmp_path / "work", load_limit=1, clock=lambda: at, zones=spec)
    assert report.errors == []
    here = tmp_path / "here"  # local mode: the same events, up to that moment
    shutil.copytree(lake.data_dir / "events", here / "events")
    con = duckdb.connect()
    for path in sorted((here / "events").rglob("*.parquet")):
        kept = tmp_path / "kept.parquet"
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{path}') WHERE event_time < "
            f"TIMESTAMP '{shown.isoformat(sep=' ')}') TO '{kept}' (FORMAT parquet)"
        )
        kept.replace(path)
    athena = NoAthena()
    fast = LakeBackend(bucket, tmp_path / "cache", today=clock.date, max_event_bytes=1, zones=spec)
    remote_app = hosted.build_hosted_app(
        hosted.RoutedBackend(fast, athena), DOMAINS, require_claims=False,
        now=lambda: clock, cache_ttl_s=0, time_zone=spec,
    )  # fmt: skip
    queries = [
        {"site": SITE, "panels": PANELS, "period": p}
        for p in ("today", "yesterday", "7d", "30d", "month", "all")
    ]
    queries.append({"site": SITE, "period": "today", "interval": "hour"})
    with Engine(here) as engine:
        local_app = build_app(engine, now=lambda: shown, time_zone=spec, parallel=True)
        with TestClient(remote_app) as remote, TestClient(local_app) as local:
            for query in queries:
                got = remote.get("/api/page", params=query)
                want = local.get("/api/page", params=query)
                assert got.status_code == want.status_code == 200, (query, got.text[:300])
                assert got.json()["meta"]["as_of"] is True
                assert close(without_as_of(got.json()), want.json()), (spec, query)
    assert athena.asked == [] and not fast._loaded
    assert fast.zoned_read > 0 and fast.zoned_cuts_read > 0
    assert to_local(shown, zone).minute == 0 and (clock != NOW) == (to_local(shown, zone).hour == 0)


def test_the_realtime_view_of_a_zoned_site_too_big_reads_its_newest_objects_every_time(
    lake: Lake, engine: Engine, bucket: S3Store, tmp_path: Path
) -> None:
    """At that size, the realtime view and the live counter of a site on its own clock
    are read from the newest objects (as on UTC's), on every load: a statement the
    zoned rewrite left as it was is still recognised as such when asked again (it was
    compared by identity with the first asking's text, so a reload went to Athena)."""
    spec = f"{SITE}={ZONES[1]}"
    at = NOW.replace(tzinfo=UTC).timestamp()
    roll_up(bucket, workdir=tmp_path / "work", load_limit=1, clock=lambda: at, zones=spec)
    # (moto dates every upload now: every object of the two days is "new"; it must fit)
    limit = sum(
        o.size
        for day in (NOW.date(), NOW.date() - timedelta(days=1))
        for o in bucket.list(f"events/event_date={day.isoformat()}/")
    )
    athena = NoAthena()
    fast = LakeBackend(
        bucket, tmp_path / "cache", today=NOW.date, max_event_bytes=limit, zones=spec,
        clock=lambda: at,
    )  # fmt: skip
    remote_app = hosted.build_hosted_app(
        hosted.RoutedBackend(fast, athena), DOMAINS, require_claims=False,
        now=lambda: NOW, cache_ttl_s=0, time_zone=spec,
    )  # fmt: skip
    local_app = build_app(engine, now=lambda: NOW, time_zone=spec)
    query = {"site": SITE, "panels": PANELS, "period": "realtime"}
    with TestClient(remote_app) as remote, TestClient(local_app) as local:
        for _ in range(2):
            got, want = remote.get("/api/page", params=query), local.get("/api/page", params=query)
            assert got.status_code == want.status_code == 200, got.text[:300]
            assert close(got.json(), want.json())
    assert athena.asked == [] and fast.tail_answered >= 2


def _at_scale_with_damaged(
    bucket: S3Store, tmp_path: Path, zone: str, key: str
) -> tuple[LakeBackend, NoAthena, Any]:
    """The site on ``zone``'s clock rolled up as too big to load, the object ``key``
    then cut in half: its backend, the Athena stand-in (answering nothing) and the app."""
    spec = f"{SITE}={zone}"
    at = NOW.replace(tzinfo=UTC).timestamp()
    roll_up(bucket, workdir=tmp_path / "work", load_limit=1, clock=lambda: at, zones=spec)
    data = Path(bucket.fetch(key, tmp_path / "in")).read_bytes()
    (tmp_path / "bad.parquet").write_bytes(data[: len(data) // 2])
    bucket.upload(tmp_path / "bad.parquet", key)
    athena = NoAthena(allowed=True)
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date, max_event_bytes=1, zones=spec)
    app = hosted.build_hosted_app(
        hosted.RoutedBackend(fast, athena), DOMAINS, require_claims=False,
        now=lambda: NOW, cache_ttl_s=0, time_zone=spec,
    )  # fmt: skip
    return fast, athena, app


def test_a_damaged_zoned_cut_visits_object_costs_only_the_cuts_of_its_local_day(
    bucket: S3Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At that size on New York's clock, local yesterday's cut visits truncated: only the
    page's cuts of that local day go to Athena (the stand-in answers nothing), every
    panel still answers, and one log line names the object, set aside once."""
    from lake_compactor.rollups import cuts_key

    key = cuts_key((NOW.date() - timedelta(days=1)).isoformat(), ZONES[0])
    fast, athena, app = _at_scale_with_damaged(bucket, tmp_path, ZONES[0], key)
    with TestClient(app) as remote:
        query = {"site": SITE, "panels": PANELS, "period": "today"}
        for _ in range(2):  # (set aside once, not fetched again)
            page = remote.get("/api/page", params=query)
            assert page.status_code == 200
            assert not [k for k, v in page.json().items() if isinstance(v, dict) and "error" in v]
    # (the cut of local yesterday until 10:00 New York time is 14:00 UTC)
    assert athena.asked and all("2026-03-13 14:00:00.000" in q for q in athena.asked)
    assert fast.set_aside == 1 and fast.zoned_read > 0 and fast.zoned_cuts_read == 0
    named = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert len(named) == 1 and key in named[0]


def test_a_damaged_zoned_visits_object_costs_only_the_statements_reading_it(
    bucket: S3Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At that size on New York's clock, local today's stored visits truncated: the
    statements reading them (today's visits by hour) go to Athena (the stand-in answers
    nothing), every panel still answers, the day's rollups are still read, and one log
    line names the object, set aside once."""
    from lake_compactor.rollups import visits_key

    key = visits_key(NOW.date().isoformat(), ZONES[0])
    fast, athena, app = _at_scale_with_damaged(bucket, tmp_path, ZONES[0], key)
    with TestClient(app) as remote:
        for query in (
            {"site": SITE, "period": "today", "interval": "hour"},
            {"site": SITE, "panels": PANELS, "period": "today"},
        ) * 2:  # (set aside once, not fetched again)
            page = remote.get("/api/page", params=query)
            assert page.status_code == 200
            assert not [k for k, v in page.json().items() if isinstance(v, dict) and "error" in v]
    # (only today's visits by hour: the panels' statements read the day's rollups)
    assert athena.asked and all("hour(session_start) AS bucket" in q for q in athena.asked)
    assert fast.set_aside == 1 and fast.zoned_read > 0
    named = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert len(named) == 1 and key in named[0]
