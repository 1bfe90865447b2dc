"""State machines: definitions fully substituted, traced, logged, allowed what they declare."""

from __future__ import annotations

import re

import pytest

from infra.declarations import STATE_MACHINES

pytestmark = pytest.mark.infra

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def test_every_placeholder_of_every_definition_is_substituted(synthesis):
    machines = synthesis.resources("AWS::StepFunctions::StateMachine")
    assert len(machines) == len(STATE_MACHINES)
    for logical_id, (_, machine) in machines.items():
        properties = machine["Properties"]
        placeholders = set(PLACEHOLDER.findall(str(properties["DefinitionString"])))
        assert placeholders, f"{logical_id}: no placeholders; is the definition inline?"
        assert placeholders <= set(properties.get("DefinitionSubstitutions", {})), logical_id


def test_state_machines_trace_and_log_everything_but_execution_data(synthesis):
    for logical_id, (_, machine) in synthesis.resources("AWS::StepFunctions::StateMachine").items():
        properties = machine["Properties"]
        assert properties["TracingConfiguration"] == {"Enabled": True}, logical_id
        assert properties["LoggingConfiguration"]["Level"] == "ALL", logical_id
        assert properties["LoggingConfiguration"]["IncludeExecutionData"] is False, logical_id


def test_state_machines_may_invoke_only_their_declared_functions(synthesis):
    policies = [p for _, p in synthesis.resources("AWS::IAM::Policy").values()]
    invoked = {
        str(statement["Resource"])
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "lambda:InvokeFunction"
    }
    declared = {name for machine in STATE_MACHINES for name in machine.invokes}
    for resources in invoked:
        assert any(f"function:cairn-dev-{name}" in resources for name in declared), resources
