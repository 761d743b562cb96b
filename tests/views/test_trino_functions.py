"""`ownstats query` speaks Athena: the Trino functions people use on web analytics and
CloudFront logs run locally with Trino's results, columns are named as Athena names
them, and errors say what is wrong in the user's own terms.

Expected values are the examples of the Trino/Presto function documentation (the URL
functions' shared example URL is the one HetuEngine's Trino-derived docs use).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from athena_views.trino_functions import ADDED, joda_to_strftime
from ownstats.engine import Engine, QueryError

URL = "http://www.example.com:80/stu/index.html?name=xxx&age=25#teacher"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with Engine(tmp_path_factory.mktemp("empty-lake"), materialize=False) as engine:
        yield engine


def value(engine: Engine, expression: str) -> Any:
    (row,) = engine.query(f"SELECT {expression}").rows
    return row[0]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (f"url_extract_protocol('{URL}')", "http"),
        (f"url_extract_host('{URL}')", "www.example.com"),
        (f"url_extract_port('{URL}')", 80),
        (f"url_extract_path('{URL}')", "/stu/index.html"),
        (f"url_extract_query('{URL}')", "name=xxx&age=25"),
        (f"url_extract_fragment('{URL}')", "teacher"),
        (f"url_extract_parameter('{URL}', 'age')", "25"),
        (f"url_extract_parameter('{URL}', 'name')", "xxx"),
        (f"url_extract_parameter('{URL}', 'nope')", None),
        ("url_extract_parameter('https://e.com/?utm_source=a.b&x', 'utm_source')", "a.b"),
        ("url_extract_parameter('https://e.com/?x&utm_source=', 'utm_source')", ""),
        ("url_extract_host('https://[2001:db8::1]:8443/')", "[2001:db8::1]"),
        ("url_extract_host('not a url')", None),
        ("url_extract_port('https://example.com/')", None),
        ("url_extract_query('https://example.com/a')", None),
        ("url_extract_fragment('https://example.com/a')", None),
        ("url_extract_path('https://example.com')", ""),
        (
            "format_datetime(TIMESTAMP '2026-11-28 09:05:02.481', 'yyyy-MM-dd HH:mm:ss.SSS')",
            "2026-11-28 09:05:02.481",
        ),
        (
            "format_datetime(TIMESTAMP '2026-11-28 09:05:02', 'EEE, d MMM yyyy h a')",
            "Sat, 28 Nov 2026 9 AM",
        ),
        ("format_datetime(TIMESTAMP '2026-11-28 09:05:02', 'HH''h''mm')", "09h05"),
        ("parse_datetime('28/11/2026 09:05', 'dd/MM/yyyy HH:mm')", dt.datetime(2026, 11, 28, 9, 5)),
        ("date_format(TIMESTAMP '2026-11-28 09:05:02', '%Y-%m-%d %H:%i')", "2026-11-28 09:05"),
        ("date_parse('2026-11-28 09:05', '%Y-%m-%d %H:%i')", dt.datetime(2026, 11, 28, 9, 5)),
        ("from_unixtime(1795857302)", dt.datetime(2026, 11, 28, 9, 15, 2, tzinfo=dt.UTC)),
        ("to_unixtime(TIMESTAMP '2026-11-28 09:15:02')", 1795857302.0),
        ("date_trunc('hour', TIMESTAMP '2026-11-28 09:15:02')", dt.datetime(2026, 11, 28, 9)),
        ("to_iso8601(TIMESTAMP '2026-11-28 09:15:02.481')", "2026-11-28T09:15:02.481"),
        ("cardinality(MAP(ARRAY['a', 'b'], ARRAY['1', '2']))", 2),
        ("cardinality(ARRAY[1, 2, 3])", 3),
        ("element_at(MAP(ARRAY['plan'], ARRAY['pro']), 'plan')", "pro"),
        ("map_keys(MAP(ARRAY['a'], ARRAY['1']))", ["a"]),
        ("split_part('a/b/c', '/', 2)", "b"),
        ("regexp_extract('Chrome/131.0', '[0-9]+')", "131"),
        ("regexp_like('Googlebot/2.1', 'bot')", True),
        ('json_extract_scalar(\'{"a": {"b": "x"}}\', \'$.a.b\')', "x"),
        ("try_cast('x' AS integer)", None),
        ("(SELECT approx_distinct(x) FROM (VALUES 1, 2, 2) AS t(x))", 2),
        ("(SELECT map_agg(k, v) FROM (VALUES ('a', 1)) AS t(k, v))", {"a": 1}),
    ],
)
def test_trino_function_gives_trinos_result(engine: Engine, expression: str, expected: Any) -> None:
    assert value(engine, expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # Trino's date arithmetic keeps a DATE a DATE (DuckDB: TIMESTAMP); the docs'
        # example first, then what a date filter on event_date does with it
        ("DATE '2012-08-08' + INTERVAL '2' DAY", dt.date(2012, 8, 10)),
        ("DATE '2026-11-28' - INTERVAL '7' DAY", dt.date(2026, 11, 21)),
        ("INTERVAL '1' MONTH + DATE '2026-01-31'", dt.date(2026, 2, 28)),
        ("DATE '2026-11-28' - INTERVAL '1' YEAR", dt.date(2025, 11, 28)),
        ("CAST(DATE '2026-11-28' - INTERVAL '7' DAY AS varchar)", "2026-11-21"),
        ("CAST(current_date - INTERVAL '7' DAY AS varchar) = "
         "CAST(date_add('day', -7, current_date) AS varchar)", True),
        ("length(CAST(current_date - INTERVAL '7' DAY AS varchar))", 10),
        ("date_add('day', 1, DATE '2026-11-28')", dt.date(2026, 11, 29)),
        ("date_add('month', 1, DATE '2026-01-31')", dt.date(2026, 2, 28)),
        ("date_add('week', -1, DATE '2026-11-28')", dt.date(2026, 11, 21)),
        ("date_trunc('month', DATE '2026-11-28')", dt.date(2026, 11, 1)),
        ("date_trunc('week', DATE '2026-11-28')", dt.date(2026, 11, 23)),
        ("CAST(date_trunc('month', DATE '2026-11-28') AS varchar)", "2026-11-01"),
        # a timestamp stays a timestamp
        ("TIMESTAMP '2026-11-28 10:00:00' + INTERVAL '1' DAY", dt.datetime(2026, 11, 29, 10)),
        ("date_add('hour', 1, TIMESTAMP '2026-11-28 10:00:00')", dt.datetime(2026, 11, 28, 11)),
        # regexp_extract: the docs' examples, and NULL (not '') without a match
        ("regexp_extract('1a 2b 14m', '\\d+')", "1"),
        ("regexp_extract('1a 2b 14m', '(\\d+)([a-z]+)', 2)", "a"),
        ("regexp_extract('abc', 'x')", None),
        ("regexp_extract('abc', 'x(y)', 1)", None),
        ("regexp_extract('abc', 'b()', 1)", ""),  # a match whose group is empty
        ("coalesce(regexp_extract('/blog', '^/docs/(.*)', 1), 'none')", "none"),
    ],
)  # fmt: skip
def test_values_have_trinos_types_not_duckdbs(
    engine: Engine, expression: str, expected: Any
) -> None:
    """A silent difference is worse than an error: the type must be Trino's too (a
    datetime where Trino gives a date casts to '2026-11-21 00:00:00', and a filter
    `event_date >= …` on that string drops the boundary day)."""
    result = value(engine, expression)
    assert result == expected and type(result) is type(expected), (result, expected)


def test_every_added_function_is_documented() -> None:
    documented = Path(__file__).parents[2].joinpath("docs", "VIEWS.md").read_text()
    for name in ADDED:
        assert f"`{name}`" in documented, name


def test_joda_patterns_and_unknown_letters() -> None:
    assert joda_to_strftime("yyyy-MM-dd'T'HH:mm:ss") == "%Y-%m-%dT%H:%M:%S"
    assert joda_to_strftime("100% d") == "100%% %-d"
    with pytest.raises(ValueError, match="'G'"):
        joda_to_strftime("G yyyy")


@pytest.mark.parametrize(
    ("sql", "columns"),
    [
        ("SELECT count(*) FROM events", ["_col0"]),
        ("SELECT to_unixtime(event_time), event_date FROM events", ["_col0", "event_date"]),
        ("SELECT event_date, count(*) AS n FROM events GROUP BY 1", ["event_date", "n"]),
        ("SELECT e.event_id, 1 + 1 FROM events AS e", ["event_id", "_col1"]),
        ("SELECT 1 UNION ALL SELECT 2", ["_col0"]),
    ],
)
def test_columns_are_named_as_athena_names_them(
    engine: Engine, sql: str, columns: list[str]
) -> None:
    assert engine.query(sql).columns == columns


@pytest.mark.parametrize(
    ("sql", "says", "never"),
    [
        ("SELECT * FROM nope", "no table or view named nope; there are: events,", "pg_enum"),
        ("SELECT * FROM top_pages__live", "no table or view named top_pages__live", "Did you"),
        ("SELECT frobnicate(1)", "function frobnicate is not supported", "Did you"),
        ("", "no SQL given", "statement at a time"),
        ("  ;  ", "no SQL given", "statement at a time"),
        ("SELECT 1; SELECT 2", "one statement at a time", ""),
        ("SELEC nonsense FROM", "not valid Athena SQL", "\x1b"),
        ("SELECT format_datetime(event_time, 'G') FROM events", "pattern letter 'G'", ""),
    ],
)
def test_errors_say_what_is_wrong(engine: Engine, sql: str, says: str, never: str) -> None:
    with pytest.raises(QueryError) as raised:
        engine.query(sql)
    assert says in str(raised.value)
    if never:
        assert never not in str(raised.value)
