"""The Athena view custom resource: runs each statement in order, waits, reports back.

Runs the Lambda's handler in-process with a fake Athena client and a fake
CloudFormation response URL, so the deploy-time behaviour is tested without AWS.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cdk.config import REPO_ROOT

pytestmark = pytest.mark.cdk


class FakeAthena:
    """Records statements; fails the ones containing ``fail_on``."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.queries: list[str] = []

    def start_query_execution(self, QueryString: str, **_: Any) -> dict[str, str]:
        self.queries.append(QueryString)
        return {"QueryExecutionId": str(len(self.queries))}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        sql = self.queries[int(QueryExecutionId) - 1]
        if self.fail_on and self.fail_on in sql:
            status = {"State": "FAILED", "StateChangeReason": "line 1: Table not found"}
        else:
            status = {"State": "SUCCEEDED"}
        return {"QueryExecution": {"Status": status}}


class Context:
    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


@pytest.fixture
def deployer(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    path = REPO_ROOT / "cdk" / "view_deployer" / "index.py"
    spec = importlib.util.spec_from_file_location("ownstats_view_deployer", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _event(request_type: str, views: list[str], old: list[str] | None = None) -> dict[str, Any]:
    def props(names: list[str]) -> dict[str, Any]:
        return {
            "Database": "db",
            "WorkGroup": "wg",
            "Views": [{"Name": n, "Statement": f'CREATE OR REPLACE VIEW "{n}" AS SELECT 1'}
                      for n in names],
        }  # fmt: skip

    event = {
        "RequestType": request_type,
        "ResponseURL": "https://example.invalid/response",
        "StackId": "stack",
        "RequestId": "req",
        "LogicalResourceId": "Views",
        "ResourceProperties": props(views),
    }
    if old is not None:
        event["OldResourceProperties"] = props(old)
    return event


def _run(deployer: ModuleType, monkeypatch: pytest.MonkeyPatch, athena: FakeAthena,
         event: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    responses: list[dict[str, Any]] = []

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *_: object) -> None:
            return None

    def fake_urlopen(request: Any, timeout: int) -> Response:
        responses.append(json.loads(request.data))
        return Response()

    monkeypatch.setattr(deployer, "_athena", athena)
    monkeypatch.setattr(deployer.urllib.request, "urlopen", fake_urlopen)
    deployer.handler(event, Context())
    (response,) = responses
    return response


def test_create_runs_views_in_order(deployer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    athena = FakeAthena()
    response = _run(deployer, monkeypatch, athena, _event("Create", ["page_views", "daily_stats"]))
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == "db/views"
    assert [q.split('"')[1] for q in athena.queries] == ["page_views", "daily_stats"]


def test_a_failing_view_fails_the_deployment_with_athenas_reason(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    athena = FakeAthena(fail_on="daily_stats")
    response = _run(deployer, monkeypatch, athena, _event("Create", ["page_views", "daily_stats"]))
    assert response["Status"] == "FAILED"
    assert "Table not found" in response["Reason"] and "athena_views/" in response["Reason"]


def test_update_drops_removed_views(deployer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    athena = FakeAthena()
    event = _event("Update", ["page_views"], old=["page_views", "legacy"])
    assert _run(deployer, monkeypatch, athena, event)["Status"] == "SUCCESS"
    assert athena.queries[-1] == 'DROP VIEW IF EXISTS "legacy"'


def test_delete_never_blocks(deployer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    athena = FakeAthena(fail_on="DROP")
    response = _run(deployer, monkeypatch, athena, _event("Delete", ["page_views", "sessions"]))
    assert response["Status"] == "SUCCESS"
    assert athena.queries == ['DROP VIEW IF EXISTS "sessions"', 'DROP VIEW IF EXISTS "page_views"']


def test_deployer_needs_only_the_runtime() -> None:
    source = (Path(REPO_ROOT) / "cdk" / "view_deployer" / "index.py").read_text()
    imports = {
        line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))
    }
    assert imports <= {"__future__", "json", "time", "urllib.request", "typing", "boto3"}
