"""CloudFront standard log files read by the real-time processor (stream_processor/standard_log.py).

``standard-log.tsv`` holds the same nine requests as ``realtime-records.tsv``, in the
documented standard-log format. Converted, every line must become the real-time record
CloudFront would have streamed, byte for byte, except what a standard log does not
have: milliseconds, ``c-country`` and ``asn``; and then the same event.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from factories import FIXTURES, fixture_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from ownstats.cli import main
from stream_processor import geo
from stream_processor.fields import REALTIME_LOG_FIELDS
from stream_processor.pipeline import Processor
from stream_processor.reasons import Reason
from stream_processor.sinks import MemorySink
from stream_processor.standard_log import (
    STANDARD_LOG_FIELDS,
    MalformedLine,
    StandardLogReader,
    header,
    is_standard_log,
    legacy_user_agent,
    standard_line,
    timestamp_of,
)
from stream_processor.visitor import MemorySaltStore
from tests.cli.processes import run_cli

STANDARD = FIXTURES / "cloudfront" / "standard-log.tsv"
REALTIME = FIXTURES / "cloudfront" / "realtime-records.tsv"

#: the #Fields line of the developer guide's example log file (AccessLogs.md,
#: "Standard log file format"), written out here to check the fixture against it
DOCUMENTED_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end"
)

#: real-time fields a standard log cannot fill: the converted record has "-" or ".000"
NOT_IN_STANDARD_LOGS = {"timestamp", "c-country", "asn"}

#: event fields that may differ, and how (everything else must be equal):
#: event_time loses its milliseconds; country_code comes from the beacon's time zone, as
#: for any record without c-country. asn is read by no step, so no field derives from it.
EVENT_DIFFERENCES = {"event_time", "country_code"}

NOW = 1_796_000_000.0  # 2026-12-01 UTC, after the fixtures' 2026-11-28: a pinned clock
SALTS = MemorySaltStore()  # one salt per day for every run: visitor ids compare


def standard_data_lines(path: Path = STANDARD) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def standard_records() -> list[dict[str, str]]:
    """The fixture's data lines as dicts by the documented field names."""
    return [
        dict(zip(STANDARD_LOG_FIELDS, line.split("\t"), strict=True))
        for line in standard_data_lines()
    ]


def convert(lines: list[str | bytes]) -> list[str | MalformedLine]:
    return list(StandardLogReader().records(lines))


def run_all(lines: list[str]) -> list[dict[str, Any] | tuple[Reason, str]]:
    processor = Processor(
        domains=["example.com"], sink=MemorySink(), salts=SALTS, clock=lambda: NOW
    )
    return [processor.run(line) for line in lines]


# -- the fixture against the documentation and the real-time fixture --------------------


def test_fixture_is_in_the_documented_format() -> None:
    text = STANDARD.read_text()
    first, fields, *data = text.splitlines()
    assert first == "#Version: 1.0"
    assert fields == f"#Fields: {DOCUMENTED_FIELDS}"
    assert tuple(DOCUMENTED_FIELDS.split()) == STANDARD_LOG_FIELDS
    assert len(data) == 9 and all(line.count("\t") == 32 for line in data)
    for record in standard_records():
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", record["date"])
        assert re.fullmatch(r"\d\d:\d\d:\d\d", record["time"])  # UTC, to the second
        assert "?" not in record["cs-uri-stem"]  # the path only; the query has its field
    # every value URL-encoded: no space, nothing outside printable ASCII but the tabs
    assert all(re.fullmatch(r"[\x21-\x7e\t]+", line) for line in data)


def test_fixture_holds_the_real_time_fixtures_requests() -> None:
    realtime = [line.split("\t") for line in fixture_lines("cloudfront/realtime-records.tsv")]
    for rt, std in zip(realtime, standard_records(), strict=True):
        record = dict(zip(REALTIME_LOG_FIELDS, rt, strict=True))
        assert std["x-edge-request-id"] == record["x-edge-request-id"]
        assert std["c-ip"] == record["c-ip"]
        assert std["cs(User-Agent)"] == record["cs-user-agent"]
        assert std["cs(Referer)"] == record["cs-referer"]
        assert std["cs-uri-query"] == record["cs-uri-query"]
        seconds = int(record["timestamp"].split(".")[0])
        assert timestamp_of(std["date"], std["time"]) == f"{seconds}.000"


