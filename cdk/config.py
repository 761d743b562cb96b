"""Deployment configuration: the one place CDK context is read.

Every construct gets typed values from ``OwnstatsConfig``; none of them calls
``try_get_context``. That keeps the set of knobs discoverable (this file) and lets
tests build a config without an app.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs import Node

from ownstats.zones import time_zones
from stream_processor.masks import parse_patterns
from stream_processor.sites import ascii_host

REPO_ROOT = Path(__file__).resolve().parent.parent

#: a DNS name as a site owner types it (no scheme, no path)
#: (the top-level label may be punycode too: xn--p1ai is .рф)
_DOMAIN_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)
_EMAIL_RE = re.compile(r"^[^@\s,]+@([a-z0-9-]+\.)+[a-z]{2,63}$")
_ACM_ARN_RE = re.compile(r"^arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]+$")


class ConfigError(ValueError):
    """Bad or missing context; the message says which ``-c key=value`` to fix."""


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in _TRUE


def _bool(context: dict[str, Any], key: str, default: bool) -> bool:
    """A ``true|false`` switch; anything else is an error (a typo must not flip it)."""
    raw = context.get(key)
    if raw is None or str(raw).strip() == "":
        return default
    value = str(raw).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"-c {key}={raw!r} is not a switch; use -c {key}=true or -c {key}=false")


def _int(context: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    raw = context.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError as err:
        raise ConfigError(f"-c {key}={raw!r} is not a whole number") from err
    if not low <= value <= high:
        raise ConfigError(f"-c {key}={value} is out of range; use {low}..{high}")
    return value


def _optional_days(context: dict[str, Any], key: str) -> int | None:
    """A number of days, or None (unset, empty or ``forever``: keep forever)."""
    raw = context.get(key)
    if raw is None or str(raw).strip().lower() in {"", "forever", "none"}:
        return None
    return _int(context, key, 0, 1, 36_500)


def _emails(context: dict[str, Any], key: str) -> tuple[str, ...]:
    """A comma list of e-mail addresses (lower-cased: Cognito signs in case-insensitively)."""
    raw = str(context.get(key) or "")
    emails = tuple(e.strip().lower() for e in raw.split(",") if e.strip())
    for email in emails:
        if not _EMAIL_RE.match(email):
            raise ConfigError(f"-c {key}: {email!r} is not an e-mail address")
    return emails


#: every ``-c key=value`` the app reads (docs/DEPLOY.md documents each one)
CONTEXT_KEYS = (
    "domain",
    "shards",
    "retention_days",
    "lake_retention_days",
    "results_retention_days",
    "athena_scan_limit_gb",
    "tracker_domain",
    "certificate_arn",
    "alarm_email",
    "dev",
    "monitoring_dashboard",
    "reason_metrics",
    "hosted_dashboard",
    "admin_email",
    "dashboard_users",
    "mask_paths",
    "time_zone",
    "realtime",
    "funnels",
)


def stack_name_for(domain: str) -> str:
    """``example.com`` → ``ownstats-example-com``: a valid, readable CloudFormation name."""
    slug = re.sub(r"[^a-z0-9]+", "-", domain.lower()).strip("-")
    return f"ownstats-{slug}"[:128].rstrip("-")


@dataclass(frozen=True)
class OwnstatsConfig:
    """Typed deployment settings (see docs/DEPLOY.md for each ``-c`` key)."""

    #: the allowed site domains (exact or subdomain); the first names the stack
    domains: tuple[str, ...]
    #: shard count, or ``None`` for on-demand capacity
    shards: int | None = 1
    #: days raw logs (with IPs) stay in the archive bucket
    retention_days: int = 30
    #: days the lake keeps events (S3 lifecycle on events/); None keeps them forever
    lake_retention_days: int | None = None
    #: days Athena query results are kept
    results_retention_days: int = 7
    #: per-query Athena scan cutoff, in GB (a runaway query costs at most this × $5/TB)
    athena_scan_limit_gb: int = 10
    #: custom tracker hostname (CNAME) and its ACM certificate in us-east-1
    tracker_domain: str | None = None
    certificate_arn: str | None = None
    #: optional e-mail subscribed to the alarm topic
    alarm_email: str | None = None
    #: dev mode: data buckets are deleted with the stack
    dev: bool = False
    #: the CloudWatch dashboard ($3/month); the alarms exist either way
    monitoring_dashboard: bool = False
    #: one EventsRejected metric per rejection reason ($0.30/month per reason seen)
    reason_metrics: bool = False
    #: the signed-in dashboard (Cognito, HTTP API, Lambda, a second distribution)
    hosted_dashboard: bool = True
    #: e-mail addresses invited to the dashboard at deploy time (admin_email first)
    dashboard_users: tuple[str, ...] = ()
    #: page-path patterns whose ``*`` segments are stored as ``*`` (stream_processor.masks)
    mask_paths: tuple[str, ...] = ()
    #: the dashboard's time zone(s): ``Europe/Berlin`` or ``site=Zone`` pairs ("" = UTC)
    time_zone: str = ""
    #: real-time input (CloudFront real-time logs → Kinesis → the processor); False
    #: deploys none of it and the archive repair, every 15 minutes, is the only input
    realtime: bool = True
    #: the hosted dashboard's funnels, as JSON (``[{"name": …, "steps": […]}]``)
    funnels: str = ""
    #: built tracker files deployed to the collector bucket
    tracker_js: Path = field(default=REPO_ROOT / "tracker" / "dist" / "hello.js")
    tracker_gif: Path = field(default=REPO_ROOT / "tracker" / "hello.gif")

    @property
    def stack_name(self) -> str:
        return stack_name_for(self.domains[0])

    @property
    def on_demand(self) -> bool:
        return self.shards is None

    @classmethod
    def from_context(cls, node: Node) -> OwnstatsConfig:
        """Read every supported ``-c`` key from ``node`` (the app) for a deploy.

        Unlike ``from_mapping`` (tests, tools), a deploy must name who signs in to the
        hosted dashboard: without one the stack would hold a dashboard nobody can open.
        """
        config = cls.from_mapping({k: node.try_get_context(k) for k in CONTEXT_KEYS})
        if config.hosted_dashboard and not config.dashboard_users:
            raise ConfigError(
                "the hosted dashboard needs someone to sign in: add -c "
                "admin_email=you@example.com (Cognito mails a temporary password), or "
                "-c hosted_dashboard=false to deploy without it"
            )
        return config

    @classmethod
    def from_mapping(cls, context: dict[str, Any]) -> OwnstatsConfig:
        """Validate raw context values; errors name the ``-c`` key to fix."""
        raw_domains = context.get("domain")
        if not raw_domains:
            raise ConfigError(
                "no site domain given: deploy with `cdk deploy -c domain=example.com` "
                "(comma list for several sites: -c domain=a.com,b.org)"
            )
        # browsers send internationalised names in punycode: bücher.de → xn--bcher-kva.de
        domains = tuple(
            ascii_host(d) or d.strip().lower().rstrip(".")
            for d in str(raw_domains).split(",")
            if d.strip()
        )
        for domain in domains:
            if not _DOMAIN_RE.match(domain):
                raise ConfigError(
                    f"-c domain: {domain!r} is not a host name; give bare names like "
                    "example.com (no https://, no path)"
                )
        if len(set(domains)) != len(domains):
            raise ConfigError("-c domain lists a domain twice")

        raw_shards = str(context.get("shards") or "1").strip().lower()
        shards: int | None
        if raw_shards in {"on-demand", "ondemand", "on_demand"}:
            shards = None
        else:
            shards = _int({"shards": raw_shards}, "shards", 1, 1, 500)

        tracker_domain = (context.get("tracker_domain") or "").strip().lower() or None
        certificate_arn = (context.get("certificate_arn") or "").strip() or None
        if bool(tracker_domain) != bool(certificate_arn):
            raise ConfigError(
                "-c tracker_domain and -c certificate_arn go together: CloudFront needs an "
                "ACM certificate (in us-east-1) covering the custom tracker host name"
            )
        if tracker_domain and not _DOMAIN_RE.match(tracker_domain):
            raise ConfigError(f"-c tracker_domain={tracker_domain!r} is not a host name")
        if certificate_arn and not _ACM_ARN_RE.match(certificate_arn):
            raise ConfigError(
                f"-c certificate_arn={certificate_arn!r} is not an ACM certificate ARN in "
                "us-east-1 (CloudFront only accepts certificates from us-east-1)"
            )

        realtime = _bool(context, "realtime", True)
        if not realtime and str(context.get("shards") or "").strip():
            raise ConfigError(
                "-c shards sizes the Kinesis stream, which -c realtime=false leaves out; "
                "drop one of them"
            )

        funnels = str(context.get("funnels") or "").strip()
        if funnels:
            from ownstats.dashboard.funnels import FunnelError, from_environment

            try:
                funnels = json.dumps([f.as_dict() for f in from_environment(funnels)])
            except (ValueError, FunnelError) as err:
                raise ConfigError(
                    f"-c funnels: {err}; e.g. -c 'funnels=[{{\"name\": \"Signup\", "
                    f"\"steps\": [\"/pricing\", \"goal:Signup\"]}}]'"
                ) from err

        hosted_dashboard = _bool(context, "hosted_dashboard", True)
        users = _emails(context, "admin_email") + _emails(context, "dashboard_users")
        if len(set(users)) != len(users):
            raise ConfigError("-c admin_email/-c dashboard_users list an address twice")
        if users and not hosted_dashboard:
            raise ConfigError(
                "-c admin_email/-c dashboard_users invite users to the hosted dashboard, "
                "which -c hosted_dashboard=false turns off; drop one of them"
            )

        try:
            mask_paths = parse_patterns(str(context.get("mask_paths") or ""))
        except ValueError as err:
            raise ConfigError(
                f"-c mask_paths: {err} (e.g. -c mask_paths=/reset/*,/u/*/**)"
            ) from err

        time_zone = str(context.get("time_zone") or "").strip()
        try:
            time_zones(time_zone)
        except ValueError as err:
            raise ConfigError(
                f"-c time_zone: {err}; e.g. -c time_zone=Europe/Berlin, or per site "
                "-c time_zone=example.com=Europe/Berlin,shop.example=America/New_York"
            ) from err

        return cls(
            domains=domains,
            mask_paths=mask_paths,
            time_zone=time_zone,
            shards=shards,
            realtime=realtime,
            funnels=funnels,
            retention_days=_int(context, "retention_days", 30, 1, 3650),
            lake_retention_days=_optional_days(context, "lake_retention_days"),
            results_retention_days=_int(context, "results_retention_days", 7, 1, 365),
            athena_scan_limit_gb=_int(context, "athena_scan_limit_gb", 10, 1, 10_000),
            tracker_domain=tracker_domain,
            certificate_arn=certificate_arn,
            alarm_email=(context.get("alarm_email") or "").strip() or None,
            dev=_truthy(context.get("dev") or ""),
            monitoring_dashboard=_bool(context, "monitoring_dashboard", False),
            reason_metrics=_bool(context, "reason_metrics", False),
            hosted_dashboard=hosted_dashboard,
            dashboard_users=users,
        )
