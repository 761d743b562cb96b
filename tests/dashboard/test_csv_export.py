"""CSV export of what visitors can send: formulas hidden behind whitespace or fullwidth
characters, and a site whose name is not ASCII (the download's file name)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import pytest
from dashboard_support import epoch
from factories import beacon_query, make_line
from starlette.testclient import TestClient

from ownstats.dashboard import build_app
from ownstats.dashboard.app import _cell
from ownstats.dashboard.csvsafe import defuse, is_formula
from ownstats.engine import Engine
from ownstats.lake import LakeSink
from stream_processor.pipeline import Processor
from stream_processor.visitor import MemorySaltStore

SITE = "中文.a.test"
DAY = date(2026, 3, 10)
#: formula starts the first-character check missed, and the ones it caught
FORMULAS = (
    "\n=1+1",
    " =1+1",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
    "＋1",
    "－1",
    "＠SUM(A1)",
    "=1+1",
    "-3",
)
HARMLESS = ("plain", "a=b", "news-letter")


@pytest.fixture(scope="module")
def idn_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A lake with one site named in Chinese; each visit's source and campaign is one of
    FORMULAS or HARMLESS (``?utm_source=…&utm_campaign=…``)."""
    data = tmp_path_factory.mktemp("idn-lake")
    noon = epoch(DAY) + 12 * 3600
    records = [
        make_line(
            beacon_query(u=f"https://{SITE}/pricing", us=value, uc=value),
            timestamp=f"{noon + i * 60:.3f}",
            c_ip=f"198.51.100.{i + 1}",
        )
        for i, value in enumerate((*FORMULAS, *HARMLESS))
    ]
    sink = LakeSink(data)

    class Unicode:
        """A lake with the site's name in Unicode (written before hosts were stored in
        punycode, or by hand): its CSV file names must still work."""

        def put(self, events: list[dict[str, Any]]) -> list[int]:
            return sink.put([{**e, "domain_name": SITE} for e in events])

    Processor(domains=(SITE,), sink=Unicode(), salts=MemorySaltStore()).process(
        enumerate(records)
    )
    sink.close()
    with Engine(data) as engine, TestClient(build_app(engine, today=lambda: DAY)) as client:
        yield client


def export(client: TestClient, panel: str) -> tuple[str, list[list[str]]]:
    response = client.get(
        f"/api/breakdown/{panel}", params={"site": SITE, "period": "today", "format": "csv"}
    )
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    return response.headers["content-disposition"], rows


def test_csv_export_of_a_site_with_a_non_ascii_name(idn_client: TestClient) -> None:
    disposition, rows = export(idn_client, "sources")
    name = f"{SITE}_sources_{DAY}_{DAY}.csv"
    fallback = f'filename="__.a.test_sources_{DAY}_{DAY}.csv"'
    assert disposition.startswith("attachment; ") and fallback in disposition
    assert disposition.isascii()
    (encoded,) = [p for p in disposition.split("; ") if p.startswith("filename*=")]
    assert encoded.startswith("filename*=UTF-8''") and unquote(encoded[17:]) == name
    assert rows[0][0] == "source" and len(rows) == 1 + len(FORMULAS) + len(HARMLESS)


@pytest.mark.parametrize("panel", ["sources", "campaigns"])
def test_csv_defuses_formulas_behind_whitespace_and_fullwidth_signs(
    idn_client: TestClient, panel: str
) -> None:
    _, rows = export(idn_client, panel)
    cells = {row[0] for row in rows[1:]}
    assert cells == {"'" + f for f in FORMULAS} | set(HARMLESS)
    assert all(row[1] == "1" for row in rows[1:])  # counts: numbers, never quoted


@pytest.mark.parametrize(
    "text",
    [
        *FORMULAS,
        "@x",
        "+1",
        "\t",
        "\r",
        "  \n\t@x",
        "\u3000=1",  # ideographic space
        "\u00a0=1",  # no-break space
        "\ufeff=1",  # byte order mark
        "\u200b+1",  # zero-width space
        "\x00=1",
        "\x1b-1",
        "﹦1",  # small equals sign
        "﹢1",
        "﹣1",
        "﹫x",
    ],
)
def test_is_formula_looks_past_whitespace_and_controls(text: str) -> None:
    assert is_formula(text)
    cell = defuse(text)
    # quoted, or its controls made visible so that it starts with a backslash instead
    assert cell == "'" + text or (cell.startswith("\\x") and not is_formula(cell))


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("/a\x1b[2Jb", "/a\\x1b[2Jb"),  # ESC: a terminal's escape sequence
        ("/gpj\u202e.exe", "/gpj\\u202e.exe"),  # right-to-left override: shown as /exe.jpg
        ("/x\u2066y\u2069", "/x\\u2066y\\u2069"),  # bidi isolates
        ("/a\x9bb", "/a\\x9bb"),  # C1 CSI
        ("tab\tand\nlines", "tab\tand\nlines"),  # data the CSV writer quotes
    ],
)
def test_controls_and_bidi_characters_are_shown_not_acted_on(text: str, cell: str) -> None:
    assert defuse(text) == cell


@pytest.mark.parametrize(
    "text", ["", " ", "\n", "/pricing", "a=b", "x-y", "e@mail", "'=1", "日本", "(none)"]
)
def test_other_text_is_left_alone(text: str) -> None:
    assert not is_formula(text)
    assert defuse(text) == text


def test_numbers_stay_numbers() -> None:
    assert _cell(-3) == -3 and _cell(-2.5) == -2.5 and _cell(Decimal("-1")) == Decimal("-1")
    assert _cell("-3") == "'-3"  # the same digits as text (a visitor's value) are defused
    assert _cell(None) == ""