def test_each_line_becomes_the_real_time_record_byte_for_byte() -> None:
    converted = convert(STANDARD.read_text().splitlines())
    realtime = fixture_lines("cloudfront/realtime-records.tsv")
    assert len(converted) == len(realtime) == 9
    for record, expected in zip(converted, realtime, strict=True):
        assert isinstance(record, str), record
        got, want = record.split("\t"), expected.split("\t")
        assert len(got) == len(REALTIME_LOG_FIELDS)
        for name, a, b in zip(REALTIME_LOG_FIELDS, got, want, strict=True):
            if name == "timestamp":
                assert a == b.split(".")[0] + ".000"
            elif name in NOT_IN_STANDARD_LOGS:
                assert a == "-", name
            else:
                assert a == b, name


def test_every_hit_gives_the_same_event_as_its_real_time_record() -> None:
    converted = convert(STANDARD.read_text().splitlines())
    assert all(isinstance(line, str) for line in converted)
    from_standard = run_all([str(line) for line in converted])
    from_realtime = run_all(fixture_lines("cloudfront/realtime-records.tsv"))
    accepted = 0
    for std, rt in zip(from_standard, from_realtime, strict=True):
        if not isinstance(rt, dict):
            assert std == rt  # the same drop, for the same reason and detail
            continue
        assert isinstance(std, dict), std
        accepted += 1
        assert set(std) == set(rt)
        for name in set(rt) - EVENT_DIFFERENCES:
            assert std[name] == rt[name], name
        assert std["event_time"] == rt["event_time"] - rt["event_time"] % 1000
        assert std["country_code"] == geo.country_code("", rt["timezone"])
        assert std["visitor_id"] and std["event_id"]  # compared above: equal
    assert accepted == 4


# -- columns by the header's names ----------------------------------------------------


def rewritten(fields: list[str], extra: dict[str, str] | None = None) -> list[str]:
    """The fixture written with another #Fields list (values looked up by name)."""
    lines = header(fields)
    for record in standard_records():
        lines.append(standard_line({**record, **(extra or {})}, fields))
    return lines


def test_columns_in_another_order_or_with_extra_ones_give_the_same_records() -> None:
    expected = convert(STANDARD.read_text().splitlines())
    shuffled = list(STANDARD_LOG_FIELDS)
    random.Random(7).shuffle(shuffled)
    assert shuffled != list(STANDARD_LOG_FIELDS)
    assert convert(rewritten(shuffled)) == expected
    extra = ["x-future-field", *STANDARD_LOG_FIELDS[:8], "cs(Accept)", *STANDARD_LOG_FIELDS[8:]]
    assert convert(rewritten(extra, {"x-future-field": "1", "cs(Accept)": "*/*"})) == expected
    # the 24 fields of a 2014 distribution hold everything a record needs
    assert convert(rewritten(list(STANDARD_LOG_FIELDS[:24]))) == expected


def test_optional_fields_missing_from_the_header_are_written_as_dashes() -> None:
    fields = [
        f
        for f in STANDARD_LOG_FIELDS
        if f not in ("x-edge-location", "cs(Referer)", "x-host-header", "x-edge-result-type")
    ]
    (record, *_) = convert(rewritten(fields))
    values = dict(zip(REALTIME_LOG_FIELDS, str(record).split("\t"), strict=True))
    for name in ("x-edge-location", "cs-referer", "x-host-header", "x-edge-result-type"):
        assert values[name] == "-"
    assert values["x-edge-request-id"] == standard_records()[0]["x-edge-request-id"]


