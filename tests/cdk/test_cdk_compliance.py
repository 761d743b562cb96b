"""The template passes cfn-lint and cdk-nag's AwsSolutions checks."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Annotations, Match
from cdk_support import Synth
from cfnlint.api import ManualArgs, lint

pytestmark = pytest.mark.cdk


def test_cfn_lint_finds_no_errors(synth: Synth) -> None:
    template = json.dumps(synth.json)
    matches = lint(template, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    errors = [f"{m.rule.id} {m.message} @ {'/'.join(map(str, m.path))}" for m in matches
              if m.rule.id.startswith("E")]  # fmt: skip
    assert errors == []


def test_cdk_nag_passes_with_every_acknowledgment_explained(synth: Synth) -> None:
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    acknowledged = nag.get("suppressedViolations", [])
    assert acknowledged, "expected the documented acknowledgments (S1, CFR1, CFR2, …)"
    for finding in acknowledged:
        assert len(finding["reason"]) >= 40, finding["acknowledgedId"]
    rules = {f["ruleName"].split("[")[0] for f in acknowledged}
    # only these rules are accepted, each for a reason written next to the resource
    assert rules <= {
        "AwsSolutions-S1",
        "AwsSolutions-CFR1",
        "AwsSolutions-CFR2",
        "AwsSolutions-CFR4",
        "AwsSolutions-IAM5",
        "AwsSolutions-SQS3",
        "AwsSolutions-L1",
        "AwsSolutions-COG8",  # Cognito Essentials, not the paid Plus plan (cdk/dashboard.py)
        "AwsSolutions-APIG4",  # the Stats API route: API keys checked by the function
    }


def test_no_unacknowledged_annotations(synth: Synth) -> None:
    annotations = Annotations.from_stack(synth.stack)
    assert annotations.find_error("*", Match.any_value()) == []
    warnings = annotations.find_warning("*", Match.any_value())
    assert [w.entry.data for w in warnings] == []
