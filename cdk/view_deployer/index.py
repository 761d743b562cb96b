"""CloudFormation custom resource: create the athena_views views, in order, via Athena.

Why run the SQL instead of writing Glue VIRTUAL_VIEW tables directly: a Glue view
needs the view's output columns and types, which only a query engine can derive from
the SQL. Athena computes them, validates the SQL against the ``events`` table, and a
view that does not compile fails the deployment with Athena's own error message
instead of failing later in a dashboard. Statements run one at a time and each waits
for SUCCEEDED, so a view is only created once the views it reads exist.

Every invocation answers CloudFormation, whatever goes wrong (a malformed event, a
missing property, boto3 failing to import or to build its client, an Athena error):
the whole handler body runs inside one ``try``, and a failure to send the answer is
logged. A Create or Update that fails answers FAILED; a Delete always answers SUCCESS
(the Glue database, and with it every view, goes with the stack), so a broken
deployer can never leave a stack stuck in DELETE_FAILED or ROLLBACK_FAILED. The
custom resource also sets ``ServiceTimeout`` (cdk/analytics.py), so even a crash
before this code runs fails the deployment in minutes, not after CloudFormation's
default hour.

Standard library + boto3 only (both in the Lambda runtime): no bundling needed.
"""

from __future__ import annotations

import json
import time
import traceback
import urllib.request
from typing import Any

#: the Athena client, built on first use inside the handler's ``try`` (so an import
#: or configuration error is answered as FAILED instead of crashing the cold start)
_athena: Any = None
#: stop waiting this long before the Lambda timeout, to still answer CloudFormation
_SAFETY_MS = 20_000
#: attempts to deliver the answer to CloudFormation's pre-signed URL
_RESPONSE_ATTEMPTS = 3
#: the physical id of a resource whose properties could not even be read
_FALLBACK_PHYSICAL_ID = "ownstats-athena-views"


class ViewSqlError(RuntimeError):
    """Athena rejected a statement (the message carries Athena's reason)."""


def _client() -> Any:
    global _athena
    if _athena is None:
        import boto3

        _athena = boto3.client("athena")
    return _athena


def _run(sql: str, database: str, workgroup: str, context: Any) -> None:
    """Run one statement and wait for it; raise with Athena's reason on failure."""
    athena = _client()
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database},
        WorkGroup=workgroup,
    )["QueryExecutionId"]
    delay = 0.25
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            return
        if state in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason", state)
            raise ViewSqlError(f"{reason} (query {query_id}): {sql.splitlines()[0]}")
        if context.get_remaining_time_in_millis() < _SAFETY_MS:
            raise TimeoutError(f"Athena query {query_id} still {state}: {sql.splitlines()[0]}")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _field(event: Any, key: str) -> str:
    """A top-level string of the event, or "" when the event is not even a dict."""
    value = event.get(key) if isinstance(event, dict) else None
    return value if isinstance(value, str) else ""


def _respond(event: Any, status: str, reason: str, physical_id: str) -> None:
    """PUT the answer to CloudFormation; never raises (a failure is logged)."""
    try:
        body = json.dumps(
            {
                "Status": status,
                "Reason": reason[:3500],
                "PhysicalResourceId": physical_id,
                "StackId": _field(event, "StackId"),
                "RequestId": _field(event, "RequestId"),
                "LogicalResourceId": _field(event, "LogicalResourceId"),
            }
        ).encode()
        url = _field(event, "ResponseURL")
        if not url:
            raise ValueError("the event has no ResponseURL")
    except Exception:
        print(f"could not answer CloudFormation ({status}: {reason})", flush=True)
        traceback.print_exc()
        return
    for attempt in range(1, _RESPONSE_ATTEMPTS + 1):
        try:
            request = urllib.request.Request(
                url, data=body, method="PUT",
                headers={"Content-Type": "", "Content-Length": str(len(body))},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=30):
                return
        except Exception:
            print(f"sending {status} to CloudFormation failed (attempt {attempt})", flush=True)
            traceback.print_exc()
            if attempt < _RESPONSE_ATTEMPTS:
                time.sleep(attempt)


def _deploy(event: dict[str, Any], context: Any) -> tuple[str, str]:
    """Create/Update: run every CREATE OR REPLACE VIEW and drop views no longer listed.
    Delete: drop the views best-effort. Returns (reason, physical id) on success."""
    request_type = event["RequestType"]
    if request_type not in ("Create", "Update", "Delete"):
        raise ValueError(f"unknown RequestType {request_type!r}")
    props = event["ResourceProperties"]
    database, workgroup = props["Database"], props["WorkGroup"]
    views: list[dict[str, str]] = props.get("Views", [])
    physical_id = f"{database}/views"
    if request_type in ("Create", "Update"):
        for view in views:
            _run(view["Statement"], database, workgroup, context)
        old = (event.get("OldResourceProperties") or {}).get("Views", [])
        gone = {v["Name"] for v in old} - {v["Name"] for v in views}
        for name in sorted(gone):
            _run(f'DROP VIEW IF EXISTS "{name}"', database, workgroup, context)
        return "views deployed", physical_id
    for view in reversed(views):
        try:
            _run(f'DROP VIEW IF EXISTS "{view["Name"]}"', database, workgroup, context)
        except Exception as err:  # never block a stack deletion
            print(f"could not drop view {view.get('Name')}: {err}", flush=True)
    return "views dropped", _field(event, "PhysicalResourceId") or physical_id


def _physical_id(event: Any) -> str:
    """The id to answer with when deploying failed: the existing one (Update, Delete),
    else the one a success would have given, else a fixed one. Never raises."""
    existing = _field(event, "PhysicalResourceId")
    if existing:
        return existing
    try:
        return f"{event['ResourceProperties']['Database']}/views"
    except Exception:
        return _FALLBACK_PHYSICAL_ID


def handler(event: dict[str, Any], context: Any) -> None:
    """Answer CloudFormation on every path: SUCCESS, or FAILED with the reason."""
    try:
        reason, physical_id = _deploy(event, context)
        status = "SUCCESS"
    except Exception as err:
        traceback.print_exc()
        physical_id = _physical_id(event)
        if _field(event, "RequestType") == "Delete":
            # a FAILED delete leaves the stack stuck; the views go with the database
            status, reason = "SUCCESS", f"views not dropped ({err!r}); they go with the database"
        elif isinstance(err, ViewSqlError):
            status = "FAILED"
            reason = f"{err}. Fix the view SQL in athena_views/ and deploy again."
        else:
            status = "FAILED"
            reason = f"view deployer error: {err!r} (see the function's log group)"
        print(f"{status}: {reason}", flush=True)
    _respond(event, status, reason, physical_id)
