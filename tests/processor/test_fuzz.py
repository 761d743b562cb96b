"""Property-based fuzzing: whatever arrives, the batch survives, every record is counted."""

from __future__ import annotations

import json
from urllib.parse import quote

from factories import beacon_query, kinesis_record, make_line
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_processor.fields import REALTIME_LOG_FIELDS
from stream_processor.handler import process_event
from stream_processor.pipeline import Processor
from stream_processor.schema import ALL_COLUMN_NAMES
from stream_processor.sinks import MemorySink
from stream_processor.visitor import MemorySaltStore

PROCESSOR_SINK = MemorySink()
PROCESSOR = Processor(domains=["example.com"], sink=PROCESSOR_SINK, salts=MemorySaltStore())
FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
field_value = st.one_of(text, st.just("-"), st.sampled_from(["GET", "/hello.gif", "1732800000.5"]))


@FUZZ
@given(
    st.lists(
        st.lists(field_value, min_size=0, max_size=len(REALTIME_LOG_FIELDS) + 3).map("\t".join),
        min_size=1,
        max_size=5,
    )
)
def test_arbitrary_lines_never_crash(lines: list[str]) -> None:
    lines = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    result = PROCESSOR.process(list(enumerate(lines)))
    assert result.records_in == len(lines)
    assert result.accepted + sum(result.rejections.values()) == len(lines)


query_value = st.one_of(
    text,
    st.sampled_from(
        [
            "1",
            "pv",
            "ev",
            "en",
            "https://example.com/x",
            "https://sub.example.com/a#b",
            '{"a":"b"}',
            "{",
            "[]",
            "99999999999999999999",
        ]
    ),
)
query_key = st.sampled_from(
    [
        "v",
        "t",
        "u",
        "r",
        "us",
        "um",
        "uc",
        "ut",
        "un",
        "s",
        "w",
        "sw",
        "sh",
        "l",
        "tz",
        "id",
        "n",
        "p",
        "e",
        "sd",
        "zz",
    ]
)


@FUZZ
@given(st.dictionaries(query_key, query_value, max_size=12), st.booleans())
def test_arbitrary_beacons_never_crash_and_stay_bounded(
    params: dict[str, str], encode: bool
) -> None:
    query = beacon_query(**params) if encode else "&".join(f"{k}={v}" for k, v in params.items())
    outcome = PROCESSOR.run(make_line(query.replace("\t", "")))
    if isinstance(outcome, dict):
        assert tuple(outcome) == ALL_COLUMN_NAMES
        for key, value in outcome.items():
            if isinstance(value, str):
                assert len(value) <= 2048, key
        assert outcome["props"] is None or len(outcome["props"]) <= 30
        assert "?" not in outcome["page_path"]
        json.dumps(outcome)  # always serializable


@FUZZ
@given(st.binary(max_size=400), st.text(max_size=100))
def test_arbitrary_kinesis_payloads_never_crash(data: bytes, user_agent: str) -> None:
    lines = [make_line(cs_user_agent=quote(user_agent, safe=""))]
    event = {
        "Records": [kinesis_record(data, "1"), kinesis_record((lines[0] + "\n").encode(), "2")]
    }
    response, result = process_event(event, PROCESSOR)
    assert response == {"batchItemFailures": []}
    assert result.records_in >= 1