def test_a_header_without_a_needed_field_makes_its_lines_malformed() -> None:
    without_agent = [f for f in STANDARD_LOG_FIELDS if f != "cs(User-Agent)"]
    good = STANDARD.read_text().splitlines()
    # two files concatenated: every #Fields line maps the lines after it
    out = convert([*rewritten(without_agent)[:4], *good])
    bad, converted = out[:2], out[2:]
    assert all(isinstance(b, MalformedLine) and "cs(User-Agent)" in b.reason for b in bad)
    assert converted == convert(good)


def test_field_names_match_whatever_their_case() -> None:
    lines = STANDARD.read_text().splitlines()
    lower = [lines[0], lines[1].lower().replace("#fields:", "#Fields:"), *lines[2:]]
    assert "cs(user-agent)" in lower[1]
    assert convert(lower) == convert(lines)


# -- bad lines are counted, never fatal --------------------------------------------------


def test_bad_lines_are_malformed_and_the_lines_around_them_still_convert() -> None:
    head, good = header(), standard_data_lines()
    first = good[0].split("\t")
    bad_date = "\t".join(["2026-02-30", *first[1:]])
    bad_time = "\t".join([first[0], "25:00:00", *first[2:]])
    lines: list[str | bytes] = [
        *head,
        good[0],
        "\t".join(first[:20]),  # too few columns
        "garbage",
        good[1].encode()[:40] + b"\xff\xfe\xc3" + good[1].encode()[40:],  # not UTF-8
        good[1][:40] + "\ufffd" + good[1][40:],  # the same, as read with errors="replace"
        good[2] + "\t" + "x" * (1024 * 1024),  # a 1 MB line
        bad_date,
        bad_time,
        good[3] + "\tsurplus",  # a column more than the header names
        "",
        good[4].encode(),
        good[5] + "\t",  # a trailing tab (the guide's own example has one): harmless
    ]
    out = convert(lines)
    kinds = [type(item).__name__ for item in out]
    assert kinds == ["str"] + ["MalformedLine"] * 8 + ["str", "str"]
    reasons = [item.reason for item in out if isinstance(item, MalformedLine)]
    assert reasons == [
        "fewer columns than its #Fields header names",
        "fewer columns than its #Fields header names",
        "not UTF-8 text",
        "holds characters CloudFront writes URL-encoded",
        "longer than any line CloudFront writes",
        "date or time is not YYYY-MM-DD HH:MM:SS",
        "date or time is not YYYY-MM-DD HH:MM:SS",
        "more columns than its #Fields header names",
    ]
    expected = convert(STANDARD.read_text().splitlines())
    assert [out[0], out[9], out[10]] == [expected[0], expected[4], expected[5]]
    for reason in reasons:  # safe to show: no value of the line in it
        assert "198.51" not in reason and "Mozilla" not in reason and "v=1" not in reason


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=200),
            st.text(max_size=200),
            st.lists(
                st.one_of(st.text(max_size=30), st.sampled_from(["-", "2026-11-28", "09:15:02"])),
                min_size=30,
                max_size=36,
            ).map("\t".join),
        ),
        max_size=6,
    )
)
def test_arbitrary_lines_give_records_or_malformed_never_an_error(
    lines: list[str | bytes],
) -> None:
    out = convert([*header(), *lines, standard_data_lines()[1]])
    assert all(isinstance(item, str | MalformedLine) for item in out)
    assert out[-1] == convert(STANDARD.read_text().splitlines())[1]  # still read after them
    for item in out:
        if isinstance(item, str):
            assert item.count("\t") == len(REALTIME_LOG_FIELDS) - 1
            assert "\n" not in item and "\r" not in item


def test_lines_before_any_header_are_malformed_and_headers_are_not() -> None:
    reader = StandardLogReader()
    with pytest.raises(MalformedLine, match="no #Fields header"):
        reader.read(standard_data_lines()[0])
    assert reader.read("#Version: 1.0\n") is None and reader.version == "1.0"
    assert reader.read("#Remark: written by hand\r\n") is None
    assert reader.read(header()[1]) is None and reader.fields == STANDARD_LOG_FIELDS
    assert reader.read("   \n") is None
    assert reader.comments == 3
    assert isinstance(reader.read(standard_data_lines()[0] + "\r\n"), str)


