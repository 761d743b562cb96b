"""Shared types of the CDK tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk.assertions import Template

from cdk.config import OwnstatsConfig


@dataclass(frozen=True)
class Synth:
    """What the tests read: the stack, its template (assertions + raw JSON), the assembly."""

    stack: cdk.Stack
    template: Template
    json: dict[str, Any]
    outdir: Path
    config: OwnstatsConfig
    asset_dir: Path

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == cfn_type}
