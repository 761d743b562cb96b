"""The hosted dashboard answers from the compactor's rollups and recent events, without
Athena, with the numbers local mode gives for the same events.

The lake is the view tests' generated traffic (three days, two sites, duplicates),
moved so that its last day is the pinned "today"; it is put in a moto bucket as
Firehose leaves it, and the compactor's rollup step runs on it. Athena is a stand-in
that fails the test if asked, except where a test wants it asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
from moto import mock_aws
from starlette.testclient import TestClient

from lake_compactor.merge import merge
from lake_compactor.policy import Policy, StoredObject, run_id
from lake_compactor.roll_up import roll_up
from lake_compactor.store import S3Store
from ownstats.dashboard import hosted
from ownstats.dashboard.api_keys import KeyStore
from ownstats.dashboard.app import build_app
from ownstats.dashboard.lake_backend import TAIL_S, LakeBackend, date_bounds
from ownstats.dashboard.queries import BREAKDOWNS
from ownstats.engine import Engine
from ownstats.lake import LakeSink
from ownstats.results import QueryResult
from tests.views.conftest import DAYS, generate

REGION = "eu-west-1"
BUCKET = "ownstats-lake"
SITE = "a.example"
PANELS = "pages,sources,countries,devices,custom-events,mediums"
#: the generated traffic's last day is "today"; the clock is late that day
NOW = datetime(2026, 3, 3, 23, 30)


class NoAthena:
    def __init__(self, allowed: bool = False) -> None:
        self.allowed = allowed
        self.asked: list[str] = []

    def query(self, sql: str) -> QueryResult:
        self.asked.append(sql)
        if not self.allowed:
            raise AssertionError(f"Athena was asked: {sql[:300]}")
        return QueryResult(["x"], [])


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    sink = LakeSink(root, max_buffer_rows=400, compact_threshold=100_000)
    events = generate()
    for start in range(0, len(events), 300):
        assert sink.put(events[start : start + 300]) == []
    sink.close()
    return root


@contextlib.contextmanager
def lake_bucket(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Store]:
    """A moto bucket holding ``root``'s events objects as Firehose left them."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        for path in sorted((root / "events").rglob("*.parquet")):
            s3.upload_file(str(path), BUCKET, path.relative_to(root).as_posix())
        yield S3Store(BUCKET, s3)


@pytest.fixture
def bucket(lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Store]:
    with lake_bucket(lake, monkeypatch) as store:
        report = roll_up(store, workdir=tmp_path / "work")
        assert sorted(report.days) == list(DAYS)
        yield store


def page_queries() -> list[dict[str, str]]:
    base = {"site": SITE, "panels": PANELS}
    periods = ["today", "yesterday", "7d", "30d", "month", "last_month", "year", "12mo", "all"]
    periods.append("realtime")
    queries = [{**base, "period": p} for p in periods]
    queries += [
        {**base, "period": "7d", "comparison": "year_over_year"},
        {**base, "period": "custom", "from": DAYS[0], "to": DAYS[1]},
        {**base, "period": "custom", "from": DAYS[0], "to": DAYS[0], "interval": "hour"},
        {**base, "period": "7d", "source": "Google"},
        {**base, "period": "30d", "event": "Signup"},
        # a page filter counts that page's views (and the hour graph's)
        {**base, "period": "7d", "page": "~blog"},
        {**base, "period": "today", "page": "/pricing", "interval": "hour"},
        # the Stats API's expressions: or, a regular expression, "never did"
        {
            **base,
            "period": "30d",
            "where": json.dumps(
                ["or", [["is", "source", ["Google"]], ["matches", "page", ["^/blog"]]]]
            ),
        },
        {
            **base,
            "period": "7d",
            "where": json.dumps(["has_not_done", ["is", "event", ["Signup"]]]),
        },
    ]
    return queries


def normal(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        # (as_of: hosted, the page says it is as of an earlier hour; local mode's clock
        # is pinned to that hour in the tests that compare the two)
        left = ("took_ms", "elapsed_ms", "as_of")
        return {k: normal(v) for k, v in value.items() if k not in left}
    if isinstance(value, list):
        return [normal(v) for v in value]
    return value


def test_every_page_equals_local_mode_and_asks_athena_nothing(
    bucket: S3Store, lake: Path, tmp_path: Path
) -> None:
    athena = NoAthena()
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date)
    routed = hosted.RoutedBackend(fast, athena)
    hosted_app = hosted.build_hosted_app(
        routed, [SITE, "shop.b.example"], require_claims=False, now=lambda: NOW, cache_ttl_s=0
    )
    with Engine(lake) as engine:
        local_app = build_app(engine, now=lambda: NOW, parallel=True)
        with TestClient(hosted_app) as remote, TestClient(local_app) as local:
            sites = remote.get("/api/sites").json()
            assert sites == local.get("/api/sites").json()
            for query in page_queries():
                got = remote.get("/api/page", params=query)
                want = local.get("/api/page", params=query)
                assert got.status_code == want.status_code == 200, (query, got.text[:500])
                assert normal(got.json()) == normal(want.json()), query
            # every other panel (tab) too, and the goal properties
            others = [
                slug for slug in BREAKDOWNS if slug not in [*PANELS.split(","), "event-props"]
            ]
            for period in ("today", "30d", "all"):
                for group in (others[:5], others[5:]):
                    query = {"site": SITE, "period": period, "panels": ",".join(group)}
                    got, want = (
                        remote.get("/api/page", params=query),
                        local.get("/api/page", params=query),
                    )
                    assert normal(got.json()) == normal(want.json()), query
                props = {"site": SITE, "period": period, "prop_event": "Signup"}
                got = remote.get("/api/breakdown/event-props", params=props)
                want = local.get("/api/breakdown/event-props", params=props)
                assert got.status_code == want.status_code == 200
                assert normal(got.json()) == normal(want.json()), props
            for path in ("/api/current-visitors", "/api/freshness"):
                got = remote.get(path, params={"site": SITE}).json()
                want = local.get(path, params={"site": SITE}).json()
                assert {k: v for k, v in got.items() if "checked" not in k and k != "age_s"} == {
                    k: v for k, v in want.items() if "checked" not in k and k != "age_s"
                }
    assert athena.asked == []
    assert routed.answered > 0 and routed.forwarded == 0
    # today and yesterday from events, the first day from its rollups (and reloads only
    # for cuts and filters); every rollup object was fetched once
    assert fast.lists >= 1