@pytest.mark.parametrize(
    ("date", "time", "expected"),
    [
        ("2026-11-28", "09:15:02", "1795857302.000"),
        ("2000-01-01", "00:00:00", "946684800.000"),
        ("2024-02-29", "23:59:59", "1709251199.000"),
        ("2023-02-29", "12:00:00", None),
        ("2026-13-01", "12:00:00", None),
        ("0000-01-01", "12:00:00", None),
        ("2026-11-28", "9:15:02", None),
        ("26-11-28", "09:15:02", None),
        ("2026-11-28", "09:60:00", None),
        ("-", "-", None),
    ],
)
def test_date_and_time_are_utc_seconds(date: str, time: str, expected: str | None) -> None:
    assert timestamp_of(date, time) == expected


def test_detects_a_standard_log_by_its_first_line() -> None:
    assert is_standard_log("#Version: 1.0\n") and is_standard_log("#Fields: date time\n")
    assert is_standard_log(b"\xef\xbb\xbf#Version: 1.0\n")  # a byte-order mark is no matter
    assert not is_standard_log(fixture_lines("cloudfront/realtime-records.tsv")[0])
    assert not is_standard_log("# CloudFront real-time log records …")
    assert not is_standard_log("")


def test_pre_2020_double_encoded_user_agents_read_as_today() -> None:
    old = "Mozilla/5.0%2520(Macintosh;%2520Intel%2520Mac%2520OS%2520X%252010_12_0)%2520Chrome/52.0"
    assert legacy_user_agent(old) == (
        "Mozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2010_12_0)%20Chrome/52.0"
    )
    assert legacy_user_agent("a%2520%2522b%2522%2520%255C") == "a%20%22b%22%20%5C"
    today = "Mozilla/5.0%20(X11;%20Linux)%20100%2520"  # has %20: today's form, left alone
    assert legacy_user_agent(today) == today
    record = standard_records()[1]
    record["cs(User-Agent)"] = record["cs(User-Agent)"].replace("%20", "%2520")
    (line,) = convert([*header(), standard_line(record)])
    assert line == convert(STANDARD.read_text().splitlines())[1]


# -- ownstats ingest ---------------------------------------------------------------------

SUMMARY = "records: 9  accepted: 4  rejected: 5  failed: 0"


