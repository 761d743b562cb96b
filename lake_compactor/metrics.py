"""The counts the lake's functions print as CloudWatch metrics (Embedded Metric Format).

A module of its own, standard library only, so the repair function shares it without
importing the compactor's rollups (and their SQL translator).
"""

from __future__ import annotations

import os
from typing import Any

from lake_compactor import METRICS_NAMESPACE, SERVICE_ENV

__all__ = ["metric_line"]


def metric_line(name: str, count: int, now: float) -> dict[str, Any]:
    """One of the compactor's counts in Embedded Metric Format: one printed line becomes
    the metric an alarm of the stack watches (no CloudWatch client, no cost per call)."""
    return {
        "_aws": {
            "Timestamp": int(now * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": name, "Unit": "Count"}],
                }
            ],
        },
        "service": os.environ.get(SERVICE_ENV, "ownstats"),
        name: count,
    }
