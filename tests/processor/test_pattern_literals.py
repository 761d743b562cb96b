"""Start-up without working literals out (issue #25): the shipped literal file, and
ua-parser's lists compiled row by row.

``stream_processor/data/pattern_literals.json`` holds every list pattern's literals so a
process does not work them out before its first record; these tests hold it to what
``scripts/build_pattern_literals.py`` would write now, and the code reading it to the
answers of the code working them out. ``LazyExtractor`` compiles ua-parser's browser and
OS lists row by row; it must answer as ua-parser's whole Rust extractor does.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import ua_parser_rs
from ua_parser import BestAvailableResolver, Domain, Parser, load_lazy_builtins

from stream_processor import patternset, prefilter
from stream_processor.prefilter import LiteralIndex, cached_literals, index_literals
from stream_processor.useragent import LazyExtractor, _Parser
from tests.processor.test_patternset_lazy import _sample

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "useragents"


def _script() -> object:
    path = ROOT / "scripts" / "build_pattern_literals.py"
    spec = importlib.util.spec_from_file_location("build_pattern_literals", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_literal_file_is_what_the_script_writes_now() -> None:
    """Stale after a list or prefilter.py changed: run scripts/build_pattern_literals.py."""
    expected = _script().contents()  # type: ignore[attr-defined]
    shipped = prefilter.CACHE_FILE.read_text(encoding="utf-8")
    if shipped != expected:
        want, have = json.loads(expected), json.loads(shipped)
        stale = {k for k in want["literals"] if have["literals"].get(k) != want["literals"][k]}
        extra = set(have["literals"]) - set(want["literals"])
        pytest.fail(
            "stream_processor/data/pattern_literals.json is stale (run python "
            f"scripts/build_pattern_literals.py): version {have['version']} for "
            f"{want['version']}, {len(stale)} patterns missing or changed, {len(extra)} gone"
        )


@pytest.fixture
def cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A literal file of the test's own, read afresh."""
    path = tmp_path / "literals.json"
    monkeypatch.setattr(prefilter, "CACHE_FILE", path)
    prefilter._table.cache_clear()
    yield path
    prefilter._table.cache_clear()


def test_literals_come_from_the_file_and_missing_ones_are_worked_out(cache_file: Path) -> None:
    known, new = "Googlebot", "Yetanotherbot/(\\d+)"
    table = {prefilter.pattern_key(known): "planted"}  # a value only the file can give
    cache_file.write_text(json.dumps({"version": prefilter.code_version(), "literals": table}))
    assert cached_literals([known, new]) == [("planted",), ("yetanotherbot/",)]


def test_a_file_made_by_other_code_is_not_used(cache_file: Path) -> None:
    table = {prefilter.pattern_key("Googlebot"): "planted"}
    cache_file.write_text(json.dumps({"version": "another", "literals": table}))
    assert cached_literals(["Googlebot"]) == [("googlebot",)]


def test_no_file_or_a_broken_one_only_costs_time(cache_file: Path) -> None:
    assert cached_literals(["Googlebot"]) == [("googlebot",)]
    prefilter._table.cache_clear()
    cache_file.write_text("{not json")
    assert cached_literals(["Googlebot"]) == [("googlebot",)]


def test_a_pattern_without_literals_is_kept_as_such(cache_file: Path) -> None:
    table = prefilter.cache_table([r"\d+"])
    cache_file.write_text(json.dumps({"version": prefilter.code_version(), "literals": table}))
    assert index_literals(r"\d+") == () and cached_literals([r"\d+"]) == [()]


def test_a_literal_shared_by_patterns_names_them_all() -> None:
    index = LiteralIndex([("abcd",), (), ("abcd", "wxyz"), ("wxyz",)])
    assert index.always == (1,)
    assert index.candidates("..ABCD..") == [0, 2]
    assert index.candidates("wxyz abcd") == [0, 2, 3]
    assert index.candidates("nothing") == []


def _agents() -> list[str]:
    return _sample()


def _fields(match: object) -> tuple[object, ...] | None:
    names = ("family", "major", "minor", "patch", "patch_minor")
    return None if match is None else tuple(getattr(match, name) for name in names)


def test_ua_parser_answers_as_its_whole_rust_resolver() -> None:
    agents = _agents()
    assert len(agents) > 1000
    agent_rows, system_rows, _ = load_lazy_builtins()
    whole = Parser(BestAvailableResolver((agent_rows, system_rows, [])))
    lazy = _Parser()
    for text in agents:
        expected = whole(text, Domain.USER_AGENT | Domain.OS)
        agent, os = lazy(text)
        assert _fields(agent) == _fields(expected.user_agent), text
        assert _fields(os) == _fields(expected.os), text
    # row by row: far fewer rows compiled than the lists hold
    assert len(lazy.agents._one) < len(lazy.agents.rows) / 2
    assert lazy.agents._whole is None


def test_ua_parser_rows_without_a_literal_and_the_switch_to_the_whole_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = [
        (r"(Foo)bar/(\d+)", None, None, None, None, None),
        (r"^(\w+)/(\d+)", "Word $1", None, None, None, None),  # no literal: always asked
        (r"(Qux)/(\d+)", None, None, None, None, None),
    ]
    texts = ["Foobar/3", "Qux/7", "zz Qux/8", "nothing here"]
    whole = ua_parser_rs.UserAgentExtractor(rows)
    expected = [_fields(whole.extract(text)) for text in texts]
    assert expected[1][0] == "Word Qux"  # the row without a literal comes first
    lazy = LazyExtractor(rows, ua_parser_rs.UserAgentExtractor)
    assert [_fields(lazy.extract(text)) for text in texts] == expected
    monkeypatch.setattr(patternset, "WHOLE_SET_AFTER", 2)
    switching = LazyExtractor(rows, ua_parser_rs.UserAgentExtractor)
    assert [_fields(switching.extract(text)) for text in texts] == expected
    assert switching._whole is not None and not switching._one
