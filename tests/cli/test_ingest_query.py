"""`ownstats ingest` and `ownstats query`: real files in, real Parquet, real DuckDB out."""

from __future__ import annotations

import gzip
import io
import json
import re
import time
from pathlib import Path

import pytest
from factories import beacon_query, fixture_lines, make_line

from ownstats import traffic
from ownstats.cli import main
from tests.cli.processes import run_cli

NOW = time.time()


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("logs") / "realtime.log"
    lines = list(traffic.lines(["example.com"], NOW - 2 * 86400, NOW, 400, seed=7))
    # one hit of each rejection the summary must name, whatever the generator's draw on
    # this day (its noise depends on the clock's day and hour through the traffic rhythm)
    country, edge, *_ = traffic.GEOS[0]
    browser = traffic.BROWSERS[0][0]
    lines += [
        traffic.Hit(NOW - 60, "198.51.100.7", traffic.BOTS[0],
                    {"v": "1", "t": "pv", "u": "https://example.com/"}, country, edge).line(),
        traffic.Hit(NOW - 50, "198.51.100.8", browser,
                    {"v": "1", "t": "pv", "u": "https://copycat.example.net/"},
                    country, edge).line(),
        traffic.Hit(NOW - 40, "198.51.100.9", browser, {}, country, edge,
                    stem="/hello.js").line(),
    ]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory, log_file: Path) -> Path:
    data = tmp_path_factory.mktemp("lake")
    assert main(["ingest", "--data", str(data), "--domain", "example.com", str(log_file)]) == 0
    return data


def test_ingest_summarises_accepted_and_rejected(tmp_path: Path, log_file: Path) -> None:
    done = run_cli("ingest", "--data", str(tmp_path), "--domain", "example.com", str(log_file))
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("records: ") and "accepted: " in first and "rejected: " in first
    for reason in ("bot", "foreign_domain", "not_beacon"):
        assert reason in done.stdout
    assert list((tmp_path / "events").glob("event_date=*/*.parquet"))
    assert "Traceback" not in done.stderr