def test_the_stats_api_answers_hosted_as_locally_without_athena(
    bucket: S3Store, lake: Path, tmp_path: Path
) -> None:
    """#24: the Stats API's queries (several dimensions, a property breakdown, filter
    expressions, a funnel) from the function's engine equal local mode's, no Athena."""
    athena = NoAthena()
    keys = KeyStore(tmp_path / "keys", hourly_limit=10_000)
    key = keys.create("hosted")
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date)
    routed = hosted.RoutedBackend(fast, athena)
    hosted_app = hosted.build_hosted_app(
        routed, [SITE], require_claims=False, now=lambda: NOW, cache_ttl_s=0, api_keys=keys
    )
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("query", {"metrics": ["visitors", "visits", "bounce_rate"], "date_range": "7d",
                   "dimensions": ["visit:source", "visit:device"]}),
        ("query", {"metrics": ["visitors", "pageviews"], "date_range": "7d",
                   "dimensions": ["time:day", "visit:country"]}),
        ("query", {"metrics": ["visitors", "events", "percentage"], "date_range": "7d",
                   "dimensions": ["event:props:plan"]}),
        ("query", {"metrics": ["visitors", "visits"], "date_range": "7d", "filters": [
            ["or", [["is", "visit:source", ["Google"]], ["matches", "event:page", ["^/blog"]]]],
            ["has_not_done", ["is", "event:goal", ["Signup"]]]]}),
        ("query", {"metrics": ["visitors", "pageviews"], "date_range": "7d",
                   "dimensions": ["event:page", "visit:source"]}),
        ("query", {"metrics": ["visitors", "events", "conversion_rate"], "date_range": "7d",
                   "dimensions": ["event:goal", "visit:device", "time:day"]}),
        ("query", {"metrics": ["visitors", "pageviews", "visits"], "date_range": "day",
                   "dimensions": ["time:hour", "visit:device"]}),
        ("query", {"metrics": ["visitors"], "date_range": "7d",
                   "dimensions": ["visit:city", "visit:browser"]}),
        ("query", {"metrics": ["visitors", "events", "conversion_rate"], "date_range": "day",
                   "dimensions": ["event:goal", "time:hour"]}),
        ("query", {"metrics": ["visitors", "events"], "date_range": "7d",
                   "dimensions": ["event:goal", "event:page", "visit:source"]}),
        ("query", {"metrics": ["visitors", "events"], "date_range": "7d",
                   "dimensions": ["visit:source"]}),
        ("query", {"metrics": ["events", "pageviews"], "date_range": "7d"}),
        ("funnel", {"date_range": "7d", "steps": ["/", "goal:Signup"]}),
    ]  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"}
    with Engine(lake) as engine:
        local_app = build_app(engine, now=lambda: NOW, api_keys=keys)
        with TestClient(hosted_app) as remote, TestClient(local_app) as local:
            for path, body in bodies:
                body = {"site_id": SITE, **body}
                got = remote.post(f"/api/v2/{path}", json=body, headers=headers)
                want = local.post(f"/api/v2/{path}", json=body, headers=headers)
                assert got.status_code == want.status_code == 200, (body, got.text[:300])
                assert got.json() == want.json(), body
                assert got.json()["results"], body
    assert athena.asked == []


def deliver(
    bucket: S3Store, events: list[dict[str, Any]], day: str, extra: Path, prefix: str
) -> Path:
    """A Firehose delivery for ``day``: ``events`` written as the lake writer writes
    them (under ``extra``) and uploaded as ``<prefix>-<name>``; returns ``extra``."""
    sink = LakeSink(extra, max_buffer_rows=1000, compact_threshold=100_000)
    assert sink.put(events) == []
    sink.close()
    for path in (extra / "events").rglob("*.parquet"):
        bucket.upload(path, f"events/event_date={day}/{prefix}-{path.name}")
    return extra


def hosted_over(fast: LakeBackend, now: datetime, athena: NoAthena | None = None) -> Any:
    """The hosted API over the function's engine (Athena a stand-in), its clock at ``now``."""
    routed = hosted.RoutedBackend(fast, athena or NoAthena())
    return hosted.build_hosted_app(
        routed, [SITE], require_claims=False, now=lambda: now, cache_ttl_s=0
    )


def compactor_at(bucket: S3Store, work: Path, moment: datetime, load_limit: int = 1) -> None:
    """One compactor rollup run at ``moment`` (naive UTC), days over ``load_limit`` bytes
    of events too big for the function (by default every day)."""
    at = moment.replace(tzinfo=UTC).timestamp()
    report = roll_up(bucket, workdir=work, load_limit=load_limit, clock=lambda: at)
    assert report.errors == []


