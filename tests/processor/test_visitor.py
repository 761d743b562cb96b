"""Visitor hashing and salt stores (docs/PROTOCOL.md): daily, agreed on, destroyed in 48 h."""

from __future__ import annotations

import ast
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from stream_processor.visitor import (
    SALT_BYTES,
    CachedSalts,
    FileSaltStore,
    MemorySaltStore,
    SsmSaltStore,
    visitor_id,
)

SALT = b"s" * 32


def policy_of(described: dict) -> dict:  # type: ignore[type-arg]
    text = described["Policies"][0]["PolicyText"]
    try:
        return json.loads(text)  # type: ignore[no-any-return]
    except ValueError:  # moto keeps the policy as a Python repr
        return ast.literal_eval(text)  # type: ignore[no-any-return]


def test_visitor_id_is_64_bit_hex_and_keyed() -> None:
    vid = visitor_id(SALT, "example.com", "203.0.113.1", "UA")
    assert len(vid) == 16 and int(vid, 16) >= 0
    assert vid == visitor_id(SALT, "example.com", "203.0.113.1", "UA")
    assert vid != visitor_id(b"t" * 32, "example.com", "203.0.113.1", "UA")  # another day
    assert vid != visitor_id(SALT, "example.org", "203.0.113.1", "UA")  # another site
    assert vid != visitor_id(SALT, "example.com", "203.0.113.2", "UA")
    assert vid != visitor_id(SALT, "example.com", "203.0.113.1", "UA2")
    # no ambiguity from concatenation
    assert visitor_id(SALT, "a.com", "1.2.3.4", "x") != visitor_id(SALT, "a.co", "m1.2.3.4", "x")


NOON_28 = datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()  # the day the tests' salts are for


def test_file_store_creates_once_and_agrees_across_instances(tmp_path: Path) -> None:
    a = FileSaltStore(tmp_path, clock=lambda: NOON_28)
    b = FileSaltStore(tmp_path, clock=lambda: NOON_28)
    salt = a.salt_for("2026-11-28")
    assert len(salt) == SALT_BYTES
    assert b.salt_for("2026-11-28") == salt
    assert a.salt_for("2026-11-27") != salt


def test_file_store_race_has_one_winner(tmp_path: Path) -> None:
    stores = [FileSaltStore(tmp_path, clock=lambda: NOON_28) for _ in range(16)]
    results: list[bytes] = []
    barrier = threading.Barrier(len(stores))

    def worker(store: FileSaltStore) -> None:
        barrier.wait()
        results.append(store.salt_for("2026-11-28"))

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["2026-11-28.salt"]  # no temp files left


def test_file_store_destroys_salts_older_than_48_hours(tmp_path: Path) -> None:
    now = datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()
    store = FileSaltStore(tmp_path, clock=lambda: now)
    for day in ("2026-11-25", "2026-11-26", "2026-11-27"):
        (tmp_path / f"{day}.salt").write_text(SALT.hex())
    store.salt_for("2026-11-28")
    left = sorted(p.stem for p in tmp_path.glob("*.salt"))
    # the 26th began 60 h ago: gone; the 27th began 36 h ago: kept for late events
    assert left == ["2026-11-27", "2026-11-28"]


def test_cached_salts_call_the_store_once_per_day() -> None:
    calls: list[str] = []
    inner = MemorySaltStore()

    class Counting:
        def salt_for(self, day: str) -> bytes:
            calls.append(day)
            return inner.salt_for(day)

    cached = CachedSalts(Counting())
    for _ in range(100):
        cached.salt_for("2026-11-28")
    cached.salt_for("2026-11-27")
    assert calls == ["2026-11-28", "2026-11-27"]


@pytest.fixture
def ssm():  # type: ignore[no-untyped-def]
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def test_ssm_store_creates_an_expiring_secure_parameter(ssm) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 28, 9, tzinfo=UTC).timestamp()
    store = SsmSaltStore(ssm, "/ownstats/test/salts", clock=lambda: now)
    salt = store.salt_for("2026-11-28")
    assert len(salt) == SALT_BYTES
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": ["/ownstats/test/salts/2026-11-28"]}]
    )["Parameters"][0]
    assert described["Type"] == "SecureString"
    assert described["Tier"] == "Advanced"
    policy = policy_of(described)
    assert policy["Type"] == "Expiration"
    assert (
        policy["Attributes"]["Timestamp"] == "2026-11-30T00:00:00.000Z"
    )  # 48 h after the day began


