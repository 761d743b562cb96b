"""CloudFormation custom resource: create the athena_views views, in order, via Athena.

Why run the SQL instead of writing Glue VIRTUAL_VIEW tables directly: a Glue view
needs the view's output columns and types, which only a query engine can derive from
the SQL. Athena computes them, validates the SQL against the ``events`` table, and a
view that does not compile fails the deployment with Athena's own error message
instead of failing later in a dashboard. Statements run one at a time and each waits
for SUCCEEDED, so a view is only created once the views it reads exist.

Standard library + boto3 only (both in the Lambda runtime): no bundling needed.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import boto3

_athena = boto3.client("athena")
#: stop waiting this long before the Lambda timeout, to still answer CloudFormation
_SAFETY_MS = 20_000


def _run(sql: str, database: str, workgroup: str, context: Any) -> None:
    """Run one statement and wait for it; raise with Athena's reason on failure."""
    query_id = _athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database},
        WorkGroup=workgroup,
    )["QueryExecutionId"]
    delay = 0.25
    while True:
        status = _athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            return
        if state in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason", state)
            raise RuntimeError(f"{reason} (query {query_id}): {sql.splitlines()[0]}")
        if context.get_remaining_time_in_millis() < _SAFETY_MS:
            raise TimeoutError(f"Athena query {query_id} still {state}: {sql.splitlines()[0]}")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _respond(event: dict[str, Any], status: str, reason: str, physical_id: str) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3500],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30):
        pass


def handler(event: dict[str, Any], context: Any) -> None:
    """Create/Update: run every CREATE OR REPLACE VIEW and drop views no longer listed.
    Delete: drop the views best-effort (the database goes with the stack anyway)."""
    props = event["ResourceProperties"]
    database, workgroup = props["Database"], props["WorkGroup"]
    views: list[dict[str, str]] = props.get("Views", [])
    physical_id = f"{database}/views"
    try:
        if event["RequestType"] in ("Create", "Update"):
            for view in views:
                _run(view["Statement"], database, workgroup, context)
            old = event.get("OldResourceProperties", {}).get("Views", [])
            gone = {v["Name"] for v in old} - {v["Name"] for v in views}
            for name in sorted(gone):
                _run(f'DROP VIEW IF EXISTS "{name}"', database, workgroup, context)
        else:
            for view in reversed(views):
                try:
                    _run(f'DROP VIEW IF EXISTS "{view["Name"]}"', database, workgroup, context)
                except Exception as err:  # never block a stack deletion
                    print(f"could not drop view {view['Name']}: {err}")
        _respond(event, "SUCCESS", "views deployed", physical_id)
    except Exception as err:
        print(f"view deployment failed: {err}")
        _respond(
            event,
            "FAILED",
            f"{err}. Fix the view SQL in athena_views/ and deploy again.",
            physical_id,
        )
