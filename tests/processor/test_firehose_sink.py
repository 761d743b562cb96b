"""Firehose delivery: limits per call, retry only what failed, report what never made it."""

from __future__ import annotations

import json
from typing import Any

from stream_processor.sinks import (
    MAX_BATCH_BYTES,
    MAX_BATCH_RECORDS,
    PACK_BYTES,
    FirehoseSink,
    encode,
    pack,
)


class FakeFirehose:
    """Answers PutRecordBatch from a script of per-call failures."""

    def __init__(self, fail_plan: list[set[int]] | None = None, raise_times: int = 0) -> None:
        self.fail_plan = fail_plan or []
        self.raise_times = raise_times
        self.calls: list[list[bytes]] = []
        self.stored: list[bytes] = []

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> Any:
        assert DeliveryStreamName == "events"
        data = [r["Data"] for r in Records]
        self.calls.append(data)
        assert len(data) <= MAX_BATCH_RECORDS
        assert sum(map(len, data)) <= MAX_BATCH_BYTES
        if self.raise_times:
            self.raise_times -= 1
            raise ConnectionError("network down")
        failing = self.fail_plan.pop(0) if self.fail_plan else set()
        responses = []
        for i, d in enumerate(data):
            if i in failing:
                responses.append({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "x"})
            else:
                self.stored.append(d)
                responses.append({"RecordId": str(i)})
        return {
            "FailedPutCount": len(failing & set(range(len(data)))),
            "RequestResponses": responses,
        }


def events(n: int, pad: int = 0) -> list[dict[str, Any]]:
    return [{"event_id": f"e{i}", "pad": "x" * pad} for i in range(n)]


def sink(client: FakeFirehose, attempts: int = 4) -> FirehoseSink:
    """One event per Firehose record (pack_bytes=1): the retry logic, record by record."""
    return FirehoseSink(client, "events", attempts=attempts, pack_bytes=1, sleep=lambda s: None)


def lines_of(records: list[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for data in records for line in data.splitlines()]


def test_records_are_newline_terminated_json() -> None:
    client = FakeFirehose()
    assert sink(client).put(events(3)) == []
    assert all(d.endswith(b"\n") for d in client.stored)
    assert [json.loads(d)["event_id"] for d in client.stored] == ["e0", "e1", "e2"]


def test_chunks_of_at_most_500_records() -> None:
    client = FakeFirehose()
    assert sink(client).put(events(1201)) == []
    assert [len(c) for c in client.calls] == [500, 500, 201]


def test_chunks_of_at_most_4_mib() -> None:
    client = FakeFirehose()
    assert sink(client).put(events(60, pad=200_000)) == []  # ~12 MB in all
    assert len(client.calls) >= 3
    assert len(client.stored) == 60


def test_partial_failure_retries_only_failed_entries_without_duplicates() -> None:
    client = FakeFirehose(fail_plan=[{1, 3}, {0}])  # 2 fail, then 1 of those fails again
    assert sink(client).put(events(5)) == []
    assert [len(c) for c in client.calls] == [5, 2, 1]
    stored = [json.loads(d)["event_id"] for d in client.stored]
    assert sorted(stored) == ["e0", "e1", "e2", "e3", "e4"]  # each exactly once


def test_persistent_failure_reports_the_undelivered_indexes() -> None:
    client = FakeFirehose(fail_plan=[{2}, {0}, {0}, {0}])
    assert sink(client, attempts=4).put(events(4)) == [2]
    assert len(client.calls) == 4


def test_outage_reports_everything_after_the_retries() -> None:
    client = FakeFirehose(raise_times=99)
    assert sink(client, attempts=3).put(events(7)) == list(range(7))
    assert len(client.calls) == 3


def test_transient_outage_recovers() -> None:
    client = FakeFirehose(raise_times=2)
    assert sink(client, attempts=3).put(events(7)) == []
    assert len(client.stored) == 7


def test_backoff_grows_and_is_jittered() -> None:
    delays: list[float] = []
    client = FakeFirehose(raise_times=99)
    FirehoseSink(
        client, "events", attempts=5, base_delay_s=0.1, max_delay_s=1.0, sleep=delays.append
    ).put(events(1))
    assert len(delays) == 4
    caps = [0.2, 0.4, 0.8, 1.0]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))


def packing_sink(client: FakeFirehose, attempts: int = 4) -> FirehoseSink:
    return FirehoseSink(client, "events", attempts=attempts, sleep=lambda s: None)


def test_events_are_packed_into_records_of_at_most_5_kb() -> None:
    client = FakeFirehose()
    assert packing_sink(client).put(events(100, pad=600)) == []
    records = client.stored
    assert len(records) < 100 / 6  # ~7 events of ~650 B per record instead of 1
    assert all(len(r) <= PACK_BYTES for r in records)
    assert all(r.endswith(b"\n") for r in records)
    assert [e["event_id"] for e in lines_of(records)] == [f"e{i}" for i in range(100)]


def test_an_event_larger_than_a_pack_travels_alone() -> None:
    client = FakeFirehose()
    assert packing_sink(client).put([*events(2), {"event_id": "big", "pad": "x" * 9000}]) == []
    assert [len(data.splitlines()) for data in client.stored] == [2, 1]


def test_at_most_500_events_per_record() -> None:
    client = FakeFirehose()
    tiny = [{"i": i} for i in range(1200)]
    assert FirehoseSink(client, "events", pack_bytes=10**6, sleep=lambda s: None).put(tiny) == []
    assert [len(data.splitlines()) for data in client.stored] == [500, 500, 200]


def test_a_failed_record_reports_every_event_packed_in_it() -> None:
    client = FakeFirehose(fail_plan=[{1}, {0}, {0}, {0}])
    failed = packing_sink(client).put(events(30, pad=600))
    packed = pack([encode(e) for e in events(30, pad=600)])
    assert failed == packed[1]
    delivered = {e["event_id"] for e in lines_of(client.stored)}
    assert delivered == {f"e{i}" for i in range(30)} - {f"e{i}" for i in packed[1]}
