"""The archive repair in the template: an hourly function with the processor's code, read
access to the standard logs, add-only access to the lake's events, the day's salts, and
an alarm when it added anything."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdk_support import Synth

import lake_compactor.repair_handler as repair_handler
from cdk import repair as construct
from cdk.bundling import build_repair_asset
from cdk.functions import PYTHON_VERSION
from lake_compactor import BUCKET_ENV, PREFIX_ENV

pytestmark = pytest.mark.cdk


def _function(synth: Synth) -> tuple[str, dict[str, Any]]:
    (item,) = [
        (logical_id, f)
        for logical_id, f in synth.resources("AWS::Lambda::Function").items()
        if f["Properties"].get("Handler") == construct.HANDLER
    ]
    return item


def _bucket(synth: Synth, rule: str) -> str:
    (bucket_id,) = [
        logical_id
        for logical_id, b in synth.resources("AWS::S3::Bucket").items()
        if rule in json.dumps(b["Properties"].get("LifecycleConfiguration"))
    ]
    return bucket_id


def test_the_function_reads_what_the_handler_reads(synth: Synth) -> None:
    module, _, name = construct.HANDLER.rpartition(".")
    assert module == repair_handler.__name__ and callable(getattr(repair_handler, name))
    for setting in ("ARCHIVE_BUCKET_ENV", "ARCHIVE_PREFIX_ENV", "DOMAINS_ENV", "SALT_PREFIX_ENV",
                    "INPUT_ENV", "DISTRIBUTION_ENV"):  # fmt: skip
        assert getattr(construct, setting) == getattr(repair_handler, setting), setting
    _, function = _function(synth)
    props = function["Properties"]
    assert props["Architectures"] == ["arm64"] and props["Timeout"] == 900
    env = props["Environment"]["Variables"]
    assert env[construct.ARCHIVE_BUCKET_ENV] == {"Ref": _bucket(synth, "expire-raw-logs")}
    assert env[construct.ARCHIVE_PREFIX_ENV] == "cloudfront/"
    assert env[BUCKET_ENV] == {"Ref": _bucket(synth, "expire-delivery-errors")}
    assert env[PREFIX_ENV] == "events/"
    assert env[construct.DOMAINS_ENV] == "example.com,blog.example.org"
    assert env[construct.SALT_PREFIX_ENV].endswith("/salts/")
    assert env[construct.INPUT_ENV] == "stream"
    (distribution,) = [k for k, v in synth.resources("AWS::CloudFront::Distribution").items()
                       if v["Properties"]["DistributionConfig"]["Comment"].startswith(
                           "ownstats collector")]  # fmt: skip
    assert env[construct.DISTRIBUTION_ENV] == {"Ref": distribution}


def test_it_runs_every_hour_retries_twice_and_reports_to_the_failure_queue(synth: Synth) -> None:
    logical_id, _ = _function(synth)
    (rule,) = [
        r["Properties"]
        for r in synth.resources("AWS::Events::Rule").values()
        if r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
    ]
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    (config,) = [
        c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]
    assert config["MaximumRetryAttempts"] == 2
    assert "OnFailure" in config["DestinationConfig"]


def test_its_role_reads_the_archive_and_adds_to_the_lake_only(synth: Synth) -> None:
    _, function = _function(synth)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    granted: dict[str, list[str]] = {}
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                granted.setdefault(action, []).append(json.dumps(statement["Resource"]))
    archive, lake = _bucket(synth, "expire-raw-logs"), _bucket(synth, "expire-delivery-errors")
    assert not any(a.startswith("s3:Delete") for a in granted)  # adds, never removes
    assert all("/events/*" in r and lake in r for r in granted["s3:PutObject"])
    reads = granted["s3:GetObject"]
    assert any(archive in r and "/cloudfront/*" in r for r in reads)
    assert any(lake in r and "/events/*" in r for r in reads)
    assert not any(archive in r for r in granted["s3:PutObject"])
    assert set(granted) >= {"ssm:GetParameter", "ssm:PutParameter"}
    assert not any(a.startswith(("firehose:", "kinesis:", "athena:", "glue:")) for a in granted)


def test_an_alarm_fires_when_the_repair_added_events(synth: Synth) -> None:
    (alarm,) = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if "EventsRepaired" in json.dumps(a["Properties"])
    ]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching" and alarm["AlarmActions"]
    outputs = synth.json["Outputs"]
    assert outputs["RepairFunction"]["Value"] == {"Ref": _function(synth)[0]}


def test_its_asset_is_the_processor_duckdb_and_the_repair(synth: Synth) -> None:
    asset = build_repair_asset(PYTHON_VERSION)  # cached: the one the synth used
    assert (asset / "stream_processor" / "pipeline.py").is_file()
    assert (asset / "lake_compactor" / "repair_handler.py").is_file()
    assert (asset / "duckdb").is_dir() and (asset / "ua_parser").is_dir()
    for absent in ("sqlglot", "athena_views", "pyarrow", "numpy", "boto3"):
        assert not (asset / absent).exists(), absent
    size = sum(p.stat().st_size for p in asset.rglob("*") if p.is_file())
    assert size < 200 * 1024 * 1024  # Lambda allows 250 MB unzipped
