"""`query --athena`: the same SQL on AWS Athena, names from the stack's outputs (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ownstats.athena import AthenaBackend, stack_outputs
from ownstats.cli import main
from ownstats.engine import QueryError

TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "AthenaWorkGroup": {"Value": "ownstats-example-com"},
        "GlueDatabase": {"Value": "ownstats_example_com"},
    },
}


class FakeAthena:
    """Walks a query through QUEUED → RUNNING → SUCCEEDED and pages its results."""

    def __init__(
        self,
        states: list[str],
        pages: list[list[list[str | None]]],
        columns: list[tuple[str, str]],
        reason: str = "",
    ) -> None:
        self.states, self.pages, self.columns, self.reason = states, pages, columns, reason
        self.started: list[dict[str, Any]] = []

    def start_query_execution(self, **kwargs: Any) -> dict[str, str]:
        self.started.append(kwargs)
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {
            "QueryExecution": {
                "Status": {"State": state, "StateChangeReason": self.reason},
                "Statistics": {"DataScannedInBytes": 2_000_000},
            }
        }

    def get_paginator(self, name: str) -> Any:
        assert name == "get_query_results"
        fake = self

        class Paginator:
            def paginate(self, QueryExecutionId: str) -> Iterator[dict[str, Any]]:
                info = [{"Name": n, "Type": t} for n, t in fake.columns]
                for page in fake.pages:
                    yield {
                        "ResultSet": {
                            "ResultSetMetadata": {"ColumnInfo": info},
                            "Rows": [
                                {"Data": [{} if v is None else {"VarCharValue": v} for v in row]}
                                for row in page
                            ],
                        }
                    }

        return Paginator()

    def stop_query_execution(self, QueryExecutionId: str) -> None:
        self.states = ["CANCELLED"]


def test_results_are_paged_typed_and_the_header_row_dropped() -> None:
    progress: list[str] = []
    client = FakeAthena(
        ["QUEUED", "RUNNING", "SUCCEEDED"],
        pages=[
            [["event_date", "visitors", "bounce_rate"], ["2026-11-27", "10", "0.5"]],
            [["2026-11-28", "12", None]],
        ],
        columns=[("event_date", "varchar"), ("visitors", "bigint"), ("bounce_rate", "double")],
    )
    backend = AthenaBackend(
        "wg", "db", client=client, progress=progress.append, sleep=lambda s: None
    )
    result = backend.query("SELECT * FROM daily_stats")
    assert result.columns == ["event_date", "visitors", "bounce_rate"]
    assert result.rows == [("2026-11-27", 10, 0.5), ("2026-11-28", 12, None)]
    assert client.started[0]["WorkGroup"] == "wg"
    assert client.started[0]["QueryExecutionContext"] == {"Database": "db"}
    assert progress and "MB scanned" in progress[0]


def test_failed_query_raises_with_athenas_reason() -> None:
    client = FakeAthena(["FAILED"], [], [], reason="TABLE_NOT_FOUND: nope")
    with pytest.raises(QueryError, match="TABLE_NOT_FOUND"):
        AthenaBackend("wg", "db", client=client, sleep=lambda s: None).query("SELECT 1")


def test_slow_query_is_stopped_with_advice() -> None:
    client = FakeAthena(["RUNNING"], [], [])
    backend = AthenaBackend("wg", "db", client=client, timeout_s=0.0, sleep=lambda s: None)
    with pytest.raises(QueryError, match="event_date"):
        backend.query("SELECT * FROM events")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        boto3.client("cloudformation").create_stack(
            StackName="ownstats-example-com", TemplateBody=json.dumps(TEMPLATE)
        )
        yield


def test_stack_outputs_name_the_workgroup_and_database(aws: None) -> None:
    outputs = stack_outputs("ownstats-example-com")
    assert outputs["AthenaWorkGroup"] == "ownstats-example-com"
    assert outputs["GlueDatabase"] == "ownstats_example_com"


def test_query_athena_end_to_end_on_moto(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    boto3.client("athena").create_work_group(Name="ownstats-example-com")
    code = main(
        [
            "query",
            "--athena",
            "--stack",
            "ownstats-example-com",
            "--format",
            "json",
            "SELECT 1 AS one",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert isinstance(json.loads(captured.out), list)


def test_query_athena_without_a_stack_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="--stack"):
        main(["query", "--athena", "SELECT 1"])


def test_unknown_stack_is_a_clear_error(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--athena", "--stack", "nope", "SELECT 1"]) == 1
    assert "cannot read stack 'nope'" in capsys.readouterr().err


def test_dashboard_needs_athena_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="ownstats serve"):
        main(["dashboard"])


def test_dashboard_over_an_unknown_stack_is_a_clear_error(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dashboard", "--athena", "--stack", "nope"]) == 1
    assert "cannot read stack 'nope'" in capsys.readouterr().err


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """A machine where AWS was never set up: no region, no credentials, no config."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.parametrize("command", ["query", "dashboard"])
def test_no_region_says_how_to_configure_aws(
    no_aws_config: None, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [command, "--athena", "--stack", "ownstats-example-com"]
    assert main([*argv, "SELECT 1"] if command == "query" else argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "region" in err and "AWS_DEFAULT_REGION" in err


def test_no_credentials_says_how_to_configure_aws(
    no_aws_config: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert main(["query", "--athena", "--stack", "ownstats-example-com", "SELECT 1"]) == 1
    err = capsys.readouterr().err
    assert "Unable to locate credentials" in err and "aws configure" in err
