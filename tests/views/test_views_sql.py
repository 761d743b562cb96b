"""The view files as SQL: Athena parses them, the loader orders them, the engine
translates them and reports errors, and an empty lake still answers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from athena_views import (
    View,
    ViewError,
    create_view_statement,
    load_views,
    to_duckdb,
    view_references,
)
from ownstats.engine import Engine, QueryError
from ownstats.lake import LakeSink
from stream_processor.schema import ALL_COLUMN_NAMES

VIEWS = load_views()
BY_NAME = {v.name: v for v in VIEWS}

#: the columns every deployment provides, at least (docs/VIEWS.md)
REQUIRED_COLUMNS = {
    "page_views": list(ALL_COLUMN_NAMES),
    "sessions": [
        "event_date", "domain_name", "visitor_id", "session_start", "session_end",
        "pageviews", "events", "is_bounce", "duration_s", "entry_page", "exit_page",
        "source", "channel", "utm_campaign", "country_code", "device_type",
        "browser_name", "os_name",
    ],
    "daily_stats": [
        "event_date", "domain_name", "visitors", "visits", "pageviews", "bounce_rate",
        "avg_visit_duration_s", "views_per_visit",
    ],
    "hourly_stats": ["event_date", "event_hour", "domain_name", "visitors", "pageviews"],
    "minute_stats": ["event_date", "event_minute", "domain_name", "visitors", "pageviews"],
    "edge_cities": [
        "event_date", "domain_name", "edge_country", "edge_city", "visitors", "pageviews",
    ],
    "top_pages": ["event_date", "domain_name", "page_path", "visitors", "pageviews"],
    "entry_pages": ["event_date", "domain_name", "page_path", "visitors", "entries"],
    "exit_pages": ["event_date", "domain_name", "page_path", "visitors", "exits"],
    "sources": ["event_date", "domain_name", "source", "visitors", "visits"],
    "channels": ["event_date", "domain_name", "channel", "visitors", "visits"],
    "campaigns": ["event_date", "domain_name", "utm_campaign", "visitors", "visits"],
    "utm_mediums": ["event_date", "domain_name", "utm_medium", "visitors", "visits"],
    "utm_terms": ["event_date", "domain_name", "utm_term", "visitors", "visits"],
    "utm_contents": ["event_date", "domain_name", "utm_content", "visitors", "visits"],
    "countries": ["event_date", "domain_name", "country_code", "visitors"],
    "devices": ["event_date", "domain_name", "device_type", "visitors"],
    "browsers": ["event_date", "domain_name", "browser_name", "visitors"],
    "operating_systems": ["event_date", "domain_name", "os_name", "visitors"],
    "custom_events": ["event_date", "domain_name", "event_name", "visitors", "events"],
    "custom_event_props": [
        "event_date", "domain_name", "event_name", "prop_key", "prop_value", "visitors", "events",
    ],
    "hostnames": ["event_date", "domain_name", "hostname", "visitors", "pageviews", "events"],
    "event_props": [
        "event_date", "domain_name", "prop_key", "prop_value", "visitors", "events", "pageviews",
    ],
    "current_visitors": ["domain_name", "visitors"],
}  # fmt: skip


def test_every_spec_view_exists() -> None:
    assert set(REQUIRED_COLUMNS) <= set(BY_NAME)
    assert set(BY_NAME) - set(REQUIRED_COLUMNS) == {"events_deduped"}


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_view_is_one_athena_select(view: View) -> None:
    for dialect in ("athena", "trino"):
        tree = sqlglot.parse_one(view.sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
        assert isinstance(tree, exp.Select), f"{view.name} must be a plain SELECT"
    assert len(sqlglot.parse(view.sql, read="athena")) == 1
    assert view.path.name == f"{view.name}.sql"


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_view_columns_on_empty_lake(view: View, tmp_path: Path) -> None:
    with Engine(tmp_path) as engine:
        result = engine.query(f"SELECT * FROM {view.name}")
    assert result.rows == []
    expected = REQUIRED_COLUMNS.get(view.name, list(ALL_COLUMN_NAMES))
    if view.name == "page_views":
        assert result.columns == expected  # exactly the events columns, in table order
    assert set(expected) <= set(result.columns)
    if view.name != "current_visitors":  # one row per site, by definition
        assert {"event_date", "domain_name"} <= set(result.columns)


def test_events_deduped_lists_exactly_the_schema() -> None:
    tree = sqlglot.parse_one(BY_NAME["events_deduped"].sql, read="athena")
    assert [e.alias_or_name for e in tree.expressions] == list(ALL_COLUMN_NAMES)


def test_load_order_follows_references() -> None:
    position = {v.name: i for i, v in enumerate(VIEWS)}
    for view in VIEWS:
        for ref in view_references(view.sql) & set(position):
            assert position[ref] < position[view.name], (ref, view.name)
    assert view_references(BY_NAME["sessions"].sql) == {"events_deduped"}
    assert view_references(BY_NAME["exit_pages"].sql) == {"sessions", "top_pages"}
    assert view_references(BY_NAME["events_deduped"].sql) == {"events"}


def test_load_order_is_derived_not_alphabetical(tmp_path: Path) -> None:
    (tmp_path / "a_report.sql").write_text("WITH x AS (SELECT * FROM z_base) SELECT * FROM x")
    (tmp_path / "z_base.sql").write_text("-- a comment naming a_report\nSELECT * FROM events;")
    assert [v.name for v in load_views(tmp_path)] == ["z_base", "a_report"]
    assert load_views(tmp_path)[1].sql.endswith("FROM x")


def test_cycles_and_bad_sql_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("SELECT * FROM b")
    (tmp_path / "b.sql").write_text("SELECT * FROM a")
    with pytest.raises(ViewError, match="cycle"):
        load_views(tmp_path)
    (tmp_path / "b.sql").write_text("SELECT FROM WHERE (")
    with pytest.raises(ViewError, match=r"b\.sql"):
        load_views(tmp_path)


def test_create_view_statement() -> None:
    view = BY_NAME["page_views"]
    athena = create_view_statement(view)
    assert athena.startswith('CREATE OR REPLACE VIEW "page_views" AS\n')
    assert view.sql in athena
    assert "CREATE OR REPLACE VIEW" in create_view_statement(view, dialect="duckdb")
    with pytest.raises(ValueError, match="dialect"):
        create_view_statement(view, dialect="mysql")


def test_duckdb_translation_fixes() -> None:
    props = to_duckdb(BY_NAME["custom_event_props"].sql)
    assert "LATERAL" in props and "MAP_KEYS" in props
    sessions = to_duckdb(BY_NAME["sessions"].sql)
    assert "ARG_MIN_NULL" in sessions and "ARG_MIN(" not in sessions


def test_bad_sql_and_unknown_table_raise_query_error(tmp_path: Path) -> None:
    with Engine(tmp_path) as engine:
        with pytest.raises(QueryError, match="Athena SQL"):
            engine.query("SELEC nothing FROM")
        with pytest.raises(QueryError, match="no_such_table"):
            engine.query("SELECT * FROM no_such_table")
        with pytest.raises(QueryError, match="no_such_column"):
            engine.query("SELECT no_such_column FROM daily_stats")


def test_athena_functions_translate(engine: Engine) -> None:
    result = engine.query(
        "SELECT approx_distinct(visitor_id) > 0, date_format(min(event_time), '%Y-%m-%d'), "
        "count_if(event_type = 'pageview') > 0 FROM events WHERE event_date = '2026-03-02'"
    )
    assert result.rows == [(True, "2026-03-02", True)]


def _event(event_id: str, visitor: str, ms: int, event_type: str = "pageview") -> dict:
    day = time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))
    return {
        "event_id": event_id, "event_time": ms, "event_type": event_type,
        "domain_name": "live.example", "page_path": "/", "visitor_id": visitor,
        "event_date": day,
    }  # fmt: skip


@pytest.mark.real_clock  # the view compares with DuckDB's current_timestamp
def test_current_visitors_and_refresh(tmp_path: Path) -> None:
    engine = Engine(tmp_path)  # starts on an empty lake
    assert engine.query("SELECT * FROM current_visitors").rows == []
    now = int(time.time() * 1000)
    with LakeSink(tmp_path) as sink:
        assert sink.put([
            _event("e1", "v1", now - 60_000),
            _event("e2", "v1", now - 30_000, "engagement"),
            _event("e3", "v2", now - 4 * 60_000),
            _event("e4", "v3", now - 10 * 60_000),  # too old
            _event("e5", "v4", now - 2 * 86_400_000),  # older partition, never scanned
        ]) == []  # fmt: skip
    engine.refresh()
    assert engine.query("SELECT domain_name, visitors FROM current_visitors").rows == [
        ("live.example", 2)
    ]
    engine.close()


def test_session_gap_is_thirty_minutes_inclusive(tmp_path: Path) -> None:
    base = 1_772_323_200_000  # 2026-03-01T00:00:00Z
    with LakeSink(tmp_path) as sink:
        sink.put([
            _event("a", "v", base + 3_600_000),
            _event("b", "v", base + 3_600_000 + 1_800_000),  # exactly 30 min: same visit
            _event("c", "v", base + 3_600_000 + 3_600_001),  # 30 min + 1 ms: new visit
            _event("c", "v", base + 3_600_000 + 3_600_001),  # a duplicate delivery
        ])  # fmt: skip
    with Engine(tmp_path) as engine:
        rows = engine.query(
            "SELECT pageviews, is_bounce, duration_s FROM sessions ORDER BY session_start"
        ).rows
    assert rows == [(2, False, 1800.0), (1, True, 0.0)]


def test_loader_needs_neither_duckdb_nor_pyarrow() -> None:
    """The CDK app imports the loader without local mode's dependencies."""
    import subprocess
    import sys

    code = (
        "import sys, athena_views; views = athena_views.load_views(); "
        "[athena_views.create_view_statement(v) for v in views]; "
        "assert not {'duckdb', 'pyarrow'} & set(sys.modules), sorted(sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
