"""Reminders' grants: who may start and stop the reminders machine (its executions only), and
SES/SNS only for a stage that delivers through AWS: email from its sender identity, SMS to
phone numbers and never to a topic. The outbox stages (dev) get neither."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from cairn import config
from infra.components.catalog import DataCatalog
from infra.declarations import FUNCTIONS, KEYS, MESSAGING, Access
from infra.nag import acknowledge_grant_wildcards
from infra.stage import StageConfig

pytestmark = pytest.mark.infra

SENDER = "reminders@clinic.example"


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_only_the_declared_functions_start_and_stop_reminders_and_only_its_executions(synthesis):
    statements = [s for template in synthesis.templates.values() for s in _statements(template)]
    stops = [s for s in statements if "states:StopExecution" in _actions(s)
             and "-reminders:" in json.dumps(s["Resource"])]
    stoppers = sorted(f.name for f in FUNCTIONS if f.uses.get("reminders") is Access.START_STOP)

    assert stoppers == ["fhir-api", "reminders-api"]
    assert len(stops) == len(stoppers)
    for statement in stops:
        assert sorted(_actions(statement)) == ["states:DescribeExecution", "states:StopExecution"]
        assert ":execution:cairn-dev-reminders:*" in json.dumps(statement["Resource"])


def test_an_outbox_stage_grants_no_email_or_text_and_says_so_to_the_functions(synthesis):
    statements = [s for template in synthesis.templates.values() for s in _statements(template)]
    functions = {
        resource["Properties"]["FunctionName"]: resource["Properties"]["Environment"]["Variables"]
        for _, resource in synthesis.resources("AWS::Lambda::Function").values()
    }

    assert not [a for s in statements for a in _actions(s) if a.startswith(("ses:", "sns:"))]
    assert functions["cairn-dev-reminders"][config.MESSAGE_DELIVERY] == "outbox"
    assert functions["cairn-dev-reminders-api"][config.MESSAGE_DELIVERY] == "outbox"


@pytest.fixture(scope="module")
def aws_delivery() -> tuple[cdk.App, dict[str, Any]]:
    """A stage delivering through SES and SNS: a role granted what the reminders function uses."""
    app = cdk.App()
    stack = cdk.Stack(app, "Messaging")
    stage = StageConfig.from_context("prod", {"prod": {"message_delivery": "aws", "message_sender": SENDER}})
    keys = {declared.key: kms.Key(stack, f"Key{declared.key}", enable_key_rotation=True) for declared in KEYS}
    catalog = DataCatalog(stack, "Data", stage=stage, keys=keys)
    role = iam.Role(stack, "Reminders", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    catalog.grant(role, {MESSAGING: Access.SEND})
    acknowledge_grant_wildcards(stack)
    return app, Template.from_stack(stack).to_json()


def test_email_may_come_from_the_stages_sender_only(aws_delivery):
    _, template = aws_delivery
    [ses] = [s for s in _statements(template) if "ses:SendEmail" in _actions(s)]

    assert _actions(ses) == ["ses:SendEmail"]
    assert ses["Condition"] == {"StringEquals": {"ses:FromAddress": SENDER}}
    resources = json.dumps(ses["Resource"])
    assert f"identity/{SENDER}" in resources
    assert "identity/clinic.example" in resources


def test_texts_go_to_phone_numbers_only(aws_delivery):
    _, template = aws_delivery
    publishes = [s for s in _statements(template) if "sns:Publish" in _actions(s)]

    assert sorted((s["Effect"], json.dumps(s["Resource"])) for s in publishes) == [
        ("Allow", '"*"'),
        ("Deny", '{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sns:*:*:*"]]}'),
    ]


def test_the_one_wildcard_is_acknowledged_with_its_reason(aws_delivery):
    app, _ = aws_delivery
    findings = [
        v
        for v in AwsSolutionsChecks().validate_scope(app).violations
        if v.rule_name.startswith("AwsSolutions-IAM5")
    ]

    assert findings == []


def test_a_stage_that_delivers_through_aws_must_name_its_sender():
    with pytest.raises(ValueError, match="message_delivery is one of outbox, aws"):
        StageConfig.from_context("prod", {"prod": {"message_delivery": "ses"}})
