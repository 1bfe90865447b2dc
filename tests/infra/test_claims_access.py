"""Claims' grants: only the functions that hand answers to waiting claim workflows may answer
task tokens, and only those of the claims state machine; the clearinghouse inbox function holds
no data key (it reads no FHIR record) and reaches its inbox and the documents bucket only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.declarations import FUNCTIONS, Access

pytestmark = pytest.mark.infra

TOKEN_ACTIONS = ["states:SendTaskFailure", "states:SendTaskHeartbeat", "states:SendTaskSuccess"]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_only_the_declared_functions_answer_task_tokens_and_only_the_claims_machines(synthesis):
    statements = [s for template in synthesis.templates.values() for s in _statements(template)]
    answering = [s for s in statements if any(a.startswith("states:SendTask") for a in _actions(s))]
    resumers = sorted(f.name for f in FUNCTIONS if f.uses.get("claims") is Access.RESUME)

    assert resumers == ["claims", "clearinghouse-inbox"]
    assert len(answering) == len(resumers)
    for statement in answering:
        assert sorted(_actions(statement)) == TOKEN_ACTIONS
        assert json.dumps(statement["Resource"]).endswith(':stateMachine:cairn-dev-claims"]]}')


def test_the_inbox_function_holds_no_data_key(synthesis):
    inbox = next(f for f in FUNCTIONS if f.name == "clearinghouse-inbox")
    assert "data" not in inbox.uses
    functions = {
        resource["Properties"]["FunctionName"]: resource["Properties"]["Environment"]["Variables"]
        for _, resource in synthesis.resources("AWS::Lambda::Function").values()
    }
    assert "CAIRN_DATA_KEY_ID" not in functions["cairn-dev-clearinghouse-inbox"]
