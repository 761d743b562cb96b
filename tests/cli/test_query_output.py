"""`ownstats query` output with what visitors can store: terminal controls, formulas.

Page paths, event names and UTM values are whatever a link or a beacon carried. The
table (read on a terminal) shows control characters as visible escapes; CSV and JSON
keep the data exact, CSV with text cells defused against spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from factories import beacon_query, make_line
from hypothesis import given
from hypothesis import strategies as st

from ownstats.cli import main, print_result, printable
from ownstats.dashboard.csvsafe import visible
from ownstats.engine import QueryResult

#: what a terminal must never receive raw from stored data: C0 (ESC, BEL …), DEL, C1
#: (CSI \x9b, OSC \x9d), line/paragraph separators and bidi embeddings/overrides/isolates
RAW_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]"
)
#: an OSC that retitles the window, a screen clear, an 8-bit CSI, DEL, a bidi override
HOSTILE_PATH = "/\x1b]0;pwned\x07\x1b[2J\x9b31mred\x7f\u202etxt.exe\u2066x\u2069"
HOSTILE_ROWS = [
    [HOSTILE_PATH, "line\nbreak\ttab\rcr", -3],
    ["=1+1", "＝1+1", 2],
]


def hostile_result() -> QueryResult:
    return QueryResult(columns=["page_path", "name\x1b[8m", "n"], rows=HOSTILE_ROWS)


def output(fmt: str, result: QueryResult | None = None) -> str:
    out = io.StringIO()
    print_result(result or hostile_result(), fmt, out)
    return out.getvalue()


def without_line_ends(text: str) -> str:
    return text.replace("\n", "")


def test_table_shows_control_characters_as_visible_escapes() -> None:
    table = output("table")
    assert not RAW_CONTROL.search(without_line_ends(table)), ascii(table)
    assert "/\\x1b]0;pwned\\x07\\x1b[2J\\x9b31mred\\x7f\\u202etxt.exe\\u2066x\\u2069" in table
    assert "line\\nbreak\\ttab\\rcr" in table  # one table line per row, whatever a value holds
    assert len(table.splitlines()) == 2 + len(HOSTILE_ROWS) + 1
    assert table.splitlines()[0].split() == ["page_path", "name\\x1b[8m", "n"]


def test_table_leaves_ordinary_text_alone() -> None:
    result = QueryResult(
        columns=["page_path", "event_name"],
        rows=[["/café/50%-off", "Sign up & pay = 100% 🎉"], ["/a\\b", "日本語 עברית"]],
    )
    table = output("table", result)
    assert "/café/50%-off" in table and "Sign up & pay = 100% 🎉" in table
    assert "/a\\b" in table and "日本語 עברית" in table


@given(st.text())
def test_printable_never_lets_a_control_character_through(text: str) -> None:
    shown = printable(text)
    assert not RAW_CONTROL.search(shown) and "\n" not in shown and "\t" not in shown
    assert not re.search("[\ud800-\udfff]", shown)  # lone surrogates could not even print
    if not re.search("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]", text):
        assert shown == text


def test_json_keeps_values_exact_and_escapes_controls() -> None:
    text = output("json")
    assert not RAW_CONTROL.search(without_line_ends(text)), ascii(text)
    rows = json.loads(text)
    assert [list(r.values()) for r in rows] == HOSTILE_ROWS
    assert list(rows[0]) == ["page_path", "name\x1b[8m", "n"]


def test_csv_keeps_values_exact_except_formulas() -> None:
    rows = list(csv.reader(io.StringIO(output("csv"))))
    # control and bidi characters are shown as escapes (a spreadsheet or a terminal that
    # opens the file acts on none of them); tab and line breaks are data, quoted
    assert rows[0] == ["page_path", "name\\x1b[8m", "n"]
    assert rows[1] == [visible(HOSTILE_PATH), "line\nbreak\ttab\rcr", "-3"]  # -3: a number
    assert rows[2] == ["'=1+1", "'＝1+1", "2"]


@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        "+1",
        "-1",
        "@SUM(A1)",
        "\t1",
        "\r1",
        "\n=1+1",
        " =1+1",
        "  \n\t@x",
        "\u3000=1",
        "\ufeff=1",
        "\u200b+1",
        "＝1+1",
        "＋1",
        "－1",
        "＠SUM(A1)",
        "﹦1",
        "-3",  # text, from a text column: a spreadsheet would still compute it
    ],
)
def test_csv_defuses_every_formula_start(value: str) -> None:
    result = QueryResult(columns=["utm_campaign", "visits"], rows=[[value, -3]])
    (row,) = list(csv.reader(io.StringIO(output("csv", result))))[1:]
    assert row == ["'" + value, "-3"]


@pytest.mark.parametrize("value", ["/pricing", "a=b", "x-y", "e@mail", "", " ", "日本", "'q"])
def test_csv_leaves_other_text_alone(value: str) -> None:
    result = QueryResult(columns=["utm_campaign"], rows=[[value]])
    assert list(csv.reader(io.StringIO(output("csv", result))))[1] == [value]


def test_csv_quotes_a_bare_carriage_return() -> None:
    """Unquoted, a spreadsheet reads "\r" as a row break and "=…" as the next cell."""
    result = QueryResult(columns=["utm_campaign", "n"], rows=[["x\r=HYPERLINK(1)", 1], ["", 2]])
    text = output("csv", result)
    assert '"x\r=HYPERLINK(1)"' in text and text.endswith("\n") and "\r\n" not in text
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["utm_campaign", "n"],
        ["x\r=HYPERLINK(1)", "1"],
        ["", "2"],
    ]


def test_csv_numbers_are_exact_and_unquoted() -> None:
    result = QueryResult(
        columns=["a", "b", "c", "d", "e"],
        rows=[[-3, -1234.56789, Decimal("-0.125"), date(2026, 3, 1), None]],
    )
    rows = list(csv.reader(io.StringIO(output("csv", result))))
    assert rows[1] == ["-3", "-1234.56789", "-0.125", "2026-03-01", ""]


def test_query_of_a_hostile_lake_keeps_the_terminal_safe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """End to end: a beacon whose page path and UTM values carry escape sequences,
    ingested, then queried in each format."""
    line = make_line(
        beacon_query(
            u="https://example.com/\x1b]0;pwned\x07\x1b[2J\u202egnp.exe",
            us="\x9b31mred",
            uc="\n=HYPERLINK(1)",
        )
    )
    log = tmp_path / "hostile.log"
    log.write_text(line + "\n")
    data = str(tmp_path / "lake")
    assert main(["ingest", "--quiet", "--data", data, str(log)]) == 0
    capsys.readouterr()
    sql = "SELECT page_path, utm_source, utm_campaign FROM events"

    assert main(["query", "--data", data, sql]) == 0
    table = capsys.readouterr().out
    assert not RAW_CONTROL.search(without_line_ends(table)), ascii(table)
    # the processor stores no control characters (ESC, BEL, CSI gone); the bidi override
    # is text in right-to-left scripts, so it is stored, and shown as an escape
    assert "/]0;pwned[2J\\u202egnp.exe" in table and "31mred" in table

    assert main(["query", "--data", data, "--format", "json", sql]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row == {
        "page_path": "/]0;pwned[2J\u202egnp.exe",
        "utm_source": "31mred",
        "utm_campaign": "\n=HYPERLINK(1)",
    }

    assert main(["query", "--data", data, "--format", "csv", sql]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[1] == [visible(row["page_path"]), row["utm_source"], "'\n=HYPERLINK(1)"]