def same_pages(remote: TestClient, local: TestClient, queries: list[dict[str, str]]) -> None:
    """Each query's ``/api/page`` from the function equals local mode's."""
    for query in queries:
        got = remote.get("/api/page", params=query)
        want = local.get("/api/page", params=query)
        assert got.status_code == want.status_code == 200, got.text[:300]
        assert normal(got.json()) == normal(want.json()), query


def compact_day(bucket: S3Store, day: str, tmp_path: Path, lake: Path | None = None) -> None:
    """Replace ``day``'s objects by one day-compaction's output (its merge, as the
    compactor names it); with ``lake``, a copy of the local lake gets the same files."""
    objects = bucket.list(f"events/event_date={day}/")
    fetched = [bucket.fetch(o.key, tmp_path / "in") for o in objects]
    merge(fetched, tmp_path / "merged", policy=Policy(), temp_dir=tmp_path / "spill")
    run = run_id(NOW.timestamp(), "0a1b2c3d")
    for n, path in enumerate(sorted((tmp_path / "merged").iterdir())):
        name = f"compacted-day-{run}-{n:03}.parquet"
        bucket.upload(path, f"events/event_date={day}/{name}")
        if lake is not None:
            folder = lake / "events" / f"event_date={day}"
            for old in folder.glob("*.parquet"):
                old.unlink()
            shutil.copyfile(path, folder / name)
    bucket.delete([o.key for o in objects])


def test_a_filtered_page_reads_stored_visits_and_a_merged_day_as_it_is(
    bucket: S3Store, lake: Path, tmp_path: Path
) -> None:
    """#22: a closed day's visits come from the compactor's object (no visit windows in
    the function), and a day that is one day-compaction's output is read without the
    dedupe window; the filtered pages still equal local mode's, duplicates and all."""
    day = DAYS[0]
    compact_day(bucket, day, tmp_path)
    assert roll_up(bucket, workdir=tmp_path / "work").days == [day]
    athena = NoAthena()
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date)
    routed = hosted.RoutedBackend(fast, athena)
    hosted_app = hosted.build_hosted_app(
        routed, [SITE], require_claims=False, now=lambda: NOW, cache_ttl_s=0
    )
    span = {"period": "custom", "from": DAYS[0], "to": DAYS[2]}
    queries = [
        {"site": SITE, "panels": PANELS, **span, "source": "Google"},
        {"site": SITE, "panels": PANELS, **span, "page": "~blog"},
        {"site": SITE, "panels": PANELS, **span, "event": "Signup", "device": "mobile"},
    ]
    with Engine(lake) as engine:
        local_app = build_app(engine, now=lambda: NOW)
        with TestClient(hosted_app) as remote, TestClient(local_app) as local:
            same_pages(remote, local, queries)
    assert athena.asked == []
    # every day's rollups were computed from the objects it holds: each day's visits are
    # its stored object; DAYS[0] alone is one day-compaction's output
    assert fast.visits_read == len(DAYS) and fast.merged_read == 1


def test_a_merged_day_with_events_lacking_an_id_goes_through_the_dedupe_window(
    bucket: S3Store, lake: Path, tmp_path: Path
) -> None:
    """The merge keeps every event without an id, the view one of them: such a day is
    deduplicated in the function, not read as it lies, and still equals local mode."""
    local = tmp_path / "local"
    shutil.copytree(lake, local)
    day = DAYS[0]
    compact_day(bucket, day, tmp_path, lake=local)
    # two copies of one event lose their id (as an old file without the column would)
    for key in [o.key for o in bucket.list(f"events/event_date={day}/")][:1]:
        path = local / key
        con = duckdb.connect()
        try:
            first = con.execute(f"SELECT event_id FROM '{path}' LIMIT 1").fetchone()[0]  # type: ignore[index]
            con.execute(
                f"COPY (SELECT * REPLACE (CASE WHEN event_id = '{first}' THEN NULL "
                f"ELSE event_id END AS event_id) FROM '{path}' UNION ALL "
                f"SELECT * REPLACE (NULL AS event_id) FROM '{path}' WHERE event_id = '{first}') "
                f"TO '{tmp_path / 'nulls.parquet'}' (FORMAT parquet)"
            )
        finally:
            con.close()
        shutil.copyfile(tmp_path / "nulls.parquet", path)
        bucket.upload(path, key)
    assert roll_up(bucket, workdir=tmp_path / "work").days == [day]
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date)
    hosted_app = hosted_over(fast, NOW)
    query = {"site": SITE, "panels": PANELS, "period": "custom", "from": day, "to": day}
    with Engine(local) as engine:
        local_app = build_app(engine, now=lambda: NOW)
        with TestClient(hosted_app) as remote, TestClient(local_app) as here:
            for filters in ({"source": "Google"}, {"page": "~blog"}, {}):
                got = remote.get("/api/page", params={**query, **filters})
                want = here.get("/api/page", params={**query, **filters})
                assert got.status_code == want.status_code == 200, got.text[:300]
                assert normal(got.json()) == normal(want.json()), filters
    assert fast.visits_read == 1 and fast.merged_read == 0


