"""Docker-free build of the stream processor's Lambda asset.

CDK's PythonFunction bundles in Docker; synth must work without it. Instead the asset is a
plain directory: the runtime dependencies from ``pyproject.toml`` installed by pip as
manylinux aarch64 wheels for the Lambda's Python version (``--only-binary`` so nothing
is compiled for the wrong machine), plus a copy of ``stream_processor/``.

The directory lives under ``.cdk-build/`` (gitignored), keyed by a hash of everything
that goes into it, so only the first synth after a dependency or source change pays
for pip; later synths reuse the directory and CDK reuses its staged copy, with no
network at all. For a first synth without PyPI, point ``OWNSTATS_WHEELHOUSE`` at a
folder filled by ``pip download --platform manylinux2014_aarch64 --only-binary=:all:
--python-version 3.14 -d DIR <deps>``.

Two assets are built this way: the stream processor (``build_lambda_asset``) and the
lake compactor (``build_compactor_asset``: ``lake_compactor/``, the schema module of
``stream_processor`` and DuckDB from the ``compactor`` extra, a 22 MB wheel that is
published for ``manylinux_2_28_aarch64`` only, which the Python 3.14 runtime's
Amazon Linux 2023 (glibc 2.34) runs).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from cdk.config import REPO_ROOT

BUILD_ROOT = REPO_ROOT / ".cdk-build"
PACKAGE = "stream_processor"
#: in every Lambda Python runtime already; shipping it would only grow the zip
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
PLATFORM = "manylinux2014_aarch64"
#: DuckDB's aarch64 wheels are manylinux_2_28; pip takes any of these tags
COMPACTOR_PLATFORMS = (PLATFORM, "manylinux_2_28_aarch64")
COMPACTOR_PACKAGE = "lake_compactor"
#: the one module of stream_processor the compactor needs (the events schema)
COMPACTOR_SHARED = ("stream_processor/__init__.py", "stream_processor/schema.py")


class BundlingError(RuntimeError):
    """pip could not build the asset; the message says what to try next."""


def _dist_name(requirement: str) -> str:
    """``ua-parser[regex]>=1.0.1`` → ``ua-parser`` (PEP 503-normalised)."""
    name = re.split(r"[\[<>=!~;@ ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The Lambda's dependencies: ``[project] dependencies`` minus the runtime's boto3."""
    with pyproject.open("rb") as handle:
        deps = tomllib.load(handle)["project"]["dependencies"]
    return [d for d in deps if _dist_name(d) not in RUNTIME_PROVIDED]