def test_ssm_store_agrees_when_two_containers_race(ssm) -> None:  # type: ignore[no-untyped-def]
    first = SsmSaltStore(ssm, "/ownstats/test/salts/")
    second = SsmSaltStore(ssm, "/ownstats/test/salts/")
    original_get = second._get
    lost_race = []

    def get_after_other_wrote(name: str) -> bytes:
        # the second container looks first, sees nothing, then the first one writes
        if not lost_race:
            lost_race.append(True)
            first.salt_for("2026-11-28")
            raise ssm.exceptions.ParameterNotFound({"Error": {"Code": "ParameterNotFound"}}, "Get")
        return original_get(name)

    second._get = get_after_other_wrote  # type: ignore[method-assign]
    assert second.salt_for("2026-11-28") == first.salt_for("2026-11-28")


def test_ssm_store_never_sets_an_expiry_in_the_past(ssm) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 28, 9, tzinfo=UTC).timestamp()
    store = SsmSaltStore(ssm, "/ownstats/test/salts", clock=lambda: now)
    store.salt_for("2026-11-01")  # a replayed old event
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": ["/ownstats/test/salts/2026-11-01"]}]
    )["Parameters"][0]
    policy = policy_of(described)
    assert policy["Attributes"]["Timestamp"] == "2026-11-28T10:00:00.000Z"


def test_file_store_purges_when_it_opens_and_while_salts_are_asked_for(tmp_path: Path) -> None:
    """No new day needed: a stopped install purges on start, a running one every 10 min."""
    now = datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()
    for day in ("2026-11-25", "2026-11-27", "2026-11-28"):
        (tmp_path / f"{day}.salt").write_text(SALT.hex())
    clock = [now]
    store = FileSaltStore(tmp_path, clock=lambda: clock[0])
    assert sorted(p.stem for p in tmp_path.glob("*.salt")) == ["2026-11-27", "2026-11-28"]
    clock[0] = now + 13 * 3600  # the 27th is now 49 h old; the 28th's salt exists already
    store.salt_for("2026-11-28")
    assert sorted(p.stem for p in tmp_path.glob("*.salt")) == ["2026-11-28"]


def test_cached_salts_forget_a_salt_when_the_store_would() -> None:
    clock = [datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()]
    calls: list[str] = []
    inner = MemorySaltStore()

    class Counting:
        def salt_for(self, day: str) -> bytes:
            calls.append(day)
            return inner.salt_for(day)

    cached = CachedSalts(Counting(), clock=lambda: clock[0])
    cached.salt_for("2026-11-28")
    clock[0] += 35 * 3600  # 47 h after the 28th began: still cached
    cached.salt_for("2026-11-28")
    clock[0] += 2 * 3600  # 49 h: the store has destroyed it; so has the cache
    cached.salt_for("2026-11-28")
    assert calls == ["2026-11-28", "2026-11-28"]
    for day in ("2026-11-25", "2026-11-26", "2026-11-27", "2026-11-29", "2026-11-30"):
        cached.salt_for(day)
    assert len(cached._cache) <= CachedSalts.MAX_DAYS


def test_backfill_of_many_old_days_counts_each_visitor_once_per_day(tmp_path: Path) -> None:
    """An ingest of weeks of old records, days interleaved: every day's salt stays the
    same for the whole run although its file is destroyed at once (the day is long
    gone), so a visitor is one visitor_id per day, as if the days had been live."""
    import random

    from factories import beacon_query, make_line

    from stream_processor.fields import FIELD_INDEX
    from stream_processor.pipeline import Processor
    from stream_processor.sinks import MemorySink

    start = datetime(2026, 9, 1, tzinfo=UTC).timestamp()
    lines = [
        make_line(
            beacon_query(u=f"https://example.com/{i}"),
            timestamp=f"{start + (i % 20) * 86400 + i:.3f}",
            c_ip=f"198.51.100.{i % 7}",
        )
        for i in range(400)
    ]
    random.Random(5).shuffle(lines)
    sink = MemorySink()
    processor = Processor(domains=["example.com"], sink=sink, salts=FileSaltStore(tmp_path))
    processor.process(enumerate(lines))
    truth = {
        (time.strftime("%Y-%m-%d", time.gmtime(float(x.split("\t")[0]))), x.split("\t")[1])
        for x in lines
    }
    assert FIELD_INDEX["c-ip"] == 1 and len(sink.events) == 400
    assert len({(e["event_date"], e["visitor_id"]) for e in sink.events}) == len(truth) == 140
    assert not list(tmp_path.glob("*.salt"))  # every one of those salts is gone already
