"""The HIPAA Security and AWS Solutions packs pass, and every acknowledgement says why."""

from __future__ import annotations

import pytest
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks

pytestmark = pytest.mark.infra

NAG_PACKS = {"AwsSolutions", "HIPAA.Security"}


def test_synthesis_passes_policy_validation(synthesis):
    assert synthesis.validation_error is None, _findings(synthesis)


def test_nag_packs_report_no_unacknowledged_finding(synthesis):
    # Packs without findings are left out of CDK's report, so the packs also run directly here.
    reported = [p for p in synthesis.validation_report()["pluginReports"] if p["pluginName"] in NAG_PACKS]
    assert all(not report["violations"] for report in reported), _findings(synthesis)
    for pack in (AwsSolutionsChecks(), HIPAASecurityChecks()):
        result = pack.validate_scope(synthesis.app)
        findings = [
            (v.rule_name, [r.construct_path for r in v.violating_resources]) for v in result.violations
        ]
        assert findings == [], f"{pack.name}: {findings}"


def test_every_acknowledgement_is_written_into_the_template_with_a_reason(synthesis):
    acknowledged = {}
    for template in synthesis.templates.values():
        for resource in template["Resources"].values():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                acknowledged[rule["id"]] = rule["reason"]
    assert acknowledged, "no acknowledgement reached template Metadata: is the nag pack applied?"
    short = {rule: reason for rule, reason in acknowledged.items() if len(reason) < 40}
    assert short == {}


def _findings(synthesis) -> str:
    lines = []
    for report in synthesis.validation_report()["pluginReports"]:
        for violation in report["violations"]:
            paths = [c["constructPath"] for c in violation["violatingConstructs"]]
            lines.append(f"{report['pluginName']} {violation['severity']} {violation['ruleName']}: {paths}")
    return "\n".join(lines)
