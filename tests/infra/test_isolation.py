"""Isolation in the templates: the tenant data access role (trust, reach, who may assume it) and
per-tier usage plans on every authorized method."""

from __future__ import annotations

import pytest

from cairn import config
from infra.declarations import APIS, FUNCTIONS, TENANT_DATA_ACCESS, USAGE_KEYS
from infra.nag import flatten_reference
from multitenant import api_authorizer, provisioning, usage_keys
from multitenant.context import Role, TenantContext
from multitenant.tiers import Tier, limits
from multitenant.usage_keys import is_tier_plan, usage_plan_name

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


def test_plan_names_are_the_ones_onboarding_finds_them_by(synthesis):
    plans = {plan["Properties"]["UsagePlanName"]
             for _, (_, plan) in synthesis.resources("AWS::ApiGateway::UsagePlan").items()}
    for tier in Tier:
        tier_plans = {name for name in plans if is_tier_plan(name, "dev", tier)}
        assert tier_plans == {usage_plan_name("dev", api.function, tier) for api in APIS
                              if api.authorizer and api.tier_usage_plans}


def _apigateway_statements(synthesis, function_name):
    role = _function_roles(synthesis)[function_name]
    return [s for s in _policies_of(synthesis, role)
            if any(str(action).startswith("apigateway:") for action in _as_list(s["Action"]))]


def _flat(resource):
    return flatten_reference(resource).replace("<AWS::Partition>", "aws").replace("<AWS::Region>", "r")


def test_only_onboarding_manages_usage_keys_and_only_on_key_and_plan_key_paths(synthesis):
    granted = {}
    for statement in _apigateway_statements(synthesis, "tenant-onboarding"):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            granted.setdefault(action, set()).update(_flat(r) for r in _as_list(statement["Resource"]))

    assert granted == {
        "apigateway:GET": {"arn:aws:apigateway:r::/usageplans", "arn:aws:apigateway:r::/apikeys"},
        "apigateway:POST": {"arn:aws:apigateway:r::/apikeys", "arn:aws:apigateway:r::/usageplans/*/keys"},
        "apigateway:DELETE": {"arn:aws:apigateway:r::/apikeys/*"},
    }
    others = [f.name for f in FUNCTIONS if f.name != "tenant-onboarding"]
    assert all(_apigateway_statements(synthesis, name) == [] for name in others)
    assert [f.name for f in FUNCTIONS if USAGE_KEYS in f.uses] == ["tenant-onboarding"]


def test_the_authorizer_names_the_key_onboarding_creates():
    assert usage_keys.usage_identifier_key is api_authorizer.usage_identifier_key
    assert provisioning.usage_identifier_key is api_authorizer.usage_identifier_key
    assert api_authorizer.allow(TenantContext(tenant_id="acme", role=Role.ADMIN, user_id="u1"),
                                "arn:aws:execute-api:r:a:api/dev/GET/x")["usageIdentifierKey"] == (
        "cairn-tenant-usage-acme")