def test_a_reloaded_days_old_files_are_deleted_at_the_next_refresh_not_before(
    bucket: S3Store, lake: Path, tmp_path: Path
) -> None:
    """A query may still be reading a day's files when a refresh reloads the day after
    a compaction: its old cached files go one refresh later, and the page follows the
    new objects at once."""
    local = tmp_path / "local"
    shutil.copytree(lake, local)
    clock = {"t": 0.0}
    cache = tmp_path / "cache"
    fast = LakeBackend(bucket, cache, today=NOW.date, monotonic=lambda: clock["t"])
    app = hosted_over(fast, NOW)
    day = DAYS[0]
    query = {"site": SITE, "panels": PANELS, "period": "custom", "from": day, "to": day,
             "source": "Google"}  # fmt: skip
    folder = cache / "events" / f"event_date={day}"
    with TestClient(app) as client:
        assert client.get("/api/page", params=query).status_code == 200
        before = sorted(p.name for p in folder.glob("*.parquet"))
        assert before and not any(name.startswith("compacted-day-") for name in before)
        compact_day(bucket, day, tmp_path, lake=local)
        roll_up(bucket, workdir=tmp_path / "work")
        clock["t"] += fast.refresh_s + 1
        after = client.get("/api/page", params=query).json()
        names = sorted(p.name for p in folder.glob("*.parquet"))
        assert set(before) < set(names)  # the old files are still there
        clock["t"] += fast.refresh_s + 1
        assert client.get("/api/page", params=query).json() == after
        left = sorted(p.name for p in folder.glob("*.parquet"))
        assert left and all(name.startswith("compacted-day-") for name in left)
    assert fast.merged_read == 1
    with Engine(local) as engine, TestClient(build_app(engine, now=lambda: NOW)) as here:
        assert normal(after) == normal(here.get("/api/page", params=query).json())


def test_a_stale_days_views_are_computed_when_a_query_asks_for_them(
    bucket: S3Store, lake: Path, tmp_path: Path
) -> None:
    """Today has a delivery the rollups lack: a filtered page reads today's visits and
    events and computes no panel view for it; the unfiltered page that follows computes
    the ones it shows; both equal local mode."""
    local = tmp_path / "local"
    shutil.copytree(lake, local)
    folder = local / "events" / f"event_date={DAYS[2]}"
    newest = max(folder.glob("*.parquet"))
    renamed = newest.with_name("later-" + newest.name)
    newest.rename(renamed)  # a new object name: the day's signature changes
    bucket.upload(renamed, f"events/event_date={DAYS[2]}/{renamed.name}")
    bucket.delete([f"events/event_date={DAYS[2]}/{newest.name}"])
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date)
    hosted_app = hosted_over(fast, NOW)
    base = {"site": SITE, "panels": PANELS, "period": "7d"}
    with Engine(local) as engine:
        local_app = build_app(engine, now=lambda: NOW)
        with TestClient(hosted_app) as remote, TestClient(local_app) as here:
            for filters, computed in (({"source": "Google"}, False), ({}, True)):
                got = remote.get("/api/page", params={**base, **filters})
                want = here.get("/api/page", params={**base, **filters})
                assert got.status_code == want.status_code == 200, got.text[:300]
                assert normal(got.json()) == normal(want.json()), filters
                assert (DAYS[2] in fast._computed["countries"]) is computed
                assert not any(DAYS[0] in days for days in fast._computed.values())


@pytest.mark.parametrize(
    "damaged",
    ["rollups/countries/month=2026-03/rollup.parquet", f"rollups/sessions/event_date={DAYS[0]}/"],
    ids=["a month rollup", "a day's visits"],
)
def test_a_damaged_rollup_object_is_set_aside_and_its_days_computed_from_events(
    bucket: S3Store, lake: Path, tmp_path: Path, damaged: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A truncated object (a bad upload, a bit flip): its days come from their events,
    equal to local mode, without Athena; one log line names it, and it is not fetched
    again while the index names the same digest."""
    key = next(o.key for o in bucket.list(damaged))
    local_copy = bucket.fetch(key, tmp_path / "in")
    data = Path(local_copy).read_bytes()
    (tmp_path / "bad.parquet").write_bytes(data[: len(data) // 2])
    bucket.upload(tmp_path / "bad.parquet", key)
    clock = {"t": 0.0}
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date, monotonic=lambda: clock["t"])
    hosted_app = hosted_over(fast, NOW)
    queries = [
        {"site": SITE, "panels": PANELS, "period": "7d"},
        {"site": SITE, "panels": PANELS, "period": "7d", "source": "Google"},
    ]
    with Engine(lake) as engine:
        local_app = build_app(engine, now=lambda: NOW)
        with TestClient(hosted_app) as remote, TestClient(local_app) as here:
            same_pages(remote, here, queries)
            gets = fast.gets
            clock["t"] += fast.refresh_s + 1
            assert remote.get("/api/page", params=queries[0]).status_code == 200
    assert fast.set_aside == 1
    assert fast.gets == gets + 1  # the index only: the damaged object is not fetched again
    named = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert len(named) == 1 and key in named[0]


def test_a_damaged_events_object_is_left_out_of_its_day_as_local_mode_does(
    bucket: S3Store, lake: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    local = tmp_path / "local"
    shutil.copytree(lake, local)
    path = min((local / "events" / f"event_date={DAYS[0]}").glob("*.parquet"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    key = f"events/event_date={DAYS[0]}/{path.name}"
    bucket.upload(path, key)
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date)
    hosted_app = hosted_over(fast, NOW)
    query = {"site": SITE, "panels": PANELS, "period": "7d", "source": "Google"}
    with Engine(local) as engine:
        local_app = build_app(engine, now=lambda: NOW)
        with TestClient(hosted_app) as remote, TestClient(local_app) as here:
            same_pages(remote, here, [query])
    assert fast.set_aside == 1
    named = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(named) == 1 and key in named[0]


def test_a_day_too_big_to_load_is_read_from_its_older_rollups_not_from_athena(
    bucket: S3Store, lake: Path, tmp_path: Path
) -> None:
    """Today has a delivery newer than its rollups, and more events than the function
    loads (as at ~50 M page views a month): its panels are the rollups as the compactor
    last wrote them, equal to local mode over the events it rolled up, with no Athena
    query; a query that needs today's rows still goes to Athena."""
    today = DAYS[2]
    folder = lake / "events" / f"event_date={today}"
    newest = max(folder.glob("*.parquet"))
    bucket.upload(newest, f"events/event_date={today}/later-{newest.name}")
    sizes = {d: sum(o.size for o in bucket.list(f"events/event_date={d}/")) for d in DAYS}
    limit = sizes[today] - 1
    assert all(sizes[d] <= limit for d in DAYS[:2])
    athena = NoAthena(allowed=True)
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date, max_event_bytes=limit)
    routed = hosted.RoutedBackend(fast, athena)
    hosted_app = hosted.build_hosted_app(
        routed, [SITE], require_claims=False, now=lambda: NOW, cache_ttl_s=0
    )
    query = {"site": SITE, "panels": PANELS, "period": "custom", "from": DAYS[0], "to": today}
    with Engine(lake) as engine:  # the events the rollups were computed from
        local_app = build_app(engine, now=lambda: NOW)
        with TestClient(hosted_app) as remote, TestClient(local_app) as here:
            same_pages(remote, here, [query])
            assert athena.asked == [] and fast.older_read == {today}
            assert today not in fast._loaded
            # the live counter reads today's events: too many here, so Athena's job
            remote.get("/api/page", params={**query, "live": "1"})
    assert athena.asked and all("current_visitors" in q or "FROM events" in q for q in athena.asked)