def stored(data: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    sql = "SELECT event_id, event_type, page_path, event_time FROM events ORDER BY event_time"
    assert main(["query", "--data", str(data), "--format", "json", sql]) == 0
    return list(json.loads(capsys.readouterr().out))


def reason_counts(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^  (\w+) +(\d+) ", stdout, re.MULTILINE))


def test_ingest_stores_the_same_events_from_a_standard_log_plain_or_gzipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gz = tmp_path / "E2EXAMPLE.2026-11-28-09.a1b2c3d4.gz"
    gz.write_bytes(gzip.compress(STANDARD.read_bytes()))
    runs = {"realtime": REALTIME, "standard": STANDARD, "gzip": gz}
    events = {}
    for name, path in runs.items():
        data = tmp_path / name
        done = run_cli("ingest", "--data", str(data), "--domain", "example.com", str(path))
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == SUMMARY
        assert reason_counts(done.stdout) == {"bot": "1", "foreign_domain": "1", "not_beacon": "3"}
        assert ("read as a CloudFront standard log" in done.stdout) == (name != "realtime")
        events[name] = stored(data, capsys)
    assert len(events["realtime"]) == len(events["standard"]) == len(events["gzip"]) == 4
    assert events["standard"] == events["gzip"]
    for rt, std in zip(events["realtime"], events["standard"], strict=True):
        assert (std["event_id"], std["event_type"], std["page_path"]) == (
            rt["event_id"],
            rt["event_type"],
            rt["page_path"],
        )


def test_ingest_counts_bad_standard_log_lines_as_malformed(tmp_path: Path) -> None:
    good = standard_data_lines()
    text = "\n".join([*header(), good[1], "garbage", "a\tb\tc", good[2]]) + "\n"
    path = tmp_path / "mixed.log"
    path.write_bytes(text.encode() + good[3].encode()[:30] + b"\xff\xfe\n")
    done = run_cli("ingest", "--data", str(tmp_path / "lake"), "--domain", "example.com", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "records: 5  accepted: 2  rejected: 3  failed: 0"
    assert reason_counts(done.stdout) == {"malformed": "3"}
    assert "(2 comment lines starting with # skipped)" in done.stdout
    assert "Traceback" not in done.stderr

    unreadable = "\n".join(rewritten([f for f in STANDARD_LOG_FIELDS if f != "cs-uri-query"]))
    done = run_cli("ingest", "--data", str(tmp_path / "lake2"), "-", stdin=unreadable + "\n")
    assert done.returncode == 1
    assert "none of the 9 lines of the standard log could be read" in done.stderr
    assert "has no cs-uri-query" in done.stderr and "Traceback" not in done.stderr


#: the developer guide's own example files, verbatim: AccessLogs.md, "Standard log file
#: format" (today's 33 fields; example of 2019) and its 2014 version (26 fields, with a
#: query string), as the guide published them (also quoted by other projects' tests,
#: e.g. elastic/beats and kayac/s3-object-router)
GUIDE_EXAMPLES = [
    "#Version: 1.0",
    "#Fields: " + DOCUMENTED_FIELDS,
    "2019-12-04\t21:02:31\tLAX1\t392\t192.0.2.100\tGET\td111111abcdef8.cloudfront.net\t"
    "/index.html\t200\t-\tMozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/"
    "537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36\t-\t-\tHit\t"
    "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\td111111abcdef8.cloudfront.net\t"
    "https\t23\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t11040\t"
    "0.001\tHit\ttext/html\t78\t-\t-",
    "#Version: 1.0",
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem "
    "sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type "
    "x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for "
    "ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status "
    "fle-encrypted-fields",
    "2014-05-23\t01:13:12\tLAX1\t2390282\t192.0.2.202\tGET\td111111abcdef8.cloudfront.net\t"
    "/soundtrack/happy.mp3\t304\twww.unknownsingers.com\tMozilla/4.0%20(compatible;%20MSIE"
    "%207.0;%20Windows%20NT%205.1)\ta=b&c=d\tzip=50158\tHit\t"
    "xGN7KWpVEmB9Dp7ctcVFQC4E-nrcOcEKS3QyAez--06dV7TEXAMPLE==\td111111abcdef8.cloudfront.net"
    "\thttp\t-\t0.002\t-\t-\t-\tHit\tHTTP/1.1\t-\t-",
]


def test_the_guides_own_example_files_convert() -> None:
    """Not our fixture: the documented examples, both field lists, each line a record
    with the documented values in the real-time fields."""
    records = convert(list(GUIDE_EXAMPLES))
    assert not [r for r in records if isinstance(r, MalformedLine)]
    new, old = [dict(zip(REALTIME_LOG_FIELDS, str(r).split("\t"), strict=True)) for r in records]
    assert new["timestamp"] == "1575493351.000"  # 2019-12-04 21:02:31 UTC
    assert (new["c-ip"], new["sc-status"], new["cs-method"]) == ("192.0.2.100", "200", "GET")
    assert new["cs-uri-stem"] == "/index.html" and new["cs-uri-query"] == "-"
    assert new["x-edge-location"] == "LAX1" and new["x-edge-result-type"] == "Hit"
    assert new["x-edge-request-id"] == "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ=="
    assert new["cs-user-agent"].startswith("Mozilla/5.0%20(Windows%20NT%2010.0;")
    assert (new["c-country"], new["asn"]) == ("-", "-")
    assert old["timestamp"] == "1400807592.000"  # 2014-05-23 01:13:12 UTC
    assert old["cs-uri-stem"] == "/soundtrack/happy.mp3?a=b&c=d"  # the query put back
    assert old["cs-referer"] == "www.unknownsingers.com" and old["sc-status"] == "304"
    assert old["cs-user-agent"] == "Mozilla/4.0%20(compatible;%20MSIE%207.0;%20Windows%20NT%205.1)"