def compactor_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The compactor's dependencies: the ``compactor`` extra, minus the runtime's boto3."""
    with pyproject.open("rb") as handle:
        deps = tomllib.load(handle)["project"]["optional-dependencies"]["compactor"]
    return [d for d in deps if _dist_name(d) not in RUNTIME_PROVIDED]


def _source_files(package_dir: Path) -> list[Path]:
    return sorted(
        p
        for p in package_dir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".pyo"}
    )


def asset_hash(requirements: list[str], python_version: str, package_dir: Path) -> str:
    """Hash of what the asset is made of: deps, target platform and source."""
    digest = hashlib.sha256()
    digest.update(f"{PLATFORM}|{python_version}|".encode())
    digest.update("\n".join(sorted(requirements)).encode())
    for path in _source_files(package_dir):
        digest.update(str(path.relative_to(package_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _pip_install(
    requirements: list[str],
    python_version: str,
    target: Path,
    platforms: tuple[str, ...] = (PLATFORM,),
) -> None:
    cmd = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile",
        *(arg for platform in platforms for arg in ("--platform", platform)),
        "--implementation", "cp",
        "--python-version", python_version,
        "--only-binary=:all:",
        "--target", str(target),
        *requirements,
    ]  # fmt: skip
    wheelhouse = os.environ.get("OWNSTATS_WHEELHOUSE")
    if wheelhouse:  # fully offline builds: wheels fetched earlier with `pip download`
        cmd += ["--no-index", "--find-links", wheelhouse]
    print(
        f"ownstats: building a Lambda asset (pip, {', '.join(platforms)}, "
        f"Python {python_version})…",
        file=sys.stderr,
    )
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BundlingError(
            "pip could not fetch the Lambda dependencies as aarch64 wheels "
            f"(exit {result.returncode}):\n{result.stderr.strip()}\n"
            "Check your network access to PyPI (or set PIP_INDEX_URL, or OWNSTATS_WHEELHOUSE "
            "to a folder of wheels from `pip download`), and that every "
            "dependency in pyproject.toml publishes a manylinux aarch64 or pure-Python wheel."
        )


def build_lambda_asset(python_version: str, build_root: Path = BUILD_ROOT) -> Path:
    """Return the processor's asset directory for ``lambda.Code.from_asset``; build it if
    missing."""
    package_dir = REPO_ROOT / PACKAGE
    if not (package_dir / "handler.py").is_file():
        raise BundlingError(
            f"{package_dir / 'handler.py'} is missing: the Lambda entry point "
            "stream_processor.handler.handler must exist before `cdk synth`."
        )
    requirements = runtime_requirements()
    key = asset_hash(requirements, python_version, package_dir)
    sources = [(Path(PACKAGE) / p.relative_to(package_dir), p) for p in _source_files(package_dir)]
    return _build(
        build_root / "lambda" / f"processor-py{python_version}-{key}",
        requirements, python_version, (PLATFORM,), sources,
    )  # fmt: skip


#: what the hosted dashboard imports besides its package and the view SQL: Athena's
#: backend and the result types it shares with the local engine (no DuckDB, no lake)
DASHBOARD_SOURCES = (
    "ownstats/__init__.py", "ownstats/athena.py", "ownstats/results.py", "ownstats/zones.py",
    # the events' column list, for a site's own time zone (ownstats.dashboard.queries)
    "stream_processor/__init__.py", "stream_processor/schema.py",
    # the rollups' definition and the lake's store (ownstats.dashboard.lake_backend)
    "lake_compactor/__init__.py", "lake_compactor/merge.py", "lake_compactor/policy.py",
    "lake_compactor/roll_up.py", "lake_compactor/rollups.py", "lake_compactor/store.py",
    "lake_compactor/validate.py",
)  # fmt: skip
DASHBOARD_PACKAGES = ("ownstats/dashboard", "athena_views")


def dashboard_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The dashboard Lambda's dependencies: the ``hosted`` extra, minus the runtime's boto3."""
    with pyproject.open("rb") as handle:
        deps = tomllib.load(handle)["project"]["optional-dependencies"]["hosted"]
    return [d for d in deps if _dist_name(d) not in RUNTIME_PROVIDED]


def dashboard_sources() -> list[tuple[Path, Path]]:
    """(path inside the asset, source file) of the hosted dashboard's code."""
    files = [(Path(rel), REPO_ROOT / rel) for rel in DASHBOARD_SOURCES]
    for package in DASHBOARD_PACKAGES:
        files += [(p.relative_to(REPO_ROOT), p) for p in _source_files(REPO_ROOT / package)]
    return files


def build_dashboard_asset(python_version: str, build_root: Path = BUILD_ROOT) -> Path:
    """Return the hosted dashboard's asset directory (``ownstats.dashboard.hosted.handler``).

    Two cache levels, because the dashboard's code changes far more often than its
    dependencies: the wheels are installed once per requirement set (``dashboard-deps-…``),
    and each source change only hard-links that tree into a new asset and copies the
    source files, so a synth after editing the dashboard needs no pip and no network.
    """
    requirements = dashboard_requirements()
    sources = dashboard_sources()
    lambda_root = build_root / "lambda"
    deps = _build(
        lambda_root / f"dashboard-deps-py{python_version}-"
        f"{_key(COMPACTOR_PLATFORMS, python_version, requirements, [])}",
        requirements, python_version, COMPACTOR_PLATFORMS, [],
    )  # fmt: skip
    final = lambda_root / (
        f"dashboard-py{python_version}-"
        f"{_key(COMPACTOR_PLATFORMS, python_version, requirements, sources)}"
    )
    if final.is_dir():
        return final
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=lambda_root))
    try:
        shutil.copytree(deps, staging, dirs_exist_ok=True, copy_function=_link_or_copy)
        for rel, path in sources:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staging / rel)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if final.is_dir():
            return final
        raise
    _prune_old_builds(final)
    return final


