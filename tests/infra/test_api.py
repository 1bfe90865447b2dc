"""The REST API serves exactly the Chalice app's routes, every one behind the token authorizer
except the declared public paths."""

from __future__ import annotations

import importlib
import re

import pytest
from aws_cdk.assertions import Match

from infra.components.rest_api import PUBLIC_PATH_REASONS, takes_fhir_resource
from infra.declarations import APIS, USER_POOLS, environment_names, function

pytestmark = pytest.mark.infra


def _resource_paths(synthesis) -> dict[str, str]:
    """logical id of each API resource -> its full path, rebuilt from the parent links."""
    resources = {
        lid: r["Properties"] for lid, (_, r) in synthesis.resources("AWS::ApiGateway::Resource").items()
    }

    def path(logical_id: str) -> str:
        properties = resources[logical_id]
        parent = properties["ParentId"]
        prefix = path(parent["Ref"]) if "Ref" in parent else ""
        return f"{prefix}/{properties['PathPart']}"

    return {logical_id: path(logical_id) for logical_id in resources}


def _rest_api_id(synthesis, api) -> str:
    """The logical id of the REST API serving `api` (named after its function)."""
    (logical_id,) = [lid for lid, (_, r) in synthesis.resources("AWS::ApiGateway::RestApi").items()
                     if r["Properties"]["Name"] == f"cairn-dev-{api.function}"]
    return logical_id


def _methods(synthesis, api) -> dict[str, dict]:
    """logical id -> method resource, for the methods of `api`'s REST API only."""
    rest_api_id = _rest_api_id(synthesis, api)
    return {lid: m for lid, (_, m) in synthesis.resources("AWS::ApiGateway::Method").items()
            if m["Properties"]["RestApiId"] == {"Ref": rest_api_id}}


def test_methods_are_exactly_the_chalice_routes(synthesis):
    for api in APIS:
        app = importlib.import_module(api.app_module).app
        expected = {(path, method) for path, methods in app.routes.items() for method in methods}
        paths = _resource_paths(synthesis)
        served = {(paths[m["Properties"]["ResourceId"]["Ref"]], m["Properties"]["HttpMethod"])
                  for m in _methods(synthesis, api).values()}
        assert served == expected, api.function


def test_every_method_but_the_declared_public_paths_uses_the_token_authorizer_and_the_validator(synthesis):
    synthesis.template("Api").has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {"Type": "TOKEN", "IdentitySource": "method.request.header.Authorization"},
    )
    authorizers = synthesis.resources("AWS::ApiGateway::Authorizer")
    paths = _resource_paths(synthesis)
    public = set()
    for api in APIS:
        rest_api_id = _rest_api_id(synthesis, api)
        authorizer_ids = [lid for lid, (_, a) in authorizers.items()
                          if a["Properties"]["RestApiId"] == {"Ref": rest_api_id}]
        assert len(authorizer_ids) == (1 if api.authorizer else 0), api.function
        for logical_id, method in _methods(synthesis, api).items():
            properties = method["Properties"]
            path = paths[properties["ResourceId"]["Ref"]]
            if path in api.public_paths:
                public.add((path, properties["HttpMethod"]))
                assert properties["AuthorizationType"] == "NONE", logical_id
                assert "AuthorizerId" not in properties, logical_id
            else:
                assert properties["AuthorizationType"] == "CUSTOM", logical_id
                assert properties["AuthorizerId"] == {"Ref": authorizer_ids[0]}, logical_id
            assert "RequestValidatorId" in properties, logical_id
            assert properties["Integration"]["Type"] == "AWS_PROXY", logical_id
    assert public == {("/fhir/R4/metadata", "GET"), ("/webhooks/stripe", "POST"), ("/billing/signup", "POST")}


def _acknowledged(resource: dict) -> dict[str, str]:
    """The cdk-nag rules acknowledged in a resource's Metadata: rule id -> reason."""
    rules = resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    return {rule["id"]: rule["reason"] for rule in rules}


def test_only_the_public_methods_acknowledge_missing_authorization_and_say_why(synthesis):
    paths = _resource_paths(synthesis)
    for api in APIS:
        for logical_id, method in _methods(synthesis, api).items():
            rules = _acknowledged(method)
            path = paths[method["Properties"]["ResourceId"]["Ref"]]
            if path in api.public_paths:
                assert rules["AwsSolutions-APIG4"] == PUBLIC_PATH_REASONS[path], logical_id
                assert rules["AwsSolutions-COG4"] == PUBLIC_PATH_REASONS[path], logical_id
            else:
                assert "AwsSolutions-APIG4" not in rules, logical_id
                assert "TOKEN authorizer" in rules["AwsSolutions-COG4"], logical_id
    # Only an API declared without an authorizer (every route public, e.g. a signed webhook) says so.
    unauthorized = {_rest_api_id(synthesis, api) for api in APIS if api.authorizer is None}
    for logical_id, (_, rest_api) in synthesis.resources("AWS::ApiGateway::RestApi").items():
        if logical_id not in unauthorized:
            assert not {"AwsSolutions-APIG4", "AwsSolutions-COG4"} & set(_acknowledged(rest_api)), logical_id


