"""The Docker-free Lambda asset: stream_processor + aarch64 wheels of the runtime deps."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from cdk_support import Synth

from cdk.bundling import _dist_name, asset_hash, runtime_requirements
from cdk.collector import TrackerNotBuiltError, _stage
from cdk.config import REPO_ROOT

pytestmark = pytest.mark.cdk

EM_AARCH64 = 183  # ELF e_machine


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def test_requirements_come_from_pyproject_without_boto3() -> None:
    with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
        declared = tomllib.load(handle)["project"]["dependencies"]
    reqs = runtime_requirements()
    assert {_dist_name(r) for r in reqs} == {_dist_name(d) for d in declared} - {"boto3"}
    assert "ua-parser[regex]" in " ".join(reqs)


def test_asset_holds_the_handler_and_the_dependencies(synth: Synth) -> None:
    asset = synth.asset_dir
    assert (asset / "stream_processor" / "handler.py").is_file()
    assert (asset / "stream_processor" / "fields.py").is_file()
    for module in (
        "ua_parser",
        "aws_kinesis_agg",
        "airportsdata",
        "aws_lambda_powertools",
        "crawleruseragents",
        "tzdata",
    ):
        assert (asset / module).is_dir(), module
    # aws_kinesis_agg imports six without declaring it
    assert (asset / "six.py").is_file()
    assert not (asset / "boto3").exists() and not (asset / "botocore").exists()
    native = list(asset.rglob("*.so"))
    assert native, "expected the ua-parser-rs native extension"
    assert {_elf_machine(so) for so in native} == {EM_AARCH64}


def test_asset_is_cached_by_content(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    first = asset_hash(["dep>=1"], "3.14", pkg)
    assert asset_hash(["dep>=1"], "3.14", pkg) == first
    assert asset_hash(["dep>=2"], "3.14", pkg) != first
    assert asset_hash(["dep>=1"], "3.13", pkg) != first
    (pkg / "a.py").write_text("x = 2\n")
    assert asset_hash(["dep>=1"], "3.14", pkg) != first


def test_function_code_is_the_built_asset(synth: Synth) -> None:
    (function,) = [
        f
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "stream_processor.handler.handler"
    ]
    key = function["Properties"]["Code"]["S3Key"]  # "<asset hash>.zip"
    manifest = json.loads((synth.outdir / f"{synth.stack.stack_name}.assets.json").read_text())
    staged = synth.outdir / manifest["files"][key.removesuffix(".zip")]["source"]["path"]
    assert (staged / "stream_processor" / "handler.py").is_file()
    assert (staged / "ua_parser").is_dir()


def test_missing_tracker_build_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(TrackerNotBuiltError, match=r"python -m tracker\.build"):
        _stage(tmp_path / "dist" / "hello.js", "js")
