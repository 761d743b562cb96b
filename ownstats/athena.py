"""The production query engine behind a flag: the same Athena SQL, run on AWS Athena.

``ownstats query --athena`` and ``ownstats dashboard --athena`` use this with the
user's own AWS credentials; the workgroup and database come from the deployed
stack's outputs (``AthenaWorkGroup``, ``GlueDatabase``) or from flags. It answers the
same ``QueryResult`` as the local DuckDB engine, so callers never know which ran.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from ownstats.results import QueryError, QueryResult

__all__ = ["AthenaBackend", "aws_client", "stack_outputs"]

# Athena returns every value as a string; these types are turned back into Python values
_INTEGER_TYPES = {"tinyint", "smallint", "integer", "int", "bigint"}
_FLOAT_TYPES = {"double", "float", "real", "decimal"}


_AWS_SETUP = (
    "ownstats uses your AWS configuration: set AWS_DEFAULT_REGION to the stack's region and "
    "credentials (AWS_PROFILE, `aws configure` or `aws sso login`)"
)


def _explain(error: Exception, advice: str = "") -> str:
    """The error as a sentence, then what to do: AWS setup advice when AWS is not set up."""
    from botocore.exceptions import NoCredentialsError, NoRegionError, ProfileNotFound

    text = str(error).rstrip()
    text = text if text.endswith(".") else text + "."
    if isinstance(error, NoCredentialsError | NoRegionError | ProfileNotFound):
        advice = _AWS_SETUP
    return f"{text} {advice}" if advice else text


def aws_client(service: str, *, session: Any = None, config: Any = None) -> Any:
    """A boto3 client, or a QueryError saying how to configure AWS (no region, no profile)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return (session or boto3).client(service, config=config)
    except BotoCoreError as error:
        raise QueryError(f"cannot use AWS {service}: {_explain(error, _AWS_SETUP)}") from error


def stack_outputs(stack_name: str, *, session: Any = None) -> dict[str, str]:
    """The CloudFormation outputs of a deployed ownstats stack, by output key."""
    client = aws_client("cloudformation", session=session)
    try:
        stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    except Exception as error:
        advice = (
            "Deploy it first (`cdk deploy`), check the region (AWS_DEFAULT_REGION), "
            "or pass --workgroup and --database"
        )
        raise QueryError(f"cannot read stack {stack_name!r}: {_explain(error, advice)}") from error
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def _convert(value: str | None, athena_type: str) -> Any:
    if value is None:
        return None
    kind = athena_type.lower()
    try:
        if kind in _INTEGER_TYPES:
            return int(value)
        if kind in _FLOAT_TYPES:
            return float(value)
        if kind == "boolean":
            return value.lower() == "true"
    except ValueError:
        return value
    return value


class AthenaBackend:
    """Runs one statement at a time on Athena, polling until it ends.

    Progress (state and data scanned) goes to ``progress`` so a long query never looks
    hung; results are read page by page (get_query_results returns 1,000 rows a page).
    """

    def __init__(
        self,
        workgroup: str,
        database: str,
        *,
        client: Any = None,
        poll_s: float = 0.5,
        timeout_s: float = 600.0,
        progress: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = aws_client("athena") if client is None else client
        self.workgroup = workgroup
        self.database = database
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.progress = progress
        self.sleep = sleep

    def query(self, sql: str) -> QueryResult:
        try:
            started = self.client.start_query_execution(
                QueryString=sql,
                WorkGroup=self.workgroup,
                QueryExecutionContext={"Database": self.database},
            )
        except Exception as error:
            raise QueryError(f"Athena refused the query: {_explain(error)}") from error
        query_id = started["QueryExecutionId"]
        self._wait(query_id)
        return self._results(query_id)

    def _wait(self, query_id: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=query_id)
            status = execution["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason", "no reason given")
                raise QueryError(f"Athena query {state.lower()}: {reason}")
            if self.progress:
                scanned = (
                    execution["QueryExecution"].get("Statistics", {}).get("DataScannedInBytes", 0)
                )
                self.progress(f"{state.lower()} … {scanned / 1e6:.1f} MB scanned")
            if time.monotonic() > deadline:
                self.client.stop_query_execution(QueryExecutionId=query_id)
                raise QueryError(
                    f"Athena query took over {self.timeout_s:.0f} s and was stopped; "
                    "filter on event_date to scan less"
                )
            self.sleep(self.poll_s)

    def _results(self, query_id: str) -> QueryResult:
        paginator = self.client.get_paginator("get_query_results")
        columns: list[str] = []
        types: list[str] = []
        rows: list[tuple[Any, ...]] = []
        first = True
        for page in paginator.paginate(QueryExecutionId=query_id):
            result_set = page["ResultSet"]
            if not columns:
                info = result_set["ResultSetMetadata"]["ColumnInfo"]
                columns = [c["Name"] for c in info]
                types = [c["Type"] for c in info]
            page_rows = result_set["Rows"]
            if first and page_rows:
                # the first row of a SELECT's first page repeats the column names
                header = [d.get("VarCharValue") for d in page_rows[0]["Data"]]
                if header == columns:
                    page_rows = page_rows[1:]
            first = False
            for row in page_rows:
                values = [d.get("VarCharValue") for d in row["Data"]]
                rows.append(tuple(_convert(v, t) for v, t in zip(values, types, strict=False)))
        return QueryResult(columns, rows)


def stderr_progress(message: str) -> None:
    """A one-line, overwritten progress message for terminals."""
    if sys.stderr.isatty():
        print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)