def test_path_parameters_are_required_and_fhir_bodies_are_validated(synthesis):
    paths = _resource_paths(synthesis)
    for api in APIS:
        for method in _methods(synthesis, api).values():
            properties = method["Properties"]
            path = paths[properties["ResourceId"]["Ref"]]
            required = {f"method.request.path.{p}": True for p in re.findall(r"\{(\w+)\}", path)}
            assert properties.get("RequestParameters", {}) == required
            method_name = properties["HttpMethod"]
            if takes_fhir_resource(path, method_name):
                expected = [kind for kind in _content_types(api, path, method_name) if kind.endswith("json")]
                assert set(properties["RequestModels"]) == set(expected)
            else:
                assert "RequestModels" not in properties, (method_name, path)


def _content_types(api, path: str, method: str) -> list[str]:
    return importlib.import_module(api.app_module).app.routes[path][method].content_types


def test_stage_traces_throttles_and_logs_access_without_bodies(synthesis):
    synthesis.template("Api").has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "dev",
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": [
                Match.object_like(
                    {
                        "DataTraceEnabled": False,
                        "ThrottlingRateLimit": Match.any_value(),
                        "ThrottlingBurstLimit": Match.any_value(),
                        "LoggingLevel": Match.any_value(),
                    }
                )
            ],
        },
    )
    synthesis.template("Api").resource_count_is("AWS::WAFv2::WebACLAssociation", len(APIS))
    synthesis.template("Api").resource_count_is("AWS::WAFv2::LoggingConfiguration", len(APIS))


def test_user_pool_is_admin_only_mfa_required_and_clients_cannot_write_tenant_attributes(synthesis):
    (pool,) = USER_POOLS
    synthesis.template("Api").has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "MfaConfiguration": "ON",
            "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
            "UserPoolTier": "PLUS",
            "Schema": [Match.object_like({"Name": name}) for name in pool.custom_attributes],
        },
    )
    (client,) = [c for _, c in synthesis.resources("AWS::Cognito::UserPoolClient").values()]
    assert not [a for a in client["Properties"]["WriteAttributes"] if a.startswith("custom:")]
    assert {f"custom:{name}" for name in pool.custom_attributes} <= set(
        client["Properties"]["ReadAttributes"]
    )


def test_functions_receive_exactly_their_declared_environment(synthesis):
    for _, (_, resource) in synthesis.resources("AWS::Lambda::Function").items():
        properties = resource["Properties"]
        declared = function(properties["FunctionName"].removeprefix("cairn-dev-"))
        variables = properties["Environment"]["Variables"]
        cairn = {name for name in variables if name.startswith("CAIRN_")}
        assert cairn == set(environment_names(declared)), declared.name
        assert variables["POWERTOOLS_SERVICE_NAME"] == declared.name
        assert properties["Handler"] == declared.handler
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert len(properties["Layers"]) == 2


def test_session_limits_come_from_the_declaration_and_sign_out_revokes(synthesis):
    (pool,) = USER_POOLS
    synthesis.template("Api").has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {
            "IdTokenValidity": pool.sessions.id_token_minutes,
            "AccessTokenValidity": pool.sessions.access_token_minutes,
            "RefreshTokenValidity": pool.sessions.refresh_token_hours * 60,
            "TokenValidityUnits": {"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "minutes"},
            "AuthSessionValidity": pool.sessions.auth_session_minutes,
            "EnableTokenRevocation": True,
        },
    )
    assert pool.sessions.id_token_minutes <= 15
    assert pool.sessions.refresh_token_hours <= 12


def test_user_admin_may_administer_exactly_the_user_pool_and_append_audit(synthesis):
    policies = synthesis.resources("AWS::IAM::Policy")
    (policy,) = [p for lid, (_, p) in policies.items() if lid.startswith("FunctionsuseradminRole")]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    cognito = [s for s in statements if any(a.startswith("cognito-idp:") for a in _actions(s))]
    (pool_id,) = synthesis.resources("AWS::Cognito::UserPool")
    assert cognito
    assert all(s["Resource"] == {"Fn::GetAtt": [pool_id, "Arn"]} for s in cognito)
    dynamodb = {a for s in statements for a in _actions(s) if a.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:PutItem"}


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions
