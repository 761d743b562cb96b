"""Sites' time zones for local mode and the CDK app (defined in ``athena_views.zoned``,
which the compactor's bundle also carries: it rolls a zoned site's days up too)."""

from __future__ import annotations

from athena_views.zoned import time_zone, time_zones

__all__ = ["time_zone", "time_zones"]
