"""Least privilege: one role per function, no wildcard actions, an append-only audit trail."""

from __future__ import annotations

import json

import pytest

from infra.declarations import FUNCTIONS, KEYS, TENANT_DATA_ACCESS, Access, function

pytestmark = pytest.mark.infra

DATA_SERVICES = ("dynamodb", "kms", "s3")


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _allow_statements(synthesis):
    for logical_id, (_, policy) in synthesis.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                yield logical_id, statement


def test_no_policy_allows_every_action_or_every_action_of_a_service(synthesis):
    broad = [
        (logical_id, action)
        for logical_id, statement in _allow_statements(synthesis)
        for action in _as_list(statement["Action"])
        if action == "*" or action.endswith(":*")
    ]
    assert broad == []


def test_data_actions_never_apply_to_every_resource(synthesis):
    for logical_id, statement in _allow_statements(synthesis):
        if "*" in _as_list(statement.get("Resource")):
            services = {action.split(":")[0] for action in _as_list(statement["Action"])}
            assert not services & set(DATA_SERVICES), (logical_id, statement["Action"])


def test_each_function_has_its_own_role(synthesis):
    functions = synthesis.resources("AWS::Lambda::Function")
    roles = [resource["Properties"]["Role"]["Fn::GetAtt"][0] for _, resource in functions.values()]
    assert len(functions) == len(FUNCTIONS)
    assert len(set(roles)) == len(roles)
    for logical_id, (_, role) in synthesis.resources("AWS::IAM::Role").items():
        if logical_id in roles:
            assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
                "Service": "lambda.amazonaws.com"
            }
            assert "ManagedPolicyArns" not in role["Properties"], f"{logical_id} has AWS managed policies"


def test_the_audit_table_only_ever_receives_put_item_and_reads(synthesis):
    audit_statements = [
        (logical_id, statement)
        for logical_id, statement in _allow_statements(synthesis)
        if "table/cairn-dev-audit" in json.dumps(statement.get("Resource"))
    ]
    # Nothing may update or delete an audit event: puts, and for readers (AuditEvent) queries.
    allowed = {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:GetItem"}
    for logical_id, statement in audit_statements:
        assert set(_as_list(statement["Action"])) <= allowed, logical_id
    readers = [f for f in FUNCTIONS if f.uses.get("audit") is Access.READ_APPEND]
    assert readers
    assert any("dynamodb:Query" in _as_list(s["Action"]) for _, s in audit_statements)


def test_functions_reach_only_the_tables_they_declare(synthesis):
    functions = synthesis.resources("AWS::Lambda::Function")
    policies = synthesis.resources("AWS::IAM::Policy")
    for _, resource in functions.values():
        declared = function(resource["Properties"]["FunctionName"].removeprefix("cairn-dev-"))
        role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
        document = json.dumps(
            [
                p["Properties"]["PolicyDocument"]
                for _, p in policies.values()
                if {"Ref": role} in p["Properties"]["Roles"]
            ]
        )
        for table in ("clinical", "audit", "tenants"):
            assert (f"table/cairn-dev-{table}" in document) == (table in declared.uses), (
                declared.name,
                table,
            )


def test_tenant_data_key_is_usable_only_with_a_tenant_in_the_encryption_context(synthesis):
    tenant_keys = [key for key in KEYS if key.tenant_context]
    assert tenant_keys
    for key in tenant_keys:
        logical_prefix = f"Keys{key.key.capitalize()}"
        statements = [
            (logical_id, statement)
            for logical_id, statement in _allow_statements(synthesis)
            if logical_prefix in json.dumps(statement.get("Resource"))
        ]
        holders = (*FUNCTIONS, TENANT_DATA_ACCESS)
        users = [f.uses for f in holders if f.uses.get(key.key) is Access.ENCRYPT_DECRYPT]
        assert len(statements) == len(users) > 0
        for logical_id, statement in statements:
            conditions = statement["Condition"]
            required_keys = conditions["ForAnyValue:StringEquals"]
            assert required_keys == {"kms:EncryptionContextKeys": "tenant_id"}, logical_id
            assert conditions["Null"] == {"kms:EncryptionContext:tenant_id": "false"}, logical_id
