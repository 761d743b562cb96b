"""The browser half of ownstats: the built ``hello.js`` tracker and ``hello.gif``.

Whatever serves the collector (the local ``ownstats serve`` app, the CDK
deployment uploading to S3) takes the bytes from here, so there is one copy of
each file and the served tracker is always the committed, minified build.
Deliberately tiny and import-light: no build machinery is imported (that lives
in ``tracker.build`` and needs node).
"""

from __future__ import annotations

from pathlib import Path

TRACKER_DIR = Path(__file__).resolve().parent
SOURCE_JS = TRACKER_DIR / "hello.js"
DIST_JS = TRACKER_DIR / "dist" / "hello.js"
GIF = TRACKER_DIR / "hello.gif"

JS_CONTENT_TYPE = "text/javascript; charset=utf-8"
GIF_CONTENT_TYPE = "image/gif"

__all__ = [
    "DIST_JS",
    "GIF",
    "GIF_CONTENT_TYPE",
    "JS_CONTENT_TYPE",
    "SOURCE_JS",
    "tracker_gif",
    "tracker_js",
]


def tracker_js() -> bytes:
    """The minified tracker exactly as visitors should receive it."""
    return DIST_JS.read_bytes()


def tracker_gif() -> bytes:
    """The 1×1 transparent GIF answered to every beacon."""
    return GIF.read_bytes()
