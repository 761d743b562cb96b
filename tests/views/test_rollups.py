"""Rollups (lake_compactor.rollups / roll_up): every rolled-up view's stored rows equal
what the views return over the same events, after every step: the first run, an
appended file, a crash between writes, a day removed, a changed view definition; a run
with nothing changed writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import lake_compactor.roll_up as roll_up_module
from athena_views import ROLLUPS_JSON, render_rollup_columns, rollup_columns
from lake_compactor.roll_up import roll_up
from lake_compactor.rollups import INDEX_KEY, month_key, rollup_schema, rollup_views
from lake_compactor.store import LocalStore
from ownstats.lake import LakeSink
from tests.rollup_checks import assert_rollups_equal_views

from .conftest import DAYS, Dataset, generate


class Crash(BaseException):
    """The run dies here (no ``except Exception`` cleanup runs)."""


@pytest.fixture
def lake(dataset: Dataset, tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    shutil.copytree(dataset.data_dir / "events", root / "events")
    return root


def test_rollups_equal_the_views_and_a_second_run_writes_nothing(
    lake: Path, tmp_path: Path
) -> None:
    store = LocalStore(lake)
    report = roll_up(store, workdir=tmp_path / "work")
    assert report.errors == []
    assert sorted(report.days) == list(DAYS)
    assert report.months == ["2026-03"]
    assert (lake / month_key("daily_stats", "2026-03")).is_file()
    assert_rollups_equal_views(lake)
    index = store.get_json(INDEX_KEY)
    assert index is not None and sorted(index["days"]) == list(DAYS)

    again = roll_up(store, workdir=tmp_path / "work")
    assert again.days == [] and again.objects == 0
    assert store.get_json(INDEX_KEY) == index


def test_an_appended_file_recomputes_its_day_only(lake: Path, tmp_path: Path) -> None:
    store = LocalStore(lake)
    roll_up(store, workdir=tmp_path / "work")
    late = [e for e in generate(seed=9) if e["event_date"] == DAYS[1]][:40]
    for n, event in enumerate(late):
        event["event_id"] = f"late-{n}"
    sink = LakeSink(lake, max_buffer_rows=1000, compact_threshold=10_000)
    assert sink.put(late) == []
    sink.close()
    report = roll_up(store, workdir=tmp_path / "work")
    assert report.days == [DAYS[1]]
    assert_rollups_equal_views(lake)


def test_a_crash_between_writes_is_finished_by_the_next_run(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(lake)
    roll_up(store, workdir=tmp_path / "work")
    removed = sorted((lake / "events" / f"event_date={DAYS[0]}").glob("*.parquet"))[0]
    removed.unlink()  # the day changes (a file gone: rows removed)
    calls = {"n": 0}

    def die(step: str) -> None:
        calls["n"] += 1
        if step == "rollup_written" and calls["n"] == 3:
            raise Crash(step)

    monkeypatch.setattr(roll_up_module, "checkpoint", die)
    with pytest.raises(Crash):
        roll_up(store, workdir=tmp_path / "work")
    monkeypatch.setattr(roll_up_module, "checkpoint", lambda step: None)
    report = roll_up(store, workdir=tmp_path / "work")
    assert report.days == [DAYS[0]]
    assert_rollups_equal_views(lake)


def test_a_removed_day_and_a_new_definition(lake: Path, tmp_path: Path) -> None:
    store = LocalStore(lake)
    roll_up(store, workdir=tmp_path / "work")
    shutil.rmtree(lake / "events" / f"event_date={DAYS[2]}")
    report = roll_up(store, workdir=tmp_path / "work")
    assert report.days == [DAYS[2]]
    assert_rollups_equal_views(lake)
    index = store.get_json(INDEX_KEY)
    assert index is not None and DAYS[2] not in index["days"]

    index["definition"] = "an older view set"
    store.put_json(INDEX_KEY, index)
    report = roll_up(store, workdir=tmp_path / "work")
    assert sorted(report.days) == list(DAYS[:2])
    assert_rollups_equal_views(lake)


def test_the_stacks_rollup_schema_file_is_what_duckdb_says_the_views_return() -> None:
    # athena_views/rollups.json: the Glue tables' columns (the CDK app has no DuckDB);
    # regenerate it with render_rollup_columns(rollup_schema()) after changing a view
    assert ROLLUPS_JSON.read_text(encoding="utf-8") == render_rollup_columns(rollup_schema())
    assert list(rollup_columns()) == rollup_views()
