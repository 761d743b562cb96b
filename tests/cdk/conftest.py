"""One synth of the whole CDK app per test session, shared by every CDK test.

A synth costs seconds (jsii + cdk-nag), so all assertions read the same assembly.
The context is deliberately non-default (two domains, two shards, 14-day archive,
400-day lake, dashboard and per-reason metrics on, two dashboard users) so the tests
prove the context reaches the template. Variants that need a different
stack (on-demand stream, custom domain, dev mode) build just the construct involved.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The repo root first, so `cdk` is the app package and not the namespace package
# `tests/cdk` seen through pytest's pythonpath; this folder for `cdk_support`
# (pytest's importlib mode puts no test folder on sys.path).
for _path in (Path(__file__).resolve().parent, REPO_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from cdk_support import Synth, tracker_files  # noqa: E402

from cdk.app import build  # noqa: E402
from cdk.bundling import build_compactor_asset, build_lambda_asset  # noqa: E402
from cdk.config import OwnstatsConfig  # noqa: E402
from cdk.functions import PYTHON_VERSION  # noqa: E402

CONTEXT: dict[str, str] = {
    "domain": "Example.com, blog.example.org",
    "shards": "2",
    "retention_days": "14",
    "lake_retention_days": "400",
    "athena_scan_limit_gb": "5",
    "alarm_email": "ops@example.com",
    "monitoring_dashboard": "true",
    "reason_metrics": "true",
    "admin_email": "Owner@Example.com",
    "dashboard_users": "analyst@example.org",
}


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    tmp = tmp_path_factory.mktemp("cdk")
    js, gif = tracker_files(tmp)
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    outdir = tmp / "cdk.out"
    app = cdk.App(context={**context, **CONTEXT}, outdir=str(outdir))
    config = replace(OwnstatsConfig.from_context(app.node), tracker_js=js, tracker_gif=gif)
    stack = build(app, config)
    template = Template.from_stack(stack)  # synthesizes the app (validation included)
    raw = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    yield Synth(
        stack=stack,
        template=template,
        json=raw,
        outdir=outdir,
        config=config,
        asset_dir=build_lambda_asset(PYTHON_VERSION),  # cached: same dir as the synth used
        compactor_asset_dir=build_compactor_asset(PYTHON_VERSION),
    )


@pytest.fixture(scope="session")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return tracker_files(tmp_path_factory.mktemp("tracker"))
