"""Long user agents: judged on their first ``MAX_LENGTH`` characters (``head``), bots only
past ``MAX_BYTES``; the pipeline decodes and identifies visitors by the same bounded text."""

from __future__ import annotations

import pytest

from stream_processor.logline import cloudfront_quote
from stream_processor.pipeline import agent_of
from stream_processor.useragent import (
    MAX_BYTES,
    MAX_LENGTH,
    MIN_LENGTH,
    bot_reason,
    classify,
    head,
    too_long,
)

IE8 = (
    "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; WOW64; Trident/4.0; SLCC2; "
    ".NET CLR 2.0.50727; .NET CLR 3.5.30729; .NET CLR 3.0.30729; Media Center PC 6.0; "
    ".NET4.0C; .NET4.0E; InfoPath.3"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _with_add_on_tokens(base: str, count: int, closing: str = ")") -> str:
    """A browser string as add-ons and deployment kits extend it: one token each."""
    return base + "".join(f"; AddOn{i} {i}.0" for i in range(count)) + closing


def test_head_is_the_first_characters_cut_at_a_whole_token() -> None:
    short = FIREFOX
    assert head(short) is short
    long = _with_add_on_tokens(IE8, 30)
    assert len(long) > MAX_LENGTH
    cut = head(long)
    assert len(cut) <= MAX_LENGTH and long.startswith(cut)
    assert long[len(cut)] == " "  # the cut falls before a space: no token is read in part
    # without a space to cut at (or only one too early), the first MAX_LENGTH characters
    assert head("x" * 600) == "x" * MAX_LENGTH
    assert head("Mozilla " + "x" * 600) == ("Mozilla " + "x" * 600)[:MAX_LENGTH]
    assert len("Mozilla ") < MIN_LENGTH


@pytest.mark.parametrize(
    ("base", "count", "closing", "browser"),
    [
        (IE8, 30, ")", "IE"),
        # an add-on that appends its token on every start, as some did to Firefox's prefs
        (FIREFOX, 0, " " + " ".join(["Toolbar/4.0500"] * 50), "Firefox"),
    ],
)
def test_a_browser_with_many_add_on_tokens_is_kept(
    base: str, count: int, closing: str, browser: str
) -> None:
    ua = _with_add_on_tokens(base, count, closing) if count else base + closing
    assert MAX_LENGTH < len(ua) <= MAX_BYTES
    info = classify(ua)
    assert info is not None, bot_reason(ua)
    assert info.browser_name == browser and info == classify(head(ua))
    assert bot_reason(ua) is None


def test_a_crawler_past_the_limit_is_still_named_by_its_token() -> None:
    ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) " + "x " * 300
    assert MAX_LENGTH < len(ua) <= MAX_BYTES
    assert classify(ua) is None
    assert bot_reason(ua) == "Matomo bot: Googlebot"


def test_kilobytes_are_a_bot_without_a_look() -> None:
    ua = _with_add_on_tokens(IE8, 100)
    assert len(ua) > MAX_BYTES and too_long(ua)
    assert classify(ua) is None
    assert bot_reason(ua) == f"longer than {MAX_BYTES} bytes"
    # bytes count only past MAX_LENGTH characters: a short string of wide characters is read
    wide = FIREFOX + " " + "\u00e9" * (MAX_LENGTH - len(FIREFOX) - 1)
    assert len(wide) == MAX_LENGTH and len(wide.encode()) > MAX_BYTES // 2
    assert not too_long(wide)
    # past MAX_LENGTH characters, more than MAX_BYTES bytes is too long even if fewer chars
    wider = FIREFOX + " " + "\u00e9" * 480
    assert MAX_LENGTH < len(wider) < MAX_BYTES < len(wider.encode())
    assert too_long(wider) and classify(wider) is None


def test_the_pipeline_reads_and_identifies_by_the_same_head() -> None:
    ua = _with_add_on_tokens(IE8, 30)
    decoded, info = agent_of(cloudfront_quote(ua))
    assert decoded == head(ua)  # the visitor id hashes what the verdict read
    assert info is not None and info == classify(ua)
    # too long however it decodes: a bot, the raw text never decoded
    raw = cloudfront_quote(_with_add_on_tokens(IE8, 100))
    assert agent_of(raw) == (raw, None)
    # many escaped wide characters: decoded (bounded) and judged by classify itself
    wider = FIREFOX + " " + "\u00e9" * 480
    assert agent_of(cloudfront_quote(wider))[1] is None