class Aged:
    """The bucket as S3 lists it a day later: every object a day old but the newest
    delivery (moto dates every upload now)."""

    def __init__(self, store: S3Store) -> None:
        self.store = store

    def list(self, prefix: str) -> list[StoredObject]:
        return [
            o if "/later-" in o.key else dataclasses.replace(o, modified=o.modified - 86_400)
            for o in self.store.list(prefix)
        ]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.mark.parametrize("late_by_s", [60, 3600], ids=["fresh", "idle for an hour"])
def test_the_live_counter_and_freshness_of_a_day_too_big_read_its_newest_objects(
    bucket: S3Store, lake: Path, tmp_path: Path, late_by_s: int
) -> None:
    """Today is more than the function loads: the live counter and the freshness check
    read only the objects written in the last ``TAIL_S`` (which hold every event of
    those minutes). The newest event so found is the day's only if it falls within
    them: a site idle for an hour sends the freshness check to Athena."""
    today = DAYS[2]
    written = time.time()  # moto's LastModified of what the test uploads
    clock = written + late_by_s
    ticks = {"t": 0.0}
    newest = datetime.fromtimestamp(written - 30, UTC).replace(tzinfo=None)
    late = [dict(e) for e in generate(seed=22) if e["event_date"] == today][:5]
    for n, event in enumerate(late):
        event["event_id"] = f"newest-{n}"
        event["event_time"] = int(newest.replace(tzinfo=UTC).timestamp() * 1000)
    deliver(bucket, late, today, tmp_path / "extra", "later")
    sizes = {d: sum(o.size for o in bucket.list(f"events/event_date={d}/")) for d in DAYS}
    athena = NoAthena(allowed=True)
    fast = LakeBackend(
        Aged(bucket), tmp_path / "cache", today=NOW.date, max_event_bytes=sizes[today] - 1,
        clock=lambda: clock, monotonic=lambda: ticks["t"],
    )  # fmt: skip
    app = hosted_over(fast, NOW, athena)
    query = {"site": SITE, "panels": "pages", "period": "custom", "from": DAYS[0],
             "to": today, "live": "1"}  # fmt: skip
    with TestClient(app) as client:
        page = client.get("/api/page", params=query).json()
    assert today not in fast._loaded
    if late_by_s < fast.tail_s:
        assert athena.asked == [] and fast.tail_answered == 2
        assert page["freshness"]["newest_event_at"].startswith(
            newest.replace(tzinfo=UTC).isoformat()[:19]
        )
        # (the view bounds its days by the real clock's date: these March days are older)
        assert page["current_visitors"]["visitors"] == 0
        # an hour later nothing is that new: the tail's cached files go one refresh after
        # the refresh that dropped them (a day too big to load is never loaded)
        cached = sorted((tmp_path / "cache" / "events").rglob("later-*"))
        assert cached
        clock += 3600
        with TestClient(app) as client:
            for _ in range(2):
                ticks["t"] += fast.refresh_s + 1
                client.get("/api/page", params=query)
        assert not any(path.exists() for path in cached)
    else:  # not provable from the newest objects: Athena's (the stand-in answers nothing)
        assert fast.tail_answered == 1
        assert len(athena.asked) == 1 and "max(event_time)" in athena.asked[0]


def test_the_live_counters_window_fits_in_the_tail() -> None:
    """The tail answers ``current_visitors`` only because its window (its own SQL) is
    shorter than ``TAIL_S``: a view reaching further back would need older objects."""
    from athena_views import load_views

    sql = next(v.sql for v in load_views() if v.name == "current_visitors")
    minutes = [int(m) for m in re.findall(r"INTERVAL '(\d+)' MINUTE", sql, re.IGNORECASE)]
    assert minutes and max(minutes) * 60 < TAIL_S


