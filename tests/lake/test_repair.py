"""Repair from the standard-log archive (lake_compactor.repair), on S3 under moto.

Two days of generated traffic are written twice, as CloudFront writes them: as real-time
records (the stream path: processed into the lake) and as hourly gzipped standard logs
in the archive. Then the stream path fails in different ways and the repair must give
back exactly the events the healthy path stored, no more, however often it runs and
wherever it dies.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from factories import standard_log_text
from moto import mock_aws

import lake_compactor.repair_handler as repair_handler
from lake_compactor.repair import archive_logs, lake_event_ids, repair_day, write_events
from lake_compactor.store import S3Store
from ownstats import traffic
from ownstats.engine import Engine
from stream_processor.pipeline import Processor
from stream_processor.sinks import MemorySink
from stream_processor.visitor import MemorySaltStore

REGION = "eu-west-1"
DAYS = ("2026-03-01", "2026-03-02")
START = datetime(2026, 3, 1, tzinfo=UTC).timestamp()
#: what a standard log lacks (no c-country): the processor falls back to the browser's
#: time zone, so these may differ between the paths (docs/PROTOCOL.md, "Standard logs")
LACKING = {"country_code"}


class Crash(BaseException):
    pass


def processor(salts: MemorySaltStore) -> Processor:
    return Processor(domains=["example.com"], sink=MemorySink(), salts=salts)


@pytest.fixture(scope="module")
def hits() -> list[traffic.Hit]:
    generated = list(traffic.hits(["example.com"], START, START + 2 * 86400 - 1, 300, seed=3))
    return [h for h in generated if START <= h.time_s < START + 2 * 86400]


@pytest.fixture
def stack(hits: list[traffic.Hit], tmp_path: Path) -> Iterator[dict[str, Any]]:
    salts = MemorySaltStore()  # one store for both paths, as SSM is on AWS
    records = [h.record() for h in hits]
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("archive", "lake"):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        # the archive: one gzipped standard log per hour, as CloudFront names them
        by_hour: dict[str, list[dict[str, str]]] = {}
        for record in records:
            hour = datetime.fromtimestamp(float(record["timestamp"]), UTC).strftime("%Y-%m-%d-%H")
            by_hour.setdefault(hour, []).append(record)
        for hour, chunk in sorted(by_hour.items()):
            body = gzip.compress(standard_log_text(chunk).encode())
            s3.put_object(Bucket="archive", Key=f"cloudfront/E2TEST.{hour}.a1b2c3d4.gz", Body=body)
        # the stream path, healthy: every real-time record through the processor
        healthy = processor(salts)
        events: dict[str, list[dict[str, Any]]] = {}
        for hit in hits:
            outcome = healthy.run(hit.line())
            if isinstance(outcome, dict):
                events.setdefault(outcome["event_date"], []).append(outcome)
        assert sorted(events) == list(DAYS) and all(len(v) > 50 for v in events.values())
        yield {
            "s3": s3,
            "archive": S3Store("archive", s3),
            "lake": S3Store("lake", s3),
            "events": events,
            "salts": salts,
            "work": tmp_path / "work",
        }


def deliver(stack: dict[str, Any], day: str, events: list[dict[str, Any]], name: str) -> None:
    """What Firehose leaves for a delivery: one Parquet object with the events schema."""
    path = stack["work"] / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert write_events(events, path, stack["work"]) == len(events)
    stack["lake"].upload(path, f"events/event_date={day}/{name}.parquet")


def repair(stack: dict[str, Any], day: str, **kwargs: Any) -> Any:
    return repair_day(
        stack["archive"], stack["lake"], day, processor=processor(stack["salts"]),
        workdir=stack["work"], **kwargs,
    )  # fmt: skip


def lake_rows(stack: dict[str, Any], tmp_path: Path) -> dict[str, dict[str, Any]]:
    root = tmp_path / f"copy-{len(list(tmp_path.glob('copy-*')))}"
    for obj in stack["lake"].list("events/"):
        target = root / obj.key
        target.parent.mkdir(parents=True, exist_ok=True)
        stack["s3"].download_file("lake", obj.key, str(target))
    (root / "events").mkdir(parents=True, exist_ok=True)
    with Engine(root, materialize=False) as engine:
        result = engine.query("SELECT * FROM events")
    rows = {}
    for row in result.as_dicts():
        assert row["event_id"] not in rows, "an event stored twice"
        rows[row["event_id"]] = row
    return rows


def test_the_archive_names_each_hour_and_a_day_reads_the_next_days_first_hours(
    stack: dict[str, Any],
) -> None:
    chosen = [o.key for o in archive_logs(stack["archive"].list("cloudfront/"), DAYS[0])]
    assert any(".2026-03-01-00." in k for k in chosen)
    assert any(".2026-03-02-00." in k for k in chosen)
    assert not any(".2026-03-02-05." in k for k in chosen)


def test_nothing_is_added_when_nothing_was_lost(stack: dict[str, Any]) -> None:
    for day in DAYS:
        deliver(stack, day, stack["events"][day], "firehose-1")
    for day in DAYS:
        report = repair(stack, day, apply=True)
        assert report.in_archive == report.in_lake == len(stack["events"][day])
        assert report.missing == report.added == 0 and report.key is None
    assert len(stack["lake"].list("events/")) == 2


def test_two_lost_days_are_repaired_to_exactly_the_healthy_events(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    # the processor failed for two days: the first delivery of day 1 arrived, no more
    first = stack["events"][DAYS[0]][:20]
    deliver(stack, DAYS[0], first, "firehose-1")
    dry = repair(stack, DAYS[0])
    assert dry.missing == len(stack["events"][DAYS[0]]) - 20 and dry.added == 0
    assert len(stack["lake"].list("events/")) == 1  # a dry run writes nothing
    for day in DAYS:
        report = repair(stack, day, apply=True)
        assert (
            report.added
            == report.missing
            == len(stack["events"][day]) - (20 if day == DAYS[0] else 0)
        )
        assert report.key and report.key.startswith(f"events/event_date={day}/repair-")
    stored = lake_rows(stack, tmp_path)
    healthy = {e["event_id"]: e for day in DAYS for e in stack["events"][day]}
    assert set(stored) == set(healthy)
    # the same event from either log, but for what the standard log lacks
    for event_id, event in healthy.items():
        row = stored[event_id]
        for name, value in event.items():
            if name in LACKING or name == "event_time":
                continue
            got = row[name]
            if isinstance(got, list):  # props: a map read back as (key, value) pairs
                got = dict(got) if got else None
            if isinstance(value, dict):
                value = value or None
            assert got == value, (name, event_id)
        assert int(row["event_time"].replace(tzinfo=UTC).timestamp() * 1000) // 1000 == (
            event["event_time"] // 1000
        )  # a standard log has whole seconds

    # idempotent: again, nothing is added
    for day in DAYS:
        again = repair(stack, day, apply=True)
        assert again.missing == again.added == 0
    assert set(lake_rows(stack, tmp_path)) == set(healthy)


def test_a_crash_leaves_the_whole_object_or_none_and_a_rerun_finishes(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    day = DAYS[1]
    # dies before the object is stored: nothing in the lake
    lake = stack["lake"]
    original = lake.upload

    def broken(path: Path, key: str) -> None:
        raise Crash("killed during the upload")

    monkeypatch.setattr(lake, "upload", broken)
    with pytest.raises(Crash):
        repair(stack, day, apply=True)
    assert lake.list("events/") == []
    monkeypatch.setattr(lake, "upload", original)

    # dies right after the object is stored: a rerun finds every event there
    def die(step: str) -> None:
        raise Crash(step)

    with pytest.raises(Crash):
        repair(stack, day, apply=True, checkpoint=die)
    (stored,) = lake.list("events/")
    rerun = repair(stack, day, apply=True)
    assert rerun.missing == rerun.added == 0 and rerun.in_lake == len(stack["events"][day])
    assert lake.list("events/") == [stored]
    assert lake_event_ids(lake, day, tmp_path / "ids") == {
        e["event_id"] for e in stack["events"][day]
    }
    shutil.rmtree(tmp_path / "ids", ignore_errors=True)


def test_an_hour_is_repaired_alone(stack: dict[str, Any], tmp_path: Path) -> None:
    day = DAYS[0]
    hour_events = [
        e for e in stack["events"][day]
        if datetime.fromtimestamp(e["event_time"] / 1000, UTC).hour == 14
    ]  # fmt: skip
    assert hour_events
    report = repair(stack, day, hour=14, apply=True)
    assert report.added == len(hour_events) and report.key
    assert f"repair-{day}-14-" in report.key
    assert set(lake_rows(stack, tmp_path)) == {e["event_id"] for e in hour_events}
    assert repair(stack, day, hour=14, apply=True).added == 0
    # the whole day then adds the other hours only
    assert repair(stack, day, apply=True).added == len(stack["events"][day]) - len(hour_events)


def configure_function(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The repair function's environment as the stack sets it, its clients moto's."""
    from lake_compactor import BUCKET_ENV

    for name, value in {
        repair_handler.ARCHIVE_BUCKET_ENV: "archive",
        BUCKET_ENV: "lake",
        repair_handler.DOMAINS_ENV: "example.com",
        repair_handler.SALT_PREFIX_ENV: "/ownstats/salts",
        repair_handler.DISTRIBUTION_ENV: "E2TEST",  # lists the hours it reads only
        "AWS_DEFAULT_REGION": REGION,
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    ssm = boto3.client("ssm", region_name=REGION)
    monkeypatch.setattr(repair_handler, "_clients", lambda: (stack["s3"], ssm))


def test_the_scheduled_function_repairs_settled_hours_and_says_so(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    configure_function(stack, monkeypatch)
    now = START + 16 * 3600 + 120  # 2026-03-01 16:02: hours 10, 11 and 12 have settled
    monkeypatch.setattr(repair_handler, "clock", lambda: now)
    assert repair_handler.scheduled_hours(now) == [
        ("2026-03-01", 12), ("2026-03-01", 11), ("2026-03-01", 10),
        ("2026-02-28", 13),  # once more a day later: entries can come 24 h late
    ]  # fmt: skip
    # read as windows: each window's files and the day's event ids once
    assert repair_handler.windows(repair_handler.scheduled_hours(now)) == [
        ("2026-02-28", 13, 13), ("2026-03-01", 10, 12),
    ]  # fmt: skip
    expected = [
        e for e in stack["events"][DAYS[0]]
        if datetime.fromtimestamp(e["event_time"] / 1000, UTC).hour in (10, 11, 12)
    ]  # fmt: skip
    assert expected
    capsys.readouterr()
    result = repair_handler.handler({"source": "aws.events"}, None)
    assert result["added"] == len(expected) and result["errors"] == []
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [m["EventsRepaired"] for m in metrics] == [len(expected)]

    again = repair_handler.handler({"source": "aws.events"}, None)
    assert again["added"] == 0
    assert "EventsRepaired" not in capsys.readouterr().out

    # what `ownstats repair --stack` sends: whole days, a dry run unless asked (days later:
    # at 16:02 the processor drops the rest of the day as from a clock in the future)
    monkeypatch.setattr(repair_handler, "clock", lambda: START + 3 * 86400)
    stored = stack["lake"].list("events/")
    dry = repair_handler.handler({"from": DAYS[0], "to": DAYS[1]}, None)
    assert [r["day"] for r in dry["repairs"]] == list(DAYS)
    first, second = dry["repairs"]
    assert first["missing"] == len(stack["events"][DAYS[0]]) - len(expected)
    assert second["missing"] == len(stack["events"][DAYS[1]])
    assert dry["added"] == 0 and stack["lake"].list("events/") == stored


def test_ownstats_repair_invokes_the_function_a_day_at_a_time(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import json

    import ownstats.athena as athena
    from ownstats.cli import main

    configure_function(stack, monkeypatch)
    monkeypatch.setattr(repair_handler, "clock", lambda: START + 3 * 86400)
    invoked: list[dict[str, Any]] = []

    class Lambda:  # the deployed function, run here (moto's Lambda needs Docker)
        def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
            assert FunctionName == "repair-fn"
            invoked.append(json.loads(Payload))
            answer = repair_handler.handler(json.loads(Payload), None)
            return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}

    monkeypatch.setattr(athena, "aws_client", lambda service, **_: Lambda())
    deliver(stack, DAYS[0], stack["events"][DAYS[0]], "firehose-1")  # day 2 was lost

    args = ["repair", "--function", "repair-fn", "--from", DAYS[0], "--to", DAYS[1]]
    assert main(args) == 0
    out = capsys.readouterr().out
    lost = len(stack["events"][DAYS[1]])
    assert f"dry run: {lost:,} events would be added" in out
    assert [i["from"] for i in invoked] == list(DAYS) and not any(i["apply"] for i in invoked)
    assert len(stack["lake"].list("events/")) == 1

    assert main([*args, "--apply"]) == 0
    # (the function's metric line is printed here too, as it is in its log on AWS)
    lines = [x for x in capsys.readouterr().out.splitlines() if not x.startswith("{")]
    assert lines[1].split()[0] == DAYS[0] and lines[1].split()[-1] == "0"
    assert lines[2].split()[0] == DAYS[1] and lines[2].split()[-1] == f"{lost:,}"
    assert main([*args, "--apply"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split()[-1] == "0"  # nothing twice

    assert main(["repair", "--from", DAYS[0]]) == 2  # no stack, no function
    assert main(["repair", "--function", "x", "--from", "2026-03-02", "--to", "2026-03-01"]) == 2


def test_a_damaged_archive_file_fails_that_file_only(
    stack: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    day = DAYS[0]
    s3, keys = stack["s3"], [o.key for o in archive_logs(stack["archive"].list("cloudfront/"), day)]
    truncated, garbage = keys[3], keys[7]
    originals = {
        k: s3.get_object(Bucket="archive", Key=k)["Body"].read() for k in (truncated, garbage)
    }
    whole = originals[truncated]
    s3.put_object(Bucket="archive", Key=truncated, Body=whole[: len(whole) // 2])
    s3.put_object(Bucket="archive", Key=garbage, Body=b"not a gzip file at all")
    hour_of = {k: int(k.split(".")[1][-2:]) for k in (truncated, garbage)}

    with caplog.at_level("WARNING", logger="lake_compactor"):
        report = repair(stack, day, apply=True)
    assert sorted(report.damaged) == sorted([truncated, garbage])
    assert sum("unreadable" in r.getMessage() for r in caplog.records) == 2
    stored = set(lake_rows(stack, tmp_path))
    by_hour: dict[int, set[str]] = {}
    for event in stack["events"][day]:
        hour = datetime.fromtimestamp(event["event_time"] / 1000, UTC).hour
        by_hour.setdefault(hour, set()).add(event["event_id"])
    # every other hour is whole; the garbage file gives nothing; the truncated file gives
    # the lines before the damage and nothing made up
    for hour, ids in by_hour.items():
        if hour == hour_of[garbage]:
            assert not ids & stored
        elif hour == hour_of[truncated]:
            assert ids & stored and ids - stored
        else:
            assert ids <= stored, hour
    assert stored <= {e["event_id"] for e in stack["events"][day]}

    # once the archive holds the whole files again, a rerun adds exactly the rest
    for key, body in originals.items():
        s3.put_object(Bucket="archive", Key=key, Body=body)
    again = repair(stack, day, apply=True)
    assert again.damaged == [] and again.added == len(stack["events"][day]) - len(stored)
    assert set(lake_rows(stack, tmp_path)) == {e["event_id"] for e in stack["events"][day]}


def test_without_the_stream_the_repair_is_the_input_every_15_minutes(
    stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """-c realtime=false: nothing arrives by the stream; each run reads the current hour
    and the two before it, and adds what the files delivered since hold, once."""
    configure_function(stack, monkeypatch)
    monkeypatch.setenv(repair_handler.INPUT_ENV, "archive")
    at_1605 = START + 16 * 3600 + 5 * 60
    assert repair_handler.archive_input_hours(at_1605) == [
        ("2026-03-01", 16), ("2026-03-01", 15), ("2026-03-01", 14),
        ("2026-02-28", 14),  # the first run of an hour also reads the hour 26 h back
    ]  # fmt: skip
    assert len(repair_handler.archive_input_hours(at_1605 + 15 * 60)) == 3

    def hours(*wanted: int) -> set[str]:
        return {
            e["event_id"] for e in stack["events"][DAYS[0]]
            if datetime.fromtimestamp(e["event_time"] / 1000, UTC).hour in wanted
        }  # fmt: skip

    monkeypatch.setattr(repair_handler, "clock", lambda: at_1605)
    first = repair_handler.handler({"source": "aws.events"}, None)
    assert first["errors"] == []
    stored = set(lake_rows(stack, tmp_path))
    assert hours(14, 15) <= stored <= hours(14, 15, 16)

    # an hour later the whole of hour 16 is in, and nothing twice (lake_rows checks)
    monkeypatch.setattr(repair_handler, "clock", lambda: at_1605 + 3600)
    repair_handler.handler({"source": "aws.events"}, None)
    later = set(lake_rows(stack, tmp_path))
    assert stored < later and hours(14, 15, 16) <= later <= hours(14, 15, 16, 17)
    assert repair_handler.handler({"source": "aws.events"}, None)["added"] == 0
