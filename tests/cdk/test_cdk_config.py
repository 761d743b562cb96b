"""Context → OwnstatsConfig: the only place context is read; errors name the fix."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from cdk.config import CONTEXT_KEYS, REPO_ROOT, ConfigError, OwnstatsConfig, stack_name_for

pytestmark = pytest.mark.cdk


def test_domain_is_required_and_the_error_says_how() -> None:
    with pytest.raises(ConfigError, match=r"-c domain=example\.com"):
        OwnstatsConfig.from_mapping({})


def test_several_domains_first_names_the_stack() -> None:
    config = OwnstatsConfig.from_mapping({"domain": "Shop.Example.co.uk , blog.example.org."})
    assert config.domains == ("shop.example.co.uk", "blog.example.org")
    assert config.stack_name == "ownstats-shop-example-co-uk"


@pytest.mark.parametrize("bad", ["https://example.com", "example.com/path", "localhost", "a..b"])
def test_bad_domain_is_rejected(bad: str) -> None:
    with pytest.raises(ConfigError, match="-c domain"):
        OwnstatsConfig.from_mapping({"domain": bad})


@pytest.mark.parametrize(
    ("raw", "shards"), [(None, 1), ("3", 3), ("on-demand", None), ("ON-DEMAND", None)]
)
def test_shards(raw: str | None, shards: int | None) -> None:
    config = OwnstatsConfig.from_mapping({"domain": "example.com", "shards": raw})
    assert config.shards == shards
    assert config.on_demand is (shards is None)


@pytest.mark.parametrize("raw", ["0", "many", "-1"])
def test_bad_shards(raw: str) -> None:
    with pytest.raises(ConfigError, match="shards"):
        OwnstatsConfig.from_mapping({"domain": "example.com", "shards": raw})


def test_defaults() -> None:
    config = OwnstatsConfig.from_mapping({"domain": "example.com"})
    assert (config.retention_days, config.dev, config.tracker_domain) == (30, False, None)


def test_custom_tracker_domain_needs_a_us_east_1_certificate() -> None:
    with pytest.raises(ConfigError, match="go together"):
        OwnstatsConfig.from_mapping({"domain": "example.com", "tracker_domain": "t.example.com"})
    with pytest.raises(ConfigError, match="us-east-1"):
        OwnstatsConfig.from_mapping(
            {
                "domain": "example.com",
                "tracker_domain": "t.example.com",
                "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc-123",
            }
        )


def test_cost_options_default_off() -> None:
    config = OwnstatsConfig.from_mapping({"domain": "example.com"})
    assert (config.monitoring_dashboard, config.reason_metrics) == (False, False)


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("1", True), ("FALSE", False),
                                            ("0", False), ("off", False), ("", False)])  # fmt: skip
@pytest.mark.parametrize("key", ["monitoring_dashboard", "reason_metrics"])
def test_cost_options(key: str, raw: str, value: bool) -> None:
    config = OwnstatsConfig.from_mapping({"domain": "example.com", key: raw})
    assert getattr(config, key) is value


@pytest.mark.parametrize("key", ["monitoring_dashboard", "reason_metrics"])
def test_a_mistyped_switch_is_an_error_not_false(key: str) -> None:
    with pytest.raises(ConfigError, match=f"-c {key}=true or -c {key}=false"):
        OwnstatsConfig.from_mapping({"domain": "example.com", key: "ture"})


def test_dev_flag() -> None:
    assert OwnstatsConfig.from_mapping({"domain": "example.com", "dev": "true"}).dev


@pytest.mark.parametrize("domain", ["xn--bcher-kva.example", "a.b.co", "x" * 60 + ".example"])
def test_stack_name_is_a_valid_cloudformation_name(domain: str) -> None:
    name = stack_name_for(domain)
    assert re.fullmatch(r"ownstats-[a-z0-9]+(-[a-z0-9]+)*", name) and len(name) <= 128


def test_app_without_domain_explains_and_exits_2() -> None:
    """`cdk synth` without -c domain: one line saying what to do, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "cdk.app"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "CDK_CONTEXT_JSON": "{}"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "-c domain=example.com" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_context_key_is_documented() -> None:
    deploy = (REPO_ROOT / "docs" / "DEPLOY.md").read_text()
    options = deploy[deploy.index("### Options") :]
    rows = {m for line in options.splitlines() if line.startswith("| `")
            for m in re.findall(r"`([a-z_]+)`", line.split("|")[1])}  # fmt: skip
    assert set(CONTEXT_KEYS) <= rows


def test_an_internationalised_domain_becomes_punycode() -> None:
    # browsers send xn--bcher-kva.de: an allow-list of bücher.de would drop every beacon
    config = OwnstatsConfig.from_mapping({"domain": "Bücher.de,пример.рф"})
    assert config.domains == ("xn--bcher-kva.de", "xn--e1afmkfd.xn--p1ai")
    assert config.stack_name == "ownstats-xn-bcher-kva-de"


def test_mask_paths_are_validated() -> None:
    config = OwnstatsConfig.from_mapping({"domain": "example.com", "mask_paths": "/reset/*"})
    assert config.mask_paths == ("/reset/*",)
    assert OwnstatsConfig.from_mapping({"domain": "example.com"}).mask_paths == ()
    with pytest.raises(ConfigError, match="-c mask_paths"):
        OwnstatsConfig.from_mapping({"domain": "example.com", "mask_paths": "reset/*"})


def test_a_deploy_without_a_dashboard_user_explains_and_exits_2() -> None:
    """Before, synth without -c admin_email made a dashboard nobody could sign in to."""
    context = '{"domain": "example.com"}'
    result = subprocess.run(
        [sys.executable, "-m", "cdk.app"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "CDK_CONTEXT_JSON": context},
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "-c admin_email=you@example.com" in result.stderr
    assert "-c hosted_dashboard=false" in result.stderr and "Traceback" not in result.stderr


def test_time_zone_is_checked_at_synth() -> None:
    zoned = OwnstatsConfig.from_mapping(
        {"domain": "example.com", "time_zone": "example.com=Europe/Berlin"}
    )
    assert zoned.time_zone == "example.com=Europe/Berlin"
    assert OwnstatsConfig.from_mapping({"domain": "example.com"}).time_zone == ""
    with pytest.raises(ConfigError, match="-c time_zone: unknown time zone 'Europe/Berln'"):
        OwnstatsConfig.from_mapping({"domain": "example.com", "time_zone": "Europe/Berln"})


def test_funnels_are_checked_at_synth() -> None:
    funnels = '[{"name": "Signup", "steps": ["/pricing", "goal:Signup"]}]'
    config = OwnstatsConfig.from_mapping({"domain": "example.com", "funnels": funnels})
    assert json.loads(config.funnels) == [{"name": "Signup", "steps": ["/pricing", "goal:Signup"]}]
    assert OwnstatsConfig.from_mapping({"domain": "example.com"}).funnels == ""
    for bad in ("[", '[{"name": "x", "steps": ["/a"]}]', '[{"name": "x", "steps": ["a", "b"]}]'):
        with pytest.raises(ConfigError, match="-c funnels"):
            OwnstatsConfig.from_mapping({"domain": "example.com", "funnels": bad})