def test_days_without_rollups_are_read_from_events_and_big_ranges_go_to_athena(
    bucket: S3Store, tmp_path: Path
) -> None:
    bucket.delete([k.key for k in bucket.list("rollups/")])  # the compactor has not run yet
    later = NOW + timedelta(days=5)  # no day is recent: all would come from rollups
    athena = NoAthena(allowed=True)
    fast = LakeBackend(bucket, tmp_path / "cache", today=later.date, max_event_bytes=10**9)
    routed = hosted.RoutedBackend(fast, athena)
    app = hosted.build_hosted_app(
        routed, [SITE], require_claims=False, now=lambda: later, cache_ttl_s=0
    )
    with TestClient(app) as client:
        page = client.get("/api/page", params={"site": SITE, "period": "7d", "panels": "pages"})
    assert page.status_code == 200
    assert athena.asked == []
    assert page.json()["summary"]["metrics"]["visitors"]["value"] > 0

    small = LakeBackend(bucket, tmp_path / "cache2", today=later.date, max_event_bytes=1000)
    routed = hosted.RoutedBackend(small, athena)
    app = hosted.build_hosted_app(
        routed, [SITE], require_claims=False, now=lambda: later, cache_ttl_s=0
    )
    with TestClient(app) as client:
        client.get("/api/page", params={"site": SITE, "period": "7d", "source": "Google"})
    assert routed.forwarded > 0 and athena.asked


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1 FROM events WHERE event_date BETWEEN '2026-03-01' AND '2026-03-02'",
         [("2026-03-01", "2026-03-02")]),
        ("SELECT 1 FROM events WHERE event_date >= '2026-03-02'", [("2026-03-02", "2026-03-03")]),
        ("SELECT 1 FROM events WHERE event_date = '2026-03-02'", [("2026-03-02", "2026-03-02")]),
        ("SELECT 1 FROM events WHERE event_date <= '2026-03-02'", None),
        ("SELECT 1 FROM events WHERE '2026-03-02' <= event_date", [("2026-03-02", "2026-03-03")]),
        ("SELECT 1 FROM events WHERE event_date IN ('2026-03-01')", [("2026-03-01", "2026-03-01")]),
        ("SELECT 1 FROM events", []),
    ],
)  # fmt: skip
def test_the_days_a_query_reads_come_from_its_own_predicates(
    sql: str, expected: list[tuple[str, str]] | None
) -> None:
    assert date_bounds(sql, date(2026, 3, 3)) == expected


def test_the_lambda_handler_answers_a_page_from_rollups_without_athena(
    bucket: S3Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[dict[str, Any]] = []
    monkeypatch.setenv(hosted.WORKGROUP_ENV, "wg")
    monkeypatch.setenv(hosted.DATABASE_ENV, "db")
    monkeypatch.setenv(hosted.DOMAINS_ENV, SITE)
    monkeypatch.setenv(hosted.LAKE_BUCKET_ENV, BUCKET)
    monkeypatch.setattr(hosted, "utc_today", NOW.date)
    monkeypatch.setattr(hosted, "minute_now", lambda: NOW)
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register(
        "provide-client-params.athena.StartQueryExecution",
        lambda params, **_: started.append(dict(params)),
    )
    hosted._lambda_handler.cache_clear()
    thread = ThreadPoolExecutor(
        max_workers=1, initializer=lambda: asyncio.set_event_loop(asyncio.new_event_loop())
    )
    try:
        with thread:
            request = {
                "version": "2.0", "routeKey": "GET /api/{proxy+}", "rawPath": "/api/page",
                "rawQueryString": f"site={SITE}&period=7d&panels={PANELS}", "headers": {},
                "requestContext": {
                    "http": {"method": "GET", "path": "/api/page", "protocol": "HTTP/1.1",
                             "sourceIp": "192.0.2.1", "userAgent": "test"},
                    "authorizer": {"jwt": {"claims": {"sub": "u"}, "scopes": None}},
                    "stage": "$default", "requestId": "r", "accountId": "1", "apiId": "a",
                    "domainName": "d", "domainPrefix": "d", "routeKey": "GET /api/{proxy+}",
                    "time": "03/Mar/2026:23:30:00 +0000", "timeEpoch": 1772580600000,
                },
                "isBase64Encoded": False,
            }  # fmt: skip
            response = thread.submit(hosted.handler, request, None).result()
    finally:
        hosted._lambda_handler.cache_clear()
        boto3.DEFAULT_SESSION = None
    assert response["statusCode"] == 200, response["body"][:500]
    body = json.loads(response["body"])
    assert body["summary"]["metrics"]["visitors"]["value"] > 0
    assert all("error" not in panel for panel in body["panels"].values())
    assert started == []  # not one StartQueryExecution
    assert datetime.now(UTC)  # the real clock is not what the page used


@pytest.mark.parametrize("late_day", [DAYS[2], DAYS[0]], ids=["today", "a closed day"])
def test_a_new_delivery_is_seen_after_the_refresh_interval(
    bucket: S3Store, lake: Path, tmp_path: Path, late_day: str
) -> None:
    """A day's rollups count only while its objects are those they were computed from:
    after a delivery (today's Firehose file, or a late one for a closed day) the day is
    computed in the function until the compactor runs again."""
    clock = {"t": 0.0}
    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date, monotonic=lambda: clock["t"])
    routed = hosted.RoutedBackend(fast, NoAthena())
    app = hosted.build_hosted_app(
        routed, [SITE], require_claims=False, now=lambda: NOW, cache_ttl_s=0
    )
    query = {"site": SITE, "period": "7d", "panels": "pages,sources"}
    with TestClient(app) as client:
        before = client.get("/api/page", params=query).json()
        # Firehose delivers a file for today: new events of new visitors
        late = [dict(e) for e in generate(seed=21) if e["event_date"] == late_day][:60]
        for n, event in enumerate(late):
            event["event_id"] = f"late-{n}"
            event["visitor_id"] = f"late-visitor-{n % 9}"
        extra = deliver(bucket, late, late_day, tmp_path / "extra", "late")
        # within the refresh interval the function answers from what it has
        assert client.get("/api/page", params=query).json() == before
        clock["t"] += fast.refresh_s + 1
        after = client.get("/api/page", params=query).json()
    # the same as local mode over the lake with the file
    copy = tmp_path / "copy"
    shutil.copytree(lake, copy)
    for path in (extra / "events").rglob("*.parquet"):
        target = copy / "events" / f"event_date={late_day}" / f"late-{path.name}"
        shutil.copyfile(path, target)
    with Engine(copy) as engine, TestClient(build_app(engine, now=lambda: NOW)) as local:
        want = local.get("/api/page", params=query).json()
    assert normal(after) == normal(want)
    assert (
        after["summary"]["metrics"]["visitors"]["value"]
        > (before["summary"]["metrics"]["visitors"]["value"])
    )


def test_the_functions_engine_reaches_its_cache_folder_only(
    bucket: S3Store, tmp_path: Path
) -> None:
    from ownstats.results import QueryError

    fast = LakeBackend(bucket, tmp_path / "cache", today=NOW.date, memory_limit="256MB")
    assert fast.answers("SELECT sum(visits) FROM daily_stats")
    assert fast.query("SELECT sum(visits) FROM daily_stats").rows[0][0] > 0
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/ownstats-escape.csv'",
        "SET enable_external_access = true",
        "ATTACH '/tmp/other.duckdb'",
    ):
        with pytest.raises(QueryError):
            fast.query(sql)
    assert not Path("/tmp/ownstats-escape.csv").exists()


@pytest.mark.parametrize("today_too_big", [True, False], ids=["every day", "closed days"])
def test_days_too_big_to_load_answer_a_page_as_of_the_hour_with_no_athena(
    bucket: S3Store, lake: Path, tmp_path: Path, today_too_big: bool
) -> None:
    """#22 at ~50 M page views a month and more: the closed days (and maybe today) are
    too big to load. The compactor rolls today up by whole hours and gives the closed
    days cut visits; the page is shown as of 05:00 (today's rollups and stored visits),
    compared with yesterday until 05:00 read from its stored and cut visits and rollups:
    every period equals local mode at 05:00 over the same events, with no Athena query
    and no day's events loaded."""
    today, clock = DAYS[2], datetime.fromisoformat(f"{DAYS[2]}T05:30:00")
    here = tmp_path / "here"  # local mode: the same events, today's up to 05:00
    shutil.copytree(lake / "events", here / "events")
    limit = 1
    if not today_too_big:  # yesterday gets a second copy of a file: bigger than today
        folder = here / "events" / f"event_date={DAYS[1]}"
        again = shutil.copyfile(max(folder.glob("*.parquet")), folder / "again.parquet")
        bucket.upload(again, f"events/event_date={DAYS[1]}/again.parquet")
        sizes = {d: sum(o.size for o in bucket.list(f"events/event_date={d}/")) for d in DAYS}
        limit = sizes[today]
        assert sizes[DAYS[1]] > limit
    compactor_at(bucket, tmp_path / "work", clock, limit)
    con = duckdb.connect()
    for path in sorted((here / "events" / f"event_date={today}").glob("*.parquet")):
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{path}') WHERE event_time < "
            f"TIMESTAMP '{today} 05:00:00') TO '{tmp_path / 'kept.parquet'}' (FORMAT parquet)"
        )
        (tmp_path / "kept.parquet").replace(path)
    athena = NoAthena()
    fast = LakeBackend(bucket, tmp_path / "cache", today=clock.date, max_event_bytes=limit)
    remote_app = hosted_over(fast, clock, athena)
    base = {"site": SITE, "panels": PANELS}
    queries = [{**base, "period": p} for p in ("today", "yesterday", "7d", "30d", "month", "all")]
    queries += [
        {**base, "period": "today", "interval": "hour"},
        {**base, "period": "custom", "from": DAYS[0], "to": today},
    ]
    with Engine(here) as engine:
        local_app = build_app(engine, now=lambda: clock.replace(minute=0))
        with TestClient(remote_app) as remote, TestClient(local_app) as local:
            same_pages(remote, local, queries)
            page = remote.get("/api/page", params=queries[0]).json()
    assert athena.asked == [] and today not in fast._loaded and DAYS[1] not in fast._loaded
    assert fast.cuts_read > 0 and today in fast.older_read
    assert page["meta"]["now"] == f"{today}T05:00:00" and page["meta"]["as_of"] is True
    assert page["meta"]["previous_until"] == f"{DAYS[1]}T05:00:00"
    # yesterday had visits going on at 05:00: the cut visits took part
    cuts = fast._held[DAYS[1]][1]
    going = f"SELECT count(*) FROM read_parquet('{cuts}') WHERE until_hour = 5"
    assert con.execute(f"{going} AND domain_name = '{SITE}'").fetchall()[0][0] > 0


def test_held_visits_stay_across_a_refresh_and_a_changed_object_is_held_again(
    bucket: S3Store, tmp_path: Path
) -> None:
    """The stored visits read in place for days too big to load stay held while the index
    names the same objects (a panel between its answers() and its run still reads them);
    when the compactor rewrites one (today, an hour later), it is held again at once and
    the old file is deleted one refresh later."""
    today = DAYS[2]
    ticks = {"t": 0.0}

    compactor_at(bucket, tmp_path / "work", datetime.fromisoformat(f"{today}T05:30:00"))
    clock = datetime.fromisoformat(f"{today}T05:30:00")
    fast = LakeBackend(
        bucket, tmp_path / "cache", today=clock.date, max_event_bytes=1,
        monotonic=lambda: ticks["t"],
    )  # fmt: skip
    app = hosted_over(fast, clock)
    query = {"site": SITE, "panels": PANELS, "period": "today"}
    with TestClient(app) as client:
        assert client.get("/api/page", params=query).status_code == 200
        held = dict(fast._held)
        assert set(held) == {DAYS[1], today}
        ticks["t"] += fast.refresh_s + 1
        assert fast.as_of(clock) == clock.replace(minute=0)  # (refreshes)
        assert fast._held == held
        # today's visits rewritten up to 06:00
        compactor_at(bucket, tmp_path / "work", datetime.fromisoformat(f"{today}T06:30:00"))
        ticks["t"] += fast.refresh_s + 1
        assert fast.as_of(clock.replace(hour=6)) == clock.replace(hour=6, minute=0)
        assert fast._held[DAYS[1]] == held[DAYS[1]] and fast._held[today] != held[today]
        old = held[today][0]
        assert old.exists()  # deleted one refresh later, not under a running query
        ticks["t"] += fast.refresh_s + 1
        fast.as_of(clock)
        assert not old.exists() and fast._held[today][0].exists()


