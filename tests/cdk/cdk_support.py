"""Shared types of the CDK tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from cdk.config import OwnstatsConfig


@dataclass(frozen=True)
class Synth:
    """What the tests read: the stack, its template (assertions + raw JSON), the assembly."""

    stack: cdk.Stack
    template: Template
    json: dict[str, Any]
    outdir: Path
    config: OwnstatsConfig
    asset_dir: Path
    compactor_asset_dir: Path

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == cfn_type}


#: us-east-1 list prices of everything that bills per month whatever the traffic
HOURS_PER_MONTH = 730
SHARD_HOUR = 0.015
KMS_KEY = 1.00  # per customer-managed key and month
KMS_ROTATION = 1.00  # per rotation, for the first two rotations only
DASHBOARD = 3.00
STANDARD_ALARM = 0.10
CUSTOM_METRIC = 0.30
#: ≤ 2 salts (SSM advanced parameters, $0.05/month each) alive at any time
SALTS = 2 * 0.05
#: the processor's metrics with only the ``service`` dimension (handler.emit_metrics)
CORE_METRICS = ("RecordsIn", "EventsAccepted", "PageViews", "DeliveryFailures")


def fixed_monthly_cost(template: dict[str, Any]) -> dict[str, float]:
    """Each fixed cost item of a synthesized template, in $/month (worst case: a rotated
    key after its second rotation; every custom metric receiving data every hour)."""
    from cdk.processor import REASON_METRICS_ENV
    from stream_processor.reasons import Reason

    resources = list(template["Resources"].values())

    def of_type(cfn_type: str) -> list[dict[str, Any]]:
        return [r for r in resources if r["Type"] == cfn_type]

    shards = sum(s["Properties"].get("ShardCount", 0) for s in of_type("AWS::Kinesis::Stream"))
    keys = of_type("AWS::KMS::Key")
    rotated = [k for k in keys if k["Properties"].get("EnableKeyRotation")]
    alarms = of_type("AWS::CloudWatch::Alarm")
    assert all(a["Properties"].get("Period", 60) >= 60 for a in alarms), "high-resolution alarm"
    metrics = 0
    for function in of_type("AWS::Lambda::Function"):
        env = function["Properties"].get("Environment", {}).get("Variables", {})
        if REASON_METRICS_ENV in env:
            metrics += len(CORE_METRICS) + (len(Reason) if env[REASON_METRICS_ENV] == "1" else 0)
    return {
        "kinesis shards": shards * SHARD_HOUR * HOURS_PER_MONTH,
        "kms keys": len(keys) * KMS_KEY + len(rotated) * 2 * KMS_ROTATION,
        "dashboards": len(of_type("AWS::CloudWatch::Dashboard")) * DASHBOARD,
        "alarms": len(alarms) * STANDARD_ALARM,
        "custom metrics": metrics * CUSTOM_METRIC,
        "salts": SALTS,
    }


def tracker_files(tmp: Path) -> tuple[Path, Path]:
    """The built tracker if present, else stand-ins (the tracker has its own tests)."""
    config = OwnstatsConfig(domains=("example.com",))
    js, gif = config.tracker_js, config.tracker_gif
    if not js.is_file():
        js = tmp / "hello.js"
        js.write_text("/* stand-in for tracker/dist/hello.js */\n")
    if not gif.is_file():
        gif = tmp / "hello.gif"
        gif.write_bytes(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    return js, gif
