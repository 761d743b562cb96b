"""``-c realtime=false``: no stream, no real-time log, no processor; the repair is the input.

A second synth of the whole app (the session's shared one is the real-time mode), so the
whole template of this mode is checked as the default one is: cfn-lint, cdk-nag, the
fixed cost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_support import fixed_monthly_cost, tracker_files
from cfnlint.api import ManualArgs, lint

from cdk.app import build
from cdk.config import ConfigError, OwnstatsConfig
from cdk.repair import HANDLER as REPAIR_HANDLER
from cdk.repair import INPUT_ENV

pytestmark = pytest.mark.cdk

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("archive-mode")
    js, gif = tracker_files(tmp)
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    outdir = tmp / "cdk.out"
    app = cdk.App(
        context={
            **context, "domain": "example.com", "realtime": "false",
            "admin_email": "owner@example.com", "monitoring_dashboard": "true",
        },
        outdir=str(outdir),
    )  # fmt: skip
    config = replace(OwnstatsConfig.from_context(app.node), tracker_js=js, tracker_gif=gif)
    stack = build(app, config)
    app.synth()
    yield {
        "json": json.loads((outdir / f"{stack.stack_name}.template.json").read_text()),
        "report": json.loads((outdir / "validation-report.json").read_text()),
    }


def _of(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def _handler_env(template: dict[str, Any], handler: str) -> dict[str, str]:
    (function,) = [f for f in _of(template, "AWS::Lambda::Function").values()
                   if f["Properties"].get("Handler") == handler]  # fmt: skip
    return function["Properties"]["Environment"]["Variables"]


def test_no_stream_no_real_time_log_no_processor(archive: dict[str, Any]) -> None:
    template = archive["json"]
    assert _of(template, "AWS::Kinesis::Stream") == {}
    assert _of(template, "AWS::CloudFront::RealtimeLogConfig") == {}
    assert _of(template, "AWS::Lambda::EventSourceMapping") == {}
    handlers = {
        f["Properties"].get("Handler") for f in _of(template, "AWS::Lambda::Function").values()
    }
    assert "stream_processor.handler.handler" not in handlers
    configs = [d["Properties"]["DistributionConfig"]
               for d in _of(template, "AWS::CloudFront::Distribution").values()]  # fmt: skip
    (config,) = [c for c in configs if c["Comment"].startswith("ownstats collector")]
    assert "RealtimeLogConfigArn" not in json.dumps(config)
    # the standard logs still go to the archive: they are now the only record
    assert config["Logging"]["Prefix"] == "cloudfront/"


def test_the_repair_reads_the_archive_every_15_minutes(archive: dict[str, Any]) -> None:
    template = archive["json"]
    assert _handler_env(template, REPAIR_HANDLER)[INPUT_ENV] == "archive"
    rates = [
        r["Properties"]["ScheduleExpression"] for r in _of(template, "AWS::Events::Rule").values()
    ]
    assert "rate(15 minutes)" in rates
    # the dashboard knows, so it says so and offers no realtime view
    assert _handler_env(template, "ownstats.dashboard.hosted.handler")[INPUT_ENV] == "archive"


def test_alarms_watch_the_repair_not_the_stream(archive: dict[str, Any]) -> None:
    alarms = _of(archive["json"], "AWS::CloudWatch::Alarm")
    names = sorted(k for k in alarms)
    assert any("RepairErrorsAlarm" in n for n in names)
    assert not any("IteratorAge" in n or "EventsRepaired" in n or "Processor" in n for n in names)
    assert len(alarms) == 3 and all(a["Properties"]["AlarmActions"] for a in alarms.values())
    (dashboard,) = _of(archive["json"], "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "EventsRepaired" in body and "Kinesis" not in body


def test_the_fixed_cost_drops_by_the_shard(archive: dict[str, Any]) -> None:
    # docs/DEPLOY.md (Cost, "Without the stream") states these; keep them in step
    cost = fixed_monthly_cost(archive["json"])
    assert cost == pytest.approx(
        {
            "kinesis shards": 0.0, "kms keys": 0.0, "dashboards": 3.00,  # asked for here
            "alarms": 0.30, "custom metrics": 0.0, "salts": 0.10,
        }
    )  # fmt: skip


def test_the_template_passes_cfn_lint_and_cdk_nag(archive: dict[str, Any]) -> None:
    matches = lint(json.dumps(archive["json"]), config=ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")] == []
    (nag,) = [r for r in archive["report"]["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success" and nag["violations"] == []


def test_a_shard_count_without_the_stream_is_refused() -> None:
    with pytest.raises(ConfigError, match="realtime=false"):
        OwnstatsConfig.from_mapping({"domain": "example.com", "realtime": "false", "shards": "2"})
    with pytest.raises(ConfigError, match="not a switch"):
        OwnstatsConfig.from_mapping({"domain": "example.com", "realtime": "nope"})
    assert OwnstatsConfig.from_mapping({"domain": "example.com"}).realtime is True


def test_the_repair_asset_is_required_without_the_stream(tmp_path: Path) -> None:
    from cdk.stack import OwnstatsStack

    js, gif = tracker_files(tmp_path)
    config = replace(
        OwnstatsConfig.from_mapping(
            {"domain": "example.com", "realtime": "false", "hosted_dashboard": "false"}
        ),
        tracker_js=js, tracker_gif=gif,
    )  # fmt: skip
    with pytest.raises(ValueError, match="repair"):
        OwnstatsStack(cdk.App(), "NoRepair", config=config, asset_dir=tmp_path,
                      compactor_asset_dir=tmp_path)  # fmt: skip