def test_ingest_from_stdin_and_gzip(tmp_path: Path) -> None:
    lines = [make_line(beacon_query(u=f"https://example.com/{i}")) for i in range(3)]
    done = run_cli("ingest", "--data", str(tmp_path / "a"), "-", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0 and "accepted: 3" in done.stdout
    gz = tmp_path / "lines.log.gz"
    gz.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    done = run_cli("ingest", "--data", str(tmp_path / "b"), str(gz))
    assert done.returncode == 0 and "accepted: 3" in done.stdout


def test_ingest_corrupt_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    text = "\n".join(["garbage", "\x00\x01\x02", make_line(), "a\tb\tc", make_line()]) + "\n"
    done = run_cli("ingest", "--data", str(tmp_path), "-", stdin=text)
    assert done.returncode == 0
    assert "accepted: 2" in done.stdout and "malformed" in done.stdout


def test_ingest_missing_file_says_what_to_do(tmp_path: Path) -> None:
    done = run_cli("ingest", "--data", str(tmp_path), str(tmp_path / "nope.log"))
    assert done.returncode != 0
    assert "no such file" in done.stderr and "- for stdin" in done.stderr
    assert "Traceback" not in done.stderr


def test_ingest_shows_progress_on_large_inputs(tmp_path: Path) -> None:
    lines = list(traffic.lines(["example.com"], NOW - 86400, NOW, 3000, seed=3))
    done = run_cli("ingest", "--data", str(tmp_path), "-", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0
    assert "ingest: " in done.stderr and "records (" in done.stderr


def test_query_formats(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT event_date, visitors, pageviews FROM daily_stats ORDER BY event_date"
    assert main(["query", "--data", str(lake), "--format", "json", sql]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert (
        isinstance(rows, list) and rows and set(rows[0]) == {"event_date", "visitors", "pageviews"}
    )
    assert main(["query", "--data", str(lake), "--format", "csv", sql]) == 0
    csv_lines = capsys.readouterr().out.splitlines()
    assert csv_lines[0] == "event_date,visitors,pageviews" and len(csv_lines) == len(rows) + 1
    assert main(["query", "--data", str(lake), sql]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["event_date", "visitors", "pageviews"]
    assert table[-1] == f"({len(rows)} rows)"


def test_the_original_ownstats_query_works_unchanged(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = time.strftime("%Y-%m-%d", time.gmtime(NOW - 86400))
    sql = f"select count(*) from page_views where event_date = '{day}'"
    assert main(["query", "--data", str(lake), "--format", "json", sql]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert next(iter(row.values())) > 0


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC nonsense FROM", "error: "),
        ("SELECT * FROM no_such_view", "no_such_view"),
        ("DROP TABLE events", "only queries"),
    ],
)
def test_query_errors_exit_non_zero_without_traceback(lake: Path, sql: str, message: str) -> None:
    done = run_cli("query", "--data", str(lake), sql)
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_query_on_a_missing_lake_answers_empty(tmp_path: Path) -> None:
    done = run_cli(
        "query", "--data", str(tmp_path / "none"), "--format", "json", "SELECT * FROM daily_stats"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    assert "no lake" in done.stderr


def test_query_json_output_handles_maps_and_timestamps(lake: Path) -> None:
    done = run_cli(
        "query",
        "--data",
        str(lake),
        "--format",
        "json",
        "SELECT event_time, props FROM events WHERE props IS NOT NULL LIMIT 2",
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert rows and isinstance(rows[0]["props"], dict) and "T" in rows[0]["event_time"]


def test_help_lists_every_command() -> None:
    out = io.StringIO()
    done = run_cli("--help")
    out.write(done.stdout)
    for command in ("serve", "ingest", "query", "demo", "dashboard"):
        assert command in out.getvalue()


def test_ingest_real_format_records_stores_each_event_once_decoded_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hand-written records in CloudFront's real shape (tests/fixtures/cloudfront/),
    ingested twice: at-least-once delivery must not count anything twice."""
    log = tmp_path / "realtime.log"
    log.write_text("\n".join(fixture_lines("cloudfront/realtime-records.tsv")) + "\n")
    data = str(tmp_path / "lake")
    for _ in range(2):
        done = run_cli("ingest", "--data", data, "--domain", "example.com", str(log))
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0].startswith(
            "records: 9  accepted: 4  rejected: 5  failed: 0"
        )
        counts = dict(re.findall(r"^  (\w+) +(\d+) ", done.stdout, re.MULTILINE))
        assert counts == {"bot": "1", "foreign_domain": "1", "not_beacon": "3"}

    sql = (
        "SELECT event_type, event_name, page_path, props, utm_campaign, timezone, country_code "
        "FROM events_deduped ORDER BY event_time"
    )
    assert main(["query", "--data", data, "--format", "json", sql]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["event_type"] for r in rows] == ["pageview", "event", "engagement", "pageview"]
    pageview, event, _, iphone = rows
    assert pageview["page_path"] == event["page_path"] == "/café/50%-off"
    assert pageview["utm_campaign"] == "black friday €"
    assert event["event_name"] == "Sign up & pay = 100% 🎉"
    assert event["props"] == {
        "plan": "Pro+",
        "note": "a\tb",
        "price": "€9,99",
        "raw": "%09 & = + 100%",
    }
    assert (iphone["timezone"], iphone["country_code"]) == ("America/Los_Angeles", "US")
    sql = "SELECT event_date, domain_name, visitors, pageviews FROM daily_stats ORDER BY 2"
    assert main(["query", "--data", data, "--format", "json", sql]) == 0
    assert [tuple(r.values()) for r in json.loads(capsys.readouterr().out)] == [
        ("2026-11-28", "example.com", 2, 2),  # blog.example.com counts under its site
    ]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM read_parquet('{lake}/../outside.parquet')",
    ],
)
def test_query_reaches_the_lake_and_nothing_else(lake: Path, sql: str) -> None:
    """`ownstats query` runs the owner's SQL, but only on the lake: no other file of the
    machine, no extension download (DuckDB's external access off, one allowed folder)."""
    (lake.parent / "outside.parquet").write_bytes(b"PAR1")
    done = run_cli("query", "--data", str(lake), sql.format(lake=lake))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "root:" not in done.stdout and "/etc/" not in done.stdout


def test_sql_cannot_switch_the_confinement_off(lake: Path) -> None:
    import duckdb

    from ownstats.engine import Engine, QueryError

    with Engine(lake, materialize=False) as engine:
        for statement in ("SET enable_external_access = true", "INSTALL httpfs"):
            with pytest.raises(QueryError):
                engine.query(statement)
        with pytest.raises(duckdb.InvalidInputException, match="locked"):
            engine._con.execute("SET allowed_directories = ['/']")  # even from inside


def test_ingest_of_the_fixtures_skips_comments_and_explains_an_older_field_list(
    tmp_path: Path,
) -> None:
    """The repository's own fixtures carry # notes (counted as malformed before), and the
    2022 records were logged with another field list (15/15 malformed, exit 0, silent)."""
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "cloudfront"
    done = run_cli("ingest", "--data", str(tmp_path / "a"), str(fixtures / "realtime-records.tsv"))
    assert done.returncode == 0, done.stderr
    assert "malformed" not in done.stdout and "comment lines starting with # skipped" in done.stdout
    old = run_cli("ingest", "--data", str(tmp_path / "b"), str(fixtures / "ownstats-2022.tsv"))
    assert old.returncode == 1
    assert "none of the 3 records could be read" in old.stderr
    assert "14 tab-separated fields" in old.stderr and "the first record has 12" in old.stderr


def test_show_tables_lists_the_tables_and_views_without_warnings(lake: Path) -> None:
    done = run_cli("query", "--data", str(lake), "--format", "csv", "SHOW TABLES")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    names = done.stdout.split()
    assert names[0] == "tab_name" and {"events", "page_views", "daily_stats"} <= set(names)
    assert not [n for n in names if "__" in n]  # none of the engine's internals
    refused = run_cli("query", "--data", str(lake), "SHOW DATABASES")
    assert refused.returncode != 0 and "unsupported syntax" not in refused.stderr
