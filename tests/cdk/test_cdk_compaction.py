"""The lake compaction in the template: schedule, function, least privilege, asset,
retention — and the handler the template names, run under moto with its environment."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aws_cdk.assertions import Match
from cdk_support import Synth
from moto import mock_aws

from cdk.bundling import COMPACTOR_PLATFORMS, compactor_requirements
from cdk.compaction import HANDLER
from cdk.config import ConfigError, OwnstatsConfig
from lake_compactor import BUCKET_ENV, PREFIX_ENV, SERVICE_ENV

pytestmark = pytest.mark.cdk

EM_AARCH64 = 183  # ELF e_machine


def _compactor(synth: Synth) -> tuple[str, dict[str, Any]]:
    (item,) = [
        (logical_id, f)
        for logical_id, f in synth.resources("AWS::Lambda::Function").items()
        if f["Properties"].get("Handler") == HANDLER
    ]
    return item


def _lake_bucket_id(synth: Synth) -> str:
    (bucket_id,) = [
        logical_id
        for logical_id, b in synth.resources("AWS::S3::Bucket").items()
        if "expire-delivery-errors" in json.dumps(b["Properties"].get("LifecycleConfiguration"))
    ]
    return bucket_id


def test_compactor_function_is_sized_for_a_day_of_events(synth: Synth) -> None:
    _, function = _compactor(synth)
    props = function["Properties"]
    assert props["Runtime"].startswith("python3.1") and props["Architectures"] == ["arm64"]
    assert (props["MemorySize"], props["Timeout"]) == (3008, 900)
    assert props["EphemeralStorage"] == {"Size": 4096}
    assert props["Environment"]["Variables"] == {
        BUCKET_ENV: {"Ref": _lake_bucket_id(synth)},
        PREFIX_ENV: "events/",
        SERVICE_ENV: "ownstats-example-com",  # the processor's: one LakeQuarantineAlarm
    }
    assert "ReservedConcurrentExecutions" not in props  # a new account's 10 cannot spare one


def test_compactor_runs_every_hour_and_reports_repeated_failures(synth: Synth) -> None:
    logical_id, _ = _compactor(synth)
    synth.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "cron(5 * * * ? *)",
            "State": "ENABLED",
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [logical_id, "Arn"]}})],
        },
    )
    (config,) = [
        c
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": logical_id}
    ]
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    destination = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    queue_id = destination["Fn::GetAtt"][0]
    assert synth.resources("AWS::SQS::Queue")[queue_id]  # the stack's failure queue
    (alarm,) = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if "ApproximateNumberOfMessagesVisible" in json.dumps(a["Properties"])
    ]
    assert "compaction" in alarm["AlarmDescription"]


def test_compactor_may_touch_only_the_events_prefix(synth: Synth) -> None:
    _, function = _compactor(synth)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    by_action: dict[str, Any] = {}
    quarantine = []
    for statement in policy:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if "quarantine/" in json.dumps(statement["Resource"]):
            quarantine.append(statement)  # where a damaged object is moved to
            continue
        for action in actions:
            by_action[action] = statement
    assert set(by_action) == {
        "logs:CreateLogStream", "logs:PutLogEvents",
        "s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
    }  # fmt: skip
    bucket = _lake_bucket_id(synth)
    listing = by_action["s3:ListBucket"]
    assert listing["Resource"] == {"Fn::GetAtt": [bucket, "Arn"]}
    # events/ to compact, errors/ to count what Firehose could not deliver, rollups/
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["events/*", "errors/*", "rollups/*"]}
    }
    objects = by_action["s3:DeleteObject"]
    assert objects["Resource"] == [
        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, f"/{prefix}/*"]]}
        for prefix in ("events", "rollups")
    ]
    assert by_action["s3:GetObject"] is objects and by_action["s3:PutObject"] is objects
    assert quarantine == [
        {
            "Action": ["s3:PutObject"],
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/quarantine/events/*"]]
            },
        }
    ]


def test_a_quarantined_object_raises_an_alarm(synth: Synth) -> None:
    (alarm,) = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if "ObjectsQuarantined" in json.dumps(a["Properties"])
    ]
    (query,) = alarm["Metrics"]
    assert query["MetricStat"]["Metric"] == {
        "Dimensions": [{"Name": "service", "Value": "ownstats-example-com"}],
        "MetricName": "ObjectsQuarantined",
        "Namespace": "ownstats",  # what lake_compactor.handler.quarantine_metric emits
    }
    assert alarm["Threshold"] == 0 and query["MetricStat"]["Stat"] == "Sum"
    assert "quarantine/" in alarm["AlarmDescription"] and alarm["AlarmActions"]


def test_lake_retention_expires_events_only(synth: Synth) -> None:
    bucket = synth.resources("AWS::S3::Bucket")[_lake_bucket_id(synth)]
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-events"] == {
        "Id": "expire-events",
        "Prefix": "events/",
        "ExpirationInDays": 400,  # -c lake_retention_days=400
        "Status": "Enabled",
    }


@pytest.mark.parametrize(
    ("raw", "days"), [(None, None), ("", None), ("forever", None), ("1", 1), ("400", 400)]
)
def test_lake_retention_days_option(raw: str | None, days: int | None) -> None:
    config = OwnstatsConfig.from_mapping({"domain": "example.com", "lake_retention_days": raw})
    assert config.lake_retention_days == days


@pytest.mark.parametrize("raw", ["0", "-3", "ten", "36501"])
def test_bad_lake_retention_days(raw: str) -> None:
    with pytest.raises(ConfigError, match="lake_retention_days"):
        OwnstatsConfig.from_mapping({"domain": "example.com", "lake_retention_days": raw})


# -- the asset -----------------------------------------------------------------------------


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def test_compactor_asset_is_duckdb_sqlglot_the_compactor_and_the_views(synth: Synth) -> None:
    asset = synth.compactor_asset_dir
    assert (asset / "lake_compactor" / "handler.py").is_file()
    # the events schema is the one definition, shipped as is; nothing else of the processor
    assert sorted(p.name for p in (asset / "stream_processor").iterdir()) == [
        "__init__.py",
        "schema.py",
    ]
    assert (asset / "duckdb").is_dir()
    # the rollups are the views' own SQL, translated by sqlglot in the function
    assert (asset / "athena_views" / "daily_stats.sql").is_file()
    assert (asset / "lake_compactor" / "roll_up.py").is_file()
    assert (asset / "sqlglot").is_dir()
    for heavy in ("pyarrow", "numpy", "boto3", "botocore", "ua_parser"):
        assert not (asset / heavy).exists(), heavy
    native = list(asset.rglob("*.so"))
    assert native and {_elf_machine(so) for so in native} == {EM_AARCH64}
    size = sum(p.stat().st_size for p in asset.rglob("*") if p.is_file())
    assert size < 100 * 1024 * 1024  # Lambda allows 250 MB unzipped
    assert [r.split(">")[0] for r in compactor_requirements()] == ["duckdb", "sqlglot"]
    assert "manylinux_2_28_aarch64" in COMPACTOR_PLATFORMS


def test_compactor_code_is_its_own_asset(synth: Synth) -> None:
    _, function = _compactor(synth)
    key = function["Properties"]["Code"]["S3Key"]
    manifest = json.loads((synth.outdir / f"{synth.stack.stack_name}.assets.json").read_text())
    staged = synth.outdir / manifest["files"][key.removesuffix(".zip")]["source"]["path"]
    assert (staged / "lake_compactor" / "run.py").is_file()
    assert not (staged / "stream_processor" / "handler.py").exists()


# -- the handler the template names, with the environment the template gives it ----------


def test_the_handler_the_template_names_compacts_the_lake_under_moto(
    synth: Synth, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, function = _compactor(synth)
    module_name, name = function["Properties"]["Handler"].rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), name)
    env = function["Properties"]["Environment"]["Variables"]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for key, value in env.items():  # the bucket is a Ref: its deployed name stands in
        monkeypatch.setenv(key, "ownstats-lake" if isinstance(value, dict) else value)
    handler_module = importlib.import_module(module_name)

    from ownstats.lake import EVENTS_SCHEMA

    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="ownstats-lake")
        monkeypatch.setattr(handler_module, "_client", s3)
        for n in range(5):
            rows = [
                {"event_id": f"{n:08x}{i:08x}", "event_type": "pageview",
                 "domain_name": "example.com", "visitor_id": f"{i:016x}"}
                for i in range(20)
            ]  # fmt: skip
            sink = pa.BufferOutputStream()
            pq.write_table(pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA), sink)
            s3.put_object(
                Bucket="ownstats-lake",
                Key=f"{env[PREFIX_ENV]}event_date=2026-03-01/ownstats-events-1-{n}",
                Body=sink.getvalue().to_pybytes(),
            )
        monkeypatch.setattr(handler_module, "clock", lambda: time.time() + 3600)
        report = handler({"source": "aws.events", "detail-type": "Scheduled Event"}, None)
        assert [(c["tier"], c["inputs"], c["rows"]) for c in report["compacted"]] == [
            ("day", 5, 100)
        ]
        monkeypatch.setattr(handler_module, "clock", lambda: time.time() + 3 * 3600)
        assert handler({}, None)["deleted_inputs"] == 5
        listing = s3.list_objects_v2(Bucket="ownstats-lake", Prefix="events/")["Contents"]
        (only,) = [o["Key"] for o in listing]
        assert "/compacted-day-" in only


def test_records_firehose_could_not_deliver_raise_an_alarm(synth: Synth) -> None:
    (alarm,) = [
        a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
        if "DeliveryErrorObjects" in json.dumps(a["Properties"])
    ]
    (query,) = alarm["Metrics"]
    assert query["MetricStat"]["Metric"] == {
        "Dimensions": [{"Name": "service", "Value": "ownstats-example-com"}],
        "MetricName": "DeliveryErrorObjects",
        "Namespace": "ownstats",  # what lake_compactor.handler emits every run
    }
    assert query["MetricStat"]["Period"] == 3600  # the compactor's schedule
    assert alarm["Threshold"] == 0 and query["MetricStat"]["Stat"] == "Maximum"
    assert "replay-errors" in alarm["AlarmDescription"]