def test_the_realtime_view_of_a_day_too_big_reads_its_newest_objects(
    bucket: S3Store, lake: Path, tmp_path: Path
) -> None:
    """The realtime view (the last 30 minutes, compared with the 30 before) of a day too
    big to load is the views' SQL over the objects written since its first minute, which
    hold every event of those minutes: equal to local mode, with no Athena query. (moto
    dates every upload now, so here every object of today is that new.)"""
    clock = datetime.fromisoformat(f"{DAYS[2]}T05:30:00")
    compactor_at(bucket, tmp_path / "work", clock)
    # today is read as of 05:00 (rolled up by whole hours) whatever its size; the tail,
    # every object of today here, must fit what the function loads
    limit = sum(o.size for o in bucket.list(f"events/event_date={DAYS[2]}/"))
    fast = LakeBackend(
        bucket, tmp_path / "cache", today=clock.date, max_event_bytes=limit,
        clock=lambda: clock.replace(tzinfo=UTC).timestamp(),
    )  # fmt: skip
    query = {"site": SITE, "panels": PANELS, "period": "realtime"}
    with Engine(lake) as engine:
        local_app = build_app(engine, now=lambda: clock)
        with TestClient(hosted_over(fast, clock)) as remote, TestClient(local_app) as here:
            same_pages(remote, here, [query])
            page = remote.get("/api/page", params=query).json()
    assert fast.tail_answered > 0 and DAYS[2] not in fast._loaded
    assert "as_of" not in page["meta"] and page["meta"]["now"] == f"{DAYS[2]}T05:30:00"
    assert any(p["visitors"] for p in page["timeseries"]["points"])  # (the test can fail)


def test_a_damaged_cut_visits_object_costs_only_the_cuts_of_its_day(
    bucket: S3Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every day too big to load and yesterday's cut visits truncated: only the page's
    cuts of yesterday go to Athena (the stand-in answers nothing); its whole-day visits
    (the comparison's graph) are still read in place, every panel answers, and one log
    line names the object, set aside once."""
    clock = datetime.fromisoformat(f"{DAYS[2]}T05:30:00")
    compactor_at(bucket, tmp_path / "work", clock)
    key = f"rollups/sessions/event_date={DAYS[1]}/cuts.parquet"
    data = Path(bucket.fetch(key, tmp_path / "in")).read_bytes()
    (tmp_path / "bad.parquet").write_bytes(data[: len(data) // 2])
    bucket.upload(tmp_path / "bad.parquet", key)
    athena = NoAthena(allowed=True)
    fast = LakeBackend(bucket, tmp_path / "cache", today=clock.date, max_event_bytes=1)
    with TestClient(hosted_over(fast, clock, athena)) as remote:
        page = remote.get("/api/page", params={"site": SITE, "panels": PANELS, "period": "today"})
    assert page.status_code == 200
    assert not [k for k, v in page.json().items() if isinstance(v, dict) and "error" in v]
    assert athena.asked and all(f"'{DAYS[1]} 05:00:00.000'" in q for q in athena.asked)
    assert DAYS[1] in fast._held and fast._held[DAYS[1]][1] is None
    assert fast.set_aside == 1 and fast.cuts_read == 0
    named = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert len(named) == 1 and key in named[0]


def test_the_first_hour_of_a_day_too_big_is_shown_as_of_midnight_with_no_athena(
    bucket: S3Store, lake: Path, tmp_path: Path
) -> None:
    """At 00:30 every day is too big to load and today is rolled up to 00:00: the page
    stands at midnight, compared with yesterday until its midnight (none of its events),
    which is read, not sent to Athena (a cut at hour 0 was once left to it)."""
    clock = datetime.fromisoformat(f"{DAYS[2]}T00:30:00")
    compactor_at(bucket, tmp_path / "work", clock)
    here = tmp_path / "here"  # local mode: the same events, none of today's yet
    shutil.copytree(lake / "events", here / "events")
    shutil.rmtree(here / "events" / f"event_date={DAYS[2]}")
    athena = NoAthena()
    fast = LakeBackend(bucket, tmp_path / "cache", today=clock.date, max_event_bytes=1)
    base = {"site": SITE, "panels": PANELS}
    queries = [{**base, "period": p} for p in ("today", "7d", "month")]
    queries.append({**base, "period": "today", "interval": "hour"})
    with Engine(here) as engine:
        local_app = build_app(engine, now=lambda: clock.replace(minute=0))
        with TestClient(hosted_over(fast, clock, athena)) as remote, TestClient(local_app) as local:
            same_pages(remote, local, queries)
            page = remote.get("/api/page", params=queries[0]).json()
    assert athena.asked == [] and fast.cuts_read > 0
    assert page["meta"]["now"] == f"{DAYS[2]}T00:00:00"
