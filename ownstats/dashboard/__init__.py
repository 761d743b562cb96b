"""The dashboard (Plausible-class): one page, its static files and a JSON/CSV API.

Where it sits: at the end of the pipeline, reading only the views of ``athena_views/``
through a backend with ``query(sql) -> QueryResult`` (``ownstats.engine.Engine``
locally, ``ownstats.athena.AthenaBackend`` on AWS). See docs/DASHBOARD.md.
"""

from ownstats.dashboard.app import build_app, dashboard_routes

__all__ = ["build_app", "dashboard_routes"]
