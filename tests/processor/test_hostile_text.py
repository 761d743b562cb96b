"""Text no sink can write (lone surrogates, NUL, raw bytes) in any field of a beacon.

One such request used to fail its whole Lambda batch and stop local collection for
good (issue: one hostile request must never stop collection). Every field, every kind
of invalid escape: the event is stored with the value repaired, its neighbours too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pytest
from factories import beacon_query, kinesis_event, make_line, stored_rows

from ownstats.lake import LakeSink
from stream_processor import handler as handler_mod
from stream_processor.pipeline import Processor
from stream_processor.sinks import MemorySink, encode
from stream_processor.visitor import MemorySaltStore

#: what arrives percent-encoded in a query value: a UTF-8-encoded surrogate, bytes that
#: are no UTF-8, a truncated sequence, NUL, an ANSI escape, a bidi override
BAD_ESCAPES = ["%ED%A0%80", "%FF%FE", "%C3", "%00", "%1B%5B31m", "%E2%80%AE", "a%00b%0Ac"]
#: what arrives as JSON escapes inside props: lone high and low surrogates, NUL
BAD_JSON = ["\\ud800", "\\udfff", "x\\ud83dy", "\\u0000", "\\u001b[2J"]
#: beacon parameters stored as text, with a valid value around the bad part
TEXT_PARAMS = {
    "u": "https://example.com/a{}",
    "r": "https://ref.example/{}",
    "us": "news{}",
    "um": "email{}",
    "uc": "spring{}",
    "ut": "term{}",
    "un": "content{}",
    "s": "ref{}",
    "id": "pv{}",
    "l": "en{}",
    "tz": "Europe/Berlin{}",
}


def raw_query(**encoded: str) -> str:
    """A beacon query whose values are given already percent-encoded (sent as is)."""
    params = {"v": "1", "t": "pv", "u": quote("https://example.com/", safe=""), "id": "pv1"}
    params.update(encoded)
    return "&".join(f"{k}={v}" for k, v in params.items())


def event_query(props_json: str, name: str = "Signup") -> str:
    return raw_query(t="ev", n=quote(name, safe=""), p=quote(props_json, safe=""))


def poison_queries() -> list[tuple[str, str]]:
    """(label, query) for every text field × every kind of invalid value."""
    cases = []
    for param, template in TEXT_PARAMS.items():
        for bad in BAD_ESCAPES:
            value = quote(template.replace("{}", "\x00"), safe="").replace("%00", bad)
            cases.append((f"{param}={bad}", raw_query(**{param: value})))
    for bad in BAD_JSON:
        cases.append((f"props value {bad}", event_query('{"k":"' + bad + '"}')))
        cases.append((f"props key {bad}", event_query('{"' + bad + 'k":"v"}')))
        cases.append((f"props nested {bad}", event_query('{"k":["' + bad + '"]}')))
    for bad in BAD_ESCAPES:
        cases.append((f"n={bad}", raw_query(t="ev", n="Sign" + bad)))
    return cases


POISON = poison_queries()
#: the finding's request, byte for byte (a Chrome user agent is the factory's default)
FINDING = "v=1&t=ev&u=https%3A%2F%2Fexample.com%2F&n=x&p=%7B%22k%22%3A%22%5Cud800%22%7D"


def assert_storable(event: dict[str, Any]) -> None:
    for name, value in event.items():
        texts = [value] if isinstance(value, str) else []
        if name == "props" and value:
            texts = [*value.keys(), *value.values()]
        for text in texts:
            text.encode("utf-8")  # raises on a lone surrogate
            assert "\x00" not in text and "\x1b" not in text, (name, text)
    json.loads(encode(event).decode("utf-8"))


@pytest.mark.parametrize(("label", "query"), POISON, ids=[label for label, _ in POISON])
def test_every_field_with_invalid_text_is_accepted_and_storable(label: str, query: str) -> None:
    processor = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore())
    outcome = processor.run(make_line(query))
    assert isinstance(outcome, dict), f"{label}: dropped {outcome}"
    assert_storable(outcome)


def test_the_findings_request_keeps_its_props_with_a_replacement_character() -> None:
    processor = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore())
    event = processor.run(make_line(FINDING))
    assert isinstance(event, dict)
    assert event["props"] == {"k": "\ufffd"} and event["event_name"] == "x"


def test_surrogates_already_in_the_line_are_repaired() -> None:
    """Raw bytes read with surrogateescape (a spool, an ingested file) reach the parser as
    lone surrogates in the line itself."""
    processor = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore())
    line = make_line(beacon_query(u="https://example.com/x"), cs_referer="https://r.example/\udcff")
    assert line.count("%252Fx") == 2  # in cs-uri-stem and cs-uri-query
    line = line.replace("%252Fx", "%252Fx\udcfe")
    event = processor.run(line)
    assert isinstance(event, dict)
    assert event["page_path"] == "/x\ufffd"
    assert_storable(event)


def test_poison_among_good_events_reaches_parquet_with_all_of_them(tmp_path: Path) -> None:
    """The local path: processor → LakeSink → Parquet → DuckDB, 1,000 good + every poison."""
    good = [make_line(beacon_query(u=f"https://example.com/p{i}")) for i in range(1000)]
    bad = [make_line(query) for _, query in POISON] + [make_line(FINDING)]
    lines = good[:500] + bad + good[500:]
    with LakeSink(tmp_path) as sink:
        processor = Processor(domains=["example.com"], sink=sink, salts=MemorySaltStore())
        result = processor.process(enumerate(lines))
    assert (result.accepted, result.failed, sum(result.rejections.values())) == (len(lines), 0, 0)
    glob = str(tmp_path / "events" / "*" / "*.parquet")
    count = duckdb.connect().execute(f"select count(*) from read_parquet('{glob}')").fetchone()
    assert count == (len(lines),)


def test_lake_sink_repairs_a_row_that_reaches_it_unrepaired(tmp_path: Path) -> None:
    """The sink's own guard: a row Arrow cannot convert neither stops the buffer nor its
    neighbours (before: the flush raised, the row stayed, nothing was written again)."""
    processor = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore())
    events = [
        processor.run(make_line(beacon_query(u=f"https://example.com/{i}"))) for i in range(3)
    ]
    assert all(isinstance(e, dict) for e in events)
    poisoned = dict(events[1], page_path="/\ud800", props={"k\udfff": "v\ud800"})  # type: ignore[arg-type]
    with LakeSink(tmp_path) as sink:
        assert sink.put([events[0], poisoned, events[2]]) == []  # type: ignore[list-item]
        sink.flush()
        assert sink.pending == 0 and sink.unstorable == 0
        sink.put([events[0]])  # type: ignore[list-item]
        sink.flush()  # the sink keeps working
    glob = str(tmp_path / "events" / "*" / "*.parquet")
    paths = (
        duckdb.connect()
        .execute(f"select page_path from read_parquet('{glob}') order by 1")
        .fetchall()
    )
    assert paths == [("/0",), ("/0",), ("/2",), ("/\ufffd",)]


def test_lambda_batch_with_a_poison_record_delivers_every_event(
    aws: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """499 good + the finding's record: none reported back, 500 delivered (before: all
    500 in batchItemFailures, 0 delivered)."""
    lines = [make_line(beacon_query(u=f"https://example.com/{i}")) for i in range(499)]
    lines.insert(250, make_line(FINDING))
    response = handler_mod.handler(kinesis_event(lines), None)
    assert response == {"batchItemFailures": []}
    rows = stored_rows(aws["s3"])
    assert len(rows) == 500
    assert {"k": "\ufffd"} in [row["props"] for row in rows]
    assert "Traceback" not in caplog.text


def test_deeply_nested_props_are_rejected_cheaply_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = MemorySink()
    processor = Processor(domains=["example.com"], sink=sink, salts=MemorySaltStore())
    deep = "[" * 1300 + "]" * 1300
    lines = [make_line(event_query('{"k":' + deep + "}")) for _ in range(50)]
    lines.append(make_line(event_query('{"k":{"a":[1,2,{"b":"c"}]}}')))
    with caplog.at_level("INFO"):
        result = processor.process(enumerate(lines))
    assert result.rejections.as_dict() == {"too_large": 50}
    assert sink.events[0]["props"] == {"k": '{"a":[1,2,{"b":"c"}]}'}
    assert "Traceback" not in caplog.text
    assert len(caplog.records) <= 1 and len(caplog.text) < 1000  # one line for the batch


def test_a_processing_error_logs_one_short_line_per_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    processor = Processor(domains=["example.com"], sink=MemorySink(), salts=MemorySaltStore())

    def explode(hit: Any) -> None:
        raise RecursionError("maximum recursion depth exceeded " + "x" * 3000)

    processor.named_steps = (*processor.named_steps[:1], ("explode", explode))
    with caplog.at_level("INFO"):
        result = processor.process(enumerate([make_line()] * 200))
    assert result.rejections.as_dict() == {"malformed": 200}
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "RecursionError" in errors[0].getMessage()
    assert "Traceback" not in caplog.text and len(caplog.text) < 1000
