"""CDK entry point: ``python -m cdk.app`` (what cdk.json runs).

Reads the context once into ``OwnstatsConfig``, builds the Lambda asset without
Docker, composes the stack and runs the cdk-nag AwsSolutions checks on it. A bad
``-c`` value or a missing build ends with a one-line explanation, not a traceback.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from athena_views import ViewError
from cdk.bundling import (
    BundlingError,
    build_compactor_asset,
    build_dashboard_asset,
    build_lambda_asset,
    build_repair_asset,
)
from cdk.collector import TrackerNotBuiltError
from cdk.config import ConfigError, OwnstatsConfig
from cdk.dashboard_page import HostedPageError
from cdk.functions import PYTHON_VERSION
from cdk.stack import OwnstatsStack


def build(app: cdk.App, config: OwnstatsConfig | None = None) -> OwnstatsStack:
    """Compose the stack on ``app`` (tests call this with their own app and config)."""
    config = config or OwnstatsConfig.from_context(app.node)
    asset_dir = build_lambda_asset(PYTHON_VERSION)
    compactor_asset_dir = build_compactor_asset(PYTHON_VERSION)
    dashboard_asset_dir = build_dashboard_asset(PYTHON_VERSION) if config.hosted_dashboard else None
    stack = OwnstatsStack(app, config.stack_name, config=config, asset_dir=asset_dir,
                          compactor_asset_dir=compactor_asset_dir,
                          dashboard_asset_dir=dashboard_asset_dir,
                          repair_asset_dir=build_repair_asset(PYTHON_VERSION),
                          stack_name=config.stack_name)  # fmt: skip
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
    return stack


def main() -> None:
    app = cdk.App()
    try:
        build(app)
    except (
        ConfigError, BundlingError, TrackerNotBuiltError, ViewError, HostedPageError
    ) as err:  # fmt: skip
        print(f"ownstats: {err}", file=sys.stderr)
        sys.exit(2)
    app.synth()


if __name__ == "__main__":
    main()
