"""Isolation in the templates: the tenant data access role (trust, reach, who may assume it) and
per-tier usage plans on every authorized method."""

from __future__ import annotations

import pytest

from cairn import config
from infra.declarations import APIS, FUNCTIONS, TENANT_DATA_ACCESS
from multitenant.tiers import Tier, limits

pytestmark = pytest.mark.infra


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _tenant_data_role(synthesis):
    (found,) = [(logical_id, role) for logical_id, (_, role) in synthesis.resources("AWS::IAM::Role").items()
                if logical_id.startswith("FunctionsTenantDataAccessRole")]
    return found


def _function_roles(synthesis):
    """Function name -> the logical id of its role."""
    roles = {}
    for _, (_, function) in synthesis.resources("AWS::Lambda::Function").items():
        name = function["Properties"]["FunctionName"].removeprefix("cairn-dev-")
        roles[name] = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return roles


def _policies_of(synthesis, role_logical_id):
    for _, (_, policy) in synthesis.resources("AWS::IAM::Policy").items():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            yield from policy["Properties"]["PolicyDocument"]["Statement"]


def test_only_the_declared_functions_roles_may_assume_the_tenant_data_role(synthesis):
    _, role = _tenant_data_role(synthesis)
    roles = _function_roles(synthesis)

    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    principals = _as_list(statement["Principal"]["AWS"])
    assert statement["Action"] == "sts:AssumeRole"
    assert sorted(p["Fn::GetAtt"][0] for p in principals) == sorted(
        roles[name] for name in TENANT_DATA_ACCESS.assumed_by)


def test_exactly_the_trusted_functions_are_granted_assume_role(synthesis):
    role_id, _ = _tenant_data_role(synthesis)
    roles = _function_roles(synthesis)

    for function in FUNCTIONS:
        assumes = [s for s in _policies_of(synthesis, roles[function.name])
                   if "sts:AssumeRole" in _as_list(s["Action"])]
        if function.name in TENANT_DATA_ACCESS.assumed_by:
            assert [s["Resource"] for s in assumes] == [{"Fn::GetAtt": [role_id, "Arn"]}]
        else:
            assert assumes == []


def test_the_trusted_functions_receive_the_role_arn(synthesis):
    role_id, _ = _tenant_data_role(synthesis)

    for _, (_, function) in synthesis.resources("AWS::Lambda::Function").items():
        name = function["Properties"]["FunctionName"].removeprefix("cairn-dev-")
        variables = function["Properties"]["Environment"]["Variables"]
        if name in TENANT_DATA_ACCESS.assumed_by:
            assert variables[config.TENANT_DATA_ROLE_ARN] == {"Fn::GetAtt": [role_id, "Arn"]}
        else:
            assert config.TENANT_DATA_ROLE_ARN not in variables


def test_the_tenant_data_role_reaches_the_declared_data_and_the_data_key_only_with_a_tenant(synthesis):
    role_id, _ = _tenant_data_role(synthesis)
    statements = list(_policies_of(synthesis, role_id))
    actions = {a for s in statements for a in _as_list(s["Action"])}

    assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "s3:GetObject*"} <= actions
    assert "dynamodb:Scan" in actions  # CDK's read grant; the session policy never allows it
    kms_data = [s for s in statements if "kms:GenerateDataKey" in _as_list(s["Action"]) and "Condition" in s
                and "Null" in s["Condition"]]
    assert kms_data
    assert kms_data[0]["Condition"]["Null"] == {"kms:EncryptionContext:tenant_id": "false"}


def test_one_usage_plan_per_tier_and_api_throttled_as_the_tier_says(synthesis):
    plans = {plan["Properties"]["UsagePlanName"]: plan["Properties"]
             for _, (_, plan) in synthesis.resources("AWS::ApiGateway::UsagePlan").items()}
    apis = {api.function for api in APIS if api.authorizer and api.tier_usage_plans}

    assert set(plans) == {f"cairn-dev-{api}-{tier.value}" for api in apis for tier in Tier}

    for tier in Tier:
        plan = plans[f"cairn-dev-fhir-api-{tier.value}"]  # the same throttle on every API
        assert plan["Throttle"] == {"RateLimit": limits(tier).api_rate_per_second,
                                    "BurstLimit": limits(tier).api_burst}
        assert len(plan["ApiStages"]) == 1


def test_tenant_apis_take_api_keys_from_the_authorizer_and_require_one_on_every_authorized_method(synthesis):
    apis = {api["Properties"]["Name"]: (logical_id, api["Properties"])
            for logical_id, (_, api) in synthesis.resources("AWS::ApiGateway::RestApi").items()}
    metered = {f"cairn-dev-{a.function}": a.tier_usage_plans for a in APIS if a.authorizer}
    methods = [m["Properties"] for _, (_, m) in synthesis.resources("AWS::ApiGateway::Method").items()]

    assert any(metered.values())
    for name, tenant_api in metered.items():
        logical_id, api = apis[name]
        assert (api.get("ApiKeySourceType") == "AUTHORIZER") is tenant_api
        for method in methods:
            if method["RestApiId"] == {"Ref": logical_id}:
                authorized = method["AuthorizationType"] == "CUSTOM"
                assert method.get("ApiKeyRequired", False) is (authorized and tenant_api), name
    assert any(m["AuthorizationType"] == "NONE" for m in methods)  # /fhir/R4/metadata stays public