def _link_or_copy(source: str, target: str) -> None:
    """A hard link (no second copy of ~200 MB of wheels), a copy across file systems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _key(
    platforms: tuple[str, ...], python_version: str, requirements: list[str],
    sources: list[tuple[Path, Path]],
) -> str:  # fmt: skip
    digest = hashlib.sha256()
    digest.update(f"{'+'.join(platforms)}|{python_version}|".encode())
    digest.update("\n".join(sorted(requirements)).encode())
    for rel, path in sorted(sources):
        digest.update(str(rel).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def compactor_sources() -> list[tuple[Path, Path]]:
    """(path inside the asset, source file) of the compactor's own code."""
    package_dir = REPO_ROOT / COMPACTOR_PACKAGE
    files = [(Path(COMPACTOR_PACKAGE) / p.relative_to(package_dir), p)
             for p in _source_files(package_dir)]  # fmt: skip
    files += [(Path(rel), REPO_ROOT / rel) for rel in COMPACTOR_SHARED]
    # the rollups are the views' own SQL (lake_compactor.rollups)
    files += [(p.relative_to(REPO_ROOT), p) for p in _source_files(REPO_ROOT / "athena_views")]
    return files


def build_compactor_asset(python_version: str, build_root: Path = BUILD_ROOT) -> Path:
    """Return the lake compactor's asset directory (``lake_compactor.handler.handler``)."""
    if not (REPO_ROOT / COMPACTOR_PACKAGE / "handler.py").is_file():
        raise BundlingError(f"{COMPACTOR_PACKAGE}/handler.py is missing")
    requirements = compactor_requirements()
    sources = compactor_sources()
    key = _key(COMPACTOR_PLATFORMS, python_version, requirements, sources)
    return _build(
        build_root / "lambda" / f"compactor-py{python_version}-{key}",
        requirements, python_version, COMPACTOR_PLATFORMS, sources,
    )  # fmt: skip


def _build(
    final: Path,
    requirements: list[str],
    python_version: str,
    platforms: tuple[str, ...],
    sources: list[tuple[Path, Path]],
) -> Path:
    """pip-install ``requirements`` and copy ``sources`` into ``final`` (cached).

    The build happens in a temporary sibling directory that is renamed into place, so an
    interrupted build never leaves a half-filled cache entry behind.
    """
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=final.parent))
    try:
        _pip_install(requirements, python_version, staging, platforms)
        for rel, path in sources:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staging / rel)
        # console scripts are useless in Lambda; device_detector's test fixtures (25 MB)
        # are the accuracy corpus of bench/, not something the processor reads
        for junk in (*staging.glob("bin"), *staging.glob("device_detector/tests")):
            shutil.rmtree(junk)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if final.is_dir():  # a concurrent synth won the race: its result is as good
            return final
        raise
    _prune_old_builds(final)
    return final


def _prune_old_builds(keep: Path, max_kept: int = 3) -> None:
    """Keep the cache small: only the newest few builds of each asset stay."""
    kind = keep.name.split("-py", 1)[0]
    builds = sorted(
        (p for p in keep.parent.glob(f"{kind}-py*") if p.is_dir() and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in builds[max_kept - 1 :]:
        shutil.rmtree(old, ignore_errors=True)


#: the repair function: the processor's code and dependencies, and the lake's store,
#: DuckDB and the events schema (lake_compactor.repair); not the rollups
REPAIR_SOURCES = (
    "lake_compactor/__init__.py", "lake_compactor/merge.py", "lake_compactor/metrics.py",
    "lake_compactor/policy.py", "lake_compactor/repair.py", "lake_compactor/repair_handler.py",
    "lake_compactor/store.py", "lake_compactor/validate.py",
)  # fmt: skip


def repair_sources() -> list[tuple[Path, Path]]:
    package_dir = REPO_ROOT / PACKAGE
    files = [(Path(PACKAGE) / p.relative_to(package_dir), p) for p in _source_files(package_dir)]
    return files + [(Path(rel), REPO_ROOT / rel) for rel in REPAIR_SOURCES]


def build_repair_asset(python_version: str, build_root: Path = BUILD_ROOT) -> Path:
    """Return the repair function's asset (``lake_compactor.repair_handler.handler``)."""
    requirements = runtime_requirements() + compactor_requirements()
    requirements = [r for r in requirements if _dist_name(r) != "sqlglot"]
    sources = repair_sources()
    key = _key(COMPACTOR_PLATFORMS, python_version, requirements, sources)
    return _build(
        build_root / "lambda" / f"repair-py{python_version}-{key}",
        requirements, python_version, COMPACTOR_PLATFORMS, sources,
    )  # fmt: skip
