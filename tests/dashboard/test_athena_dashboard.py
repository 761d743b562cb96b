"""The dashboard's API over ``AthenaBackend`` (moto's Athena): every endpoint, period,
comparison and list option sends valid Athena (Trino) SQL and renders moto's empty
results as zeros and empty lists, never a failure.

moto answers each query with no rows, except the queued answer for the first query
(the site list), so the requests get past site validation as on a real deployment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import sqlglot
from dashboard_support import NOW
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID
from starlette.testclient import TestClient

from ownstats.athena import AthenaBackend
from ownstats.dashboard import build_app
from ownstats.dashboard.params import PERIODS
from ownstats.dashboard.queries import BREAKDOWNS
from ownstats.engine import QueryResult

SITE = "example.com"
REGION = "us-east-1"


class Recording:
    """AthenaBackend, keeping each SQL text it was asked to run."""

    def __init__(self, backend: AthenaBackend) -> None:
        self.backend = backend
        self.sqls: list[str] = []

    def query(self, sql: str) -> QueryResult:
        self.sqls.append(sql)
        return self.backend.query(sql)


@pytest.fixture(params=["", "America/New_York"], ids=["utc", "zoned"])
def athena(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[TestClient, Recording]]:
    """Also with a site time zone: then every panel's SQL re-dates events itself."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        client = boto3.client("athena", region_name=REGION)
        client.create_work_group(Name="ownstats")
        columns = [
            {"Name": "domain_name", "Type": "varchar"},
            {"Name": "first_day", "Type": "varchar"},
        ]
        athena_backends[DEFAULT_ACCOUNT_ID][REGION].query_results_queue.append(
            QueryResults(
                rows=[
                    {"Data": [{"VarCharValue": "domain_name"}, {"VarCharValue": "first_day"}]},
                    {"Data": [{"VarCharValue": SITE}, {"VarCharValue": "2026-01-05"}]},
                ],
                column_info=columns,
            )
        )
        backend = Recording(
            AthenaBackend("ownstats", "db", client=client, poll_s=0, sleep=lambda s: None)
        )
        app = build_app(backend, now=lambda: NOW, time_zone=request.param)
        with TestClient(app) as test_client:
            yield test_client, backend


def ok(client: TestClient, path: str, **params: str) -> dict[str, Any]:
    response = client.get(path, params={"site": SITE, **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_every_endpoint_answers_zeros_on_athena(athena: tuple[TestClient, Recording]) -> None:
    client, backend = athena
    assert ok(client, "/api/sites")["sites"] == [SITE]
    assert ok(client, "/api/current-visitors")["visitors"] == 0
    for period in [p for p in PERIODS if p != "custom"]:
        for comparison in ("previous_period", "year_over_year", "off"):
            summary = ok(client, "/api/summary", period=period, comparison=comparison)
            assert summary["metrics"]["visitors"] == {
                "value": 0,
                "previous": summary["metrics"]["visitors"]["previous"],
                "change": None,
            }
            assert summary["metrics"]["bounce_rate"]["value"] is None
        series = ok(client, "/api/timeseries", period=period)
        assert series["points"] and all(p["visitors"] in (0, None) for p in series["points"])
    assert ok(client, "/api/summary", period="all")["meta"]["from"] == "2026-01-05"
    filtered = {"period": "today", "page": "/pricing", "source": "Google", "event": "Signup"}
    assert "conversion_rate" in ok(client, "/api/summary", **filtered)["metrics"]
    assert ok(client, "/api/timeseries", **filtered)["interval"] == "hour"
    for slug in BREAKDOWNS:
        extra = {"prop_event": "Signup"} if slug == "event-props" else {}
        body = ok(
            client, f"/api/breakdown/{slug}", period="month", search="a", offset="10", **extra
        )
        assert body["rows"] == [] and body["more"] is False
        csv = client.get(
            f"/api/breakdown/{slug}",
            params={"site": SITE, "period": "realtime", "format": "csv", **extra},
        )
        assert csv.status_code == 200 and csv.text.count("\r\n") == 1  # the header only
    # what reached Athena is Athena SQL, every time
    assert len(backend.sqls) > 50
    for sql in set(backend.sqls):
        sqlglot.parse_one(sql, read="trino")
