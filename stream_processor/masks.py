"""Path segments the site owner wants never stored: ``/reset/<token>``, ``/u/<email>``.

Page paths are stored as the browser sent them (without query string, ``;params`` or
fragment parameters: ``beacon.split_page_url``). Some sites put secrets or personal
data in the path itself; no rule can tell ``/reset/8f3a…`` from ``/blog/8f3a…``, so
the owner names them: ``/reset/*`` stores every ``/reset/<anything>`` as
``/reset/*``; ``**`` as the last segment masks whatever follows, if anything
(``/u/*/**``: ``/u/ann`` → ``/u/*``, ``/u/ann/settings`` → ``/u/*/**``). Set with
``--mask-paths`` locally and ``-c mask_paths=`` on AWS (the processor's
``OWNSTATS_MASK_PATHS``), comma-separated.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

MASK_PATHS_ENV = "OWNSTATS_MASK_PATHS"
MAX_PATTERNS = 100


def parse_patterns(text: str) -> tuple[str, ...]:
    """``"/reset/*, /u/*/**"`` → the patterns, validated; ValueError says what is wrong."""
    patterns = tuple(p.strip() for p in text.split(",") if p.strip())
    if len(patterns) > MAX_PATTERNS:
        raise ValueError(f"at most {MAX_PATTERNS} path masks")
    for pattern in patterns:
        if not pattern.startswith("/"):
            raise ValueError(f"path mask {pattern!r} must start with /")
        segments = pattern.strip("/").split("/")
        if "*" not in segments and "**" not in segments:
            raise ValueError(f"path mask {pattern!r} has no * or ** segment to mask")
        if "**" in segments[:-1]:
            raise ValueError(f"path mask {pattern!r}: ** may only be the last segment")
    return patterns


class PathMasks:
    """Applies the owner's patterns to a stored page path (and its hash route)."""

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns = tuple(tuple(p.strip("/").split("/")) for p in patterns)
        self.apply = lru_cache(maxsize=16384)(self._apply)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def _apply(self, path: str) -> str:
        base, hashed, route = path.partition("#")
        base = self._mask(base)
        if hashed and route.startswith("/"):
            route = self._mask(route)
        return f"{base}{hashed}{route}"

    def _mask(self, path: str) -> str:
        segments = path.strip("/").split("/")
        for pattern in self.patterns:
            rest = pattern[-1] == "**"
            fixed = pattern[:-1] if rest else pattern
            if len(segments) < len(fixed) or (not rest and len(segments) != len(fixed)):
                continue
            if all(p == "*" or p == s for p, s in zip(fixed, segments, strict=False)):
                masked = [s if p != "*" else "*" for p, s in zip(fixed, segments, strict=False)]
                if rest and len(segments) > len(fixed):
                    masked.append("**")
                trailing = "/" if path.endswith("/") and not rest else ""
                return "/" + "/".join(masked) + trailing
        return path
