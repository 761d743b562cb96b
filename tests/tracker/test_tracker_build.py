"""The tracker artefact: size budget, committed build up to date, the GIF, the API.

These guard what pip users get: ``tracker/dist/hello.js`` is committed so no
install needs node, which is only safe if a rebuild from source reproduces it
byte for byte.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

import tracker
from tracker import build as tracker_build


def test_budget_gzipped() -> None:
    size = tracker_build.gzip_size(tracker.tracker_js())
    assert size <= tracker_build.GZIP_BUDGET, (
        f"dist/hello.js is {size} B gzipped, budget {tracker_build.GZIP_BUDGET} B"
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node 20+ to run terser")
def test_dist_is_rebuilt_from_source_byte_for_byte(tmp_path: Path) -> None:
    report = tracker_build.build(tmp_path)  # runs `npm ci` first if node_modules is missing
    assert report.output.read_bytes() == tracker.tracker_js(), (
        "tracker/dist/hello.js is stale: run `python -m tracker.build` and commit it"
    )
    assert report.minified_bytes == len(tracker.tracker_js())
    assert report.gzip_bytes == tracker_build.gzip_size(tracker.tracker_js())
    assert report.within_budget
    assert str(report.gzip_bytes) in report.summary()


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node 20+ to run terser")
def test_cli_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert tracker_build.main(["--check"]) == 0
    assert "gzipped" in capsys.readouterr().out


def test_dist_never_touches_cookies_or_storage_writes() -> None:
    js = tracker.tracker_js().decode()
    for forbidden in ("cookie", "setItem", "sessionStorage", "indexedDB", "sendBeacon"):
        assert forbidden not in js
    assert js.count("localStorage") == 1  # the one read of the opt-out flag


def test_gif_is_the_smallest_valid_transparent_pixel() -> None:
    gif = tracker.tracker_gif()
    assert len(gif) <= 43
    assert gif[:6] == b"GIF89a"
    width, height, packed = struct.unpack("<HHB", gif[6:11])
    assert (width, height) == (1, 1)
    assert packed & 0x80  # a global colour table the transparent index points into
    gce = gif.index(b"\x21\xf9\x04")
    assert gif[gce + 3] & 0x01  # graphic control extension: transparency flag set
    assert gif.endswith(b"\x3b")


def test_package_api_paths() -> None:
    assert tracker.DIST_JS.name == "hello.js" and tracker.DIST_JS.parent.name == "dist"
    assert tracker.GIF.name == "hello.gif"
    assert tracker.tracker_js() == tracker.DIST_JS.read_bytes()
    assert tracker.tracker_gif() == tracker.GIF.read_bytes()
