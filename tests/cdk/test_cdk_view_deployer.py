"""The Athena view custom resource: runs each statement in order, waits, reports back.

Runs the Lambda's handler in-process with a fake Athena client and a fake
CloudFormation response URL, so the deploy-time behaviour is tested without AWS.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
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


def _run(deployer: ModuleType, monkeypatch: pytest.MonkeyPatch, athena: Any,
         event: Any) -> dict[str, Any]:  # fmt: skip
    """Invoke the handler; return the one answer it PUT to the response URL."""
    responses = _responses(deployer, monkeypatch)
    monkeypatch.setattr(deployer, "_athena", athena)
    assert deployer.handler(event, Context()) is None
    (response,) = responses
    return response


def _responses(deployer: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Fake the response URL: every PUT body lands in the returned list."""
    responses: list[dict[str, Any]] = []

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *_: object) -> None:
            return None

    def fake_urlopen(request: Any, timeout: int) -> Response:
        responses.append(json.loads(request.data))
        return Response()

    monkeypatch.setattr(deployer.urllib.request, "urlopen", fake_urlopen)
    return responses


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
    assert imports <= {"__future__", "json", "time", "traceback", "urllib.request", "typing"}
    assert "import boto3" in source  # imported inside the handler's try, on first use


# --- every path answers CloudFormation --------------------------------------------------


def _malformed(request_type: str) -> list[tuple[str, dict[str, Any]]]:
    def without(*path: str) -> dict[str, Any]:
        event = _event(request_type, ["page_views"], old=[] if request_type == "Update" else None)
        if request_type == "Update":
            event["PhysicalResourceId"] = "db/views"
        target = event
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return event

    bad_view = _event(request_type, ["page_views"])
    bad_view["ResourceProperties"]["Views"] = [{"Name": "page_views"}]  # no Statement
    not_a_dict = _event(request_type, [])
    not_a_dict["ResourceProperties"] = None
    return [
        ("no ResourceProperties", without("ResourceProperties")),
        ("no Database", without("ResourceProperties", "Database")),
        ("no WorkGroup", without("ResourceProperties", "WorkGroup")),
        ("no RequestType", without("RequestType")),
        ("view without Statement", bad_view),
        ("ResourceProperties null", not_a_dict),
    ]


MALFORMED = [
    pytest.param(event, id=f"{kind}-{name}")
    for kind in ("Create", "Update")
    for name, event in _malformed(kind)
]


@pytest.mark.parametrize("event", MALFORMED)
def test_a_malformed_event_is_answered_failed(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch, event: dict[str, Any]
) -> None:
    response = _run(deployer, monkeypatch, FakeAthena(), event)
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("view deployer error:")
    assert response["PhysicalResourceId"]
    assert (response["StackId"], response["RequestId"], response["LogicalResourceId"]) == (
        "stack", "req", "Views",
    )  # fmt: skip


def test_an_unknown_request_type_is_answered_failed(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    athena = FakeAthena()
    response = _run(deployer, monkeypatch, athena, _event("Upgrade", ["page_views"]))
    assert response["Status"] == "FAILED" and "Upgrade" in response["Reason"]
    assert athena.queries == []


def test_a_failed_update_keeps_its_physical_id(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a different id would tell CloudFormation the resource was replaced
    event = _event("Update", ["page_views"], old=["page_views"])
    event["PhysicalResourceId"] = "db/views"
    del event["ResourceProperties"]["Database"]
    response = _run(deployer, monkeypatch, FakeAthena(), event)
    assert (response["Status"], response["PhysicalResourceId"]) == ("FAILED", "db/views")


class BrokenAthena:
    """An Athena client whose every call fails as boto3 fails."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def start_query_execution(self, **_: Any) -> dict[str, str]:
        raise self.error

    def get_query_execution(self, **_: Any) -> dict[str, Any]:
        raise self.error


def _client_error() -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
        "StartQueryExecution",
    )


def test_an_athena_api_error_is_answered_failed(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    athena = BrokenAthena(_client_error())
    for kind in ("Create", "Update"):
        response = _run(deployer, monkeypatch, athena, _event(kind, ["page_views"], old=[]))
        assert response["Status"] == "FAILED"
        assert "AccessDeniedException" in response["Reason"]


def test_a_boto3_client_that_cannot_be_built_is_answered_failed(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from botocore.exceptions import NoRegionError

    def no_region(*_: Any, **__: Any) -> Any:
        raise NoRegionError()

    monkeypatch.setattr(boto3, "client", no_region)
    response = _run(deployer, monkeypatch, None, _event("Create", ["page_views"]))
    assert response["Status"] == "FAILED" and "NoRegionError" in response["Reason"]


def test_boto3_failing_to_import_is_answered_failed(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError
    response = _run(deployer, monkeypatch, None, _event("Create", ["page_views"]))
    assert response["Status"] == "FAILED" and "boto3" in response["Reason"]


def test_loading_the_module_builds_no_client(deployer: ModuleType) -> None:
    # a client built at import time would crash the cold start, outside any try
    assert deployer._athena is None


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({**_event("Delete", []), "ResourceProperties": {}}, id="no-props"),
        pytest.param(
            {k: v for k, v in _event("Delete", []).items() if k != "ResourceProperties"},
            id="no-ResourceProperties",
        ),
    ],
)
def test_a_malformed_delete_still_lets_the_stack_go(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch, event: dict[str, Any]
) -> None:
    # FAILED would leave the stack in DELETE_FAILED / ROLLBACK_FAILED; the views go
    # with the Glue database anyway
    event["PhysicalResourceId"] = "db/views"
    response = _run(deployer, monkeypatch, FakeAthena(), event)
    assert (response["Status"], response["PhysicalResourceId"]) == ("SUCCESS", "db/views")
    assert "not dropped" in response["Reason"]


def test_a_delete_whose_athena_client_fails_still_succeeds(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = {**_event("Delete", ["page_views"]), "PhysicalResourceId": "db/views"}
    response = _run(deployer, monkeypatch, BrokenAthena(_client_error()), event)
    assert response["Status"] == "SUCCESS"


def test_an_event_without_response_url_is_logged_not_raised(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    responses = _responses(deployer, monkeypatch)
    monkeypatch.setattr(deployer, "_athena", FakeAthena())
    event = _event("Create", ["page_views"])
    del event["ResponseURL"]
    assert deployer.handler(event, Context()) is None
    assert responses == []
    assert "could not answer CloudFormation (SUCCESS" in capsys.readouterr().out


def test_an_event_that_is_not_a_dict_is_logged_not_raised(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    responses = _responses(deployer, monkeypatch)
    assert deployer.handler(None, Context()) is None  # type: ignore[arg-type]
    assert responses == []
    assert "could not answer CloudFormation (FAILED" in capsys.readouterr().out


def test_a_failing_response_put_is_retried_then_logged(
    deployer: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    attempts: list[bytes] = []

    def unreachable(request: Any, timeout: int) -> Any:
        attempts.append(request.data)
        raise deployer.urllib.error.URLError("connection reset")

    monkeypatch.setattr(deployer, "_athena", FakeAthena())
    monkeypatch.setattr(deployer.urllib.request, "urlopen", unreachable)
    monkeypatch.setattr(deployer.time, "sleep", lambda _: None)
    assert deployer.handler(_event("Create", ["page_views"]), Context()) is None
    assert len(attempts) == 3 and json.loads(attempts[0])["Status"] == "SUCCESS"
    assert "sending SUCCESS to CloudFormation failed (attempt 3)" in capsys.readouterr().out
