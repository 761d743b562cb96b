"""Build the tracker: minify ``tracker/hello.js`` into ``tracker/dist/hello.js``.

The minified file is committed, so installing ownstats (``pip install``) and
serving the tracker never need node; only changing ``hello.js`` does. This
module is the one place that knows how to turn source into the artefact: the
CLI (``python -m tracker.build``), the tests that keep ``dist/`` honest and the
size budget all go through ``build()``.

Every visitor downloads this file on every site, so its size is a product
feature: ``GZIP_BUDGET`` is enforced by ``tests/tracker/test_tracker_build.py``
and by ``--check`` here.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import gzip
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

TRACKER_DIR = Path(__file__).resolve().parent
SOURCE_JS = TRACKER_DIR / "hello.js"
DIST_DIR = TRACKER_DIR / "dist"
NODE_MODULES = TRACKER_DIR / "node_modules"
TERSER = NODE_MODULES / "terser" / "bin" / "terser"

# Bytes of the gzip -9 minified file. The issue asks for 1,024; the full
# feature set of docs/TRACKER.md measures 1,127 after the size work described in
# docs/TRACKER.md (#size: what every feature costs, what 1,024 would take),
# so the guard sits just above what ships: any growth is a decision, and
# lowering it to 1,024 means dropping a feature.
GZIP_BUDGET = 1135
# What the issue asks for; printed next to the guard so no report hides the gap.
GZIP_TARGET = 1024

# Chosen by measuring the gzip size, not the minified size: `unsafe`,
# `unsafe_comps` and `booleans_as_integers` are safe here because hello.js
# never relies on typeof/boolean identity of the values they rewrite, nor on
# the order its side-effect-free comparisons are written in. ES2020 is the
# floor the source already needs (optional chaining, keepalive fetch). More
# passes, `unsafe_methods`, `toplevel` or esbuild's minifier measured the same
# or larger (see docs/TRACKER.md#size).
TERSER_ARGS = [
    "--ecma",
    "2020",
    "--compress",
    "passes=5,unsafe,unsafe_arrows,unsafe_comps,pure_getters,booleans_as_integers",
    "--mangle",
]


class BuildError(RuntimeError):
    """The build could not run; the message says what to install or fix."""


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build produced and how big it is for a visitor."""

    output: Path
    source_bytes: int
    minified_bytes: int
    gzip_bytes: int
    budget_bytes: int = GZIP_BUDGET

    @property
    def within_budget(self) -> bool:
        """True when the gzipped artefact fits the size budget."""
        return self.gzip_bytes <= self.budget_bytes

    def summary(self) -> str:
        """One human line, printed by the CLI and quoted in docs/TRACKER.md."""
        verdict = "within" if self.within_budget else "OVER"
        gap = self.gzip_bytes - GZIP_TARGET
        target = (
            f"{gap} B over the {GZIP_TARGET} B target" if gap > 0 else f"{GZIP_TARGET} B target met"
        )
        return (
            f"{self.output}: {self.source_bytes} B source -> {self.minified_bytes} B minified, "
            f"{self.gzip_bytes} B gzipped ({verdict} the {self.budget_bytes} B guard; {target})"
        )


def gzip_size(data: bytes) -> int:
    """Size of ``data`` as gzip -9 (what a CDN would at best send); mtime fixed."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def ensure_terser() -> Path:
    """Install the pinned npm toolchain (``npm ci``) if it is missing.

    ``npm ci`` rather than ``npm install``: the lock file is the contract, so a
    rebuild on CI produces the same bytes as the committed ``dist/hello.js``.
    """
    # Parallel test workers may all find node_modules missing: one `npm ci`
    # at a time (it deletes node_modules first), and nobody uses a half
    # installed tree, so even the existence check happens under the lock.
    lock_path = Path(tempfile.gettempdir()) / "ownstats-tracker-npm-ci.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not TERSER.exists():
                _npm_ci()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return TERSER


def _npm_ci() -> None:
    """Run ``npm ci`` in tracker/, or explain what is missing."""
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(
            "npm is not installed: install Node.js 20+ (e.g. `apt-get install -y nodejs npm`), "
            "then run `cd tracker && npm ci`"
        )
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=TRACKER_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not TERSER.exists():
        raise BuildError(
            f"`npm ci` in {TRACKER_DIR} failed (exit {result.returncode}); "
            f"check network access to the npm registry.\n{result.stderr.strip()}"
        )


def minify(source: Path = SOURCE_JS) -> bytes:
    """The minified bytes of ``source`` (terser, pinned by package-lock.json)."""
    terser = ensure_terser()
    node = shutil.which("node")
    if node is None:
        raise BuildError("node is not installed: install Node.js 20+ to build the tracker")
    result = subprocess.run(
        [node, str(terser), str(source), *TERSER_ARGS],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise BuildError(f"terser could not minify {source}: {message}")
    return result.stdout.strip() + b"\n"


def build(out_dir: Path = DIST_DIR, source: Path = SOURCE_JS) -> BuildReport:
    """Minify ``source`` into ``out_dir/hello.js`` and report its sizes."""
    minified = minify(source)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / "hello.js"
    output.write_bytes(minified)
    return BuildReport(
        output=output,
        source_bytes=source.stat().st_size,
        minified_bytes=len(minified),
        gzip_bytes=gzip_size(minified),
    )


def main(argv: list[str] | None = None) -> int:
    """CLI: build (default) or ``--check`` that the committed artefact is current."""
    parser = argparse.ArgumentParser(
        prog="python -m tracker.build", description="Minify tracker/hello.js into dist/."
    )
    parser.add_argument("--out", type=Path, default=DIST_DIR, help="output directory")
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary directory and fail if dist/hello.js differs or is over budget",
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                report = build(Path(tmp))
                fresh = report.output.read_bytes()
            committed = DIST_DIR / "hello.js"
            print(dataclasses.replace(report, output=committed).summary())
            if not committed.exists() or committed.read_bytes() != fresh:
                print(
                    "tracker/dist/hello.js is stale: run `python -m tracker.build` and commit it",
                    file=sys.stderr,
                )
                return 1
        else:
            report = build(args.out)
            print(report.summary())
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not report.within_budget:
        print(
            f"over the guard by {report.gzip_bytes - report.budget_bytes} B gzipped: "
            "trim tracker/hello.js",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
