"""The tenant-onboarding workflow, run by the embedded runtime: the real ASL, the real task
handler, moto's KMS, DynamoDB, Cognito and API Gateway (the tenant's API key in its tier's
plans). Success, idempotent re-runs, compensation that leaves
nothing half-made, and the refusals (duplicate id, unknown tier, email in use)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cairn.aws import AwsClients
from cairn.crypto.keyring import CURRENT_KEY_SK, keyring_pk
from cairn.note_templates import DEFAULT_TEMPLATES
from devkit import cli, seed
from devkit.deployment import Deployment
from devkit.tenants import TenantOperations
from functions.operator_api import app as operator_app
from infra.declarations import APIS
from multitenant.context import Role, TenantContext
from multitenant.errors import InvalidOnboardingRequest, TenantAlreadyExists
from multitenant.lifecycle import TenantStatus
from multitenant.onboarding import DEFAULT_SETTINGS, OnboardingRequest
from multitenant.provisioning import (
    ApiGatewayUsageKeys,
    ControlPlaneSettings,
    DynamoTenantSettings,
    OnboardingLauncher,
    build_onboarding,
    group_name,
)
from multitenant.registry import DynamoTenantRegistry
from multitenant.tiers import Tier
from multitenant.usage_keys import usage_identifier_key, usage_plan_name
from tests.integration.clinical.support import LambdaContext


@pytest.fixture(scope="module")
def registry(clients: AwsClients, deployment: Deployment) -> DynamoTenantRegistry:
    return DynamoTenantRegistry(clients.dynamodb(), deployment.tables["tenants"])


def _request(tenant_id: str, **overrides: str) -> dict[str, str]:
    return {"request_id": f"req-{uuid.uuid4().hex[:10]}", "tenant_id": tenant_id, "name": "Riverbend Clinic",
            "tier": "practice", "admin_email": f"admin@{tenant_id}.example", **overrides}


def _run(clients: AwsClients, deployment: Deployment, request: dict[str, str]) -> dict[str, Any]:
    """Run the workflow with `request` under a fresh execution name; wait for its end."""
    execution = clients.stepfunctions().start_execution(
        stateMachineArn=deployment.state_machines["tenant-onboarding"],
        name=f"test-{uuid.uuid4().hex[:12]}", input=json.dumps({"request": request}))
    return seed.wait_for_execution(clients, execution["executionArn"], time.monotonic() + 120)


def _user_tenant(clients: AwsClients, deployment: Deployment, email: str) -> str | None:
    cognito = clients.cognito()
    try:
        user = cognito.admin_get_user(UserPoolId=deployment.user_pools["clinic"].id, Username=email)
    except cognito.exceptions.UserNotFoundException:
        return None
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}.get("custom:tenant_id")


def _groups(clients: AwsClients, deployment: Deployment) -> set[str]:
    listed = clients.cognito().list_groups(UserPoolId=deployment.user_pools["clinic"].id, Limit=60)
    return {group["GroupName"] for group in listed["Groups"]}


def _has_data_key(clients: AwsClients, deployment: Deployment, tenant_id: str) -> bool:
    found = clients.dynamodb().get_item(TableName=deployment.tables["clinical"], Key={
        "pk": {"S": keyring_pk(tenant_id)}, "sk": {"S": CURRENT_KEY_SK}})
    return "Item" in found


def _settings(clients: AwsClients, deployment: Deployment, tenant_id: str) -> dict[str, Any] | None:
    return DynamoTenantSettings(clients.dynamodb(), deployment.tables["clinical"]).get(tenant_id)


def _usage_keys(clients: AwsClients, deployment: Deployment) -> ApiGatewayUsageKeys:
    return ApiGatewayUsageKeys(clients.client("apigateway"), deployment.stage)


def _keys_named(clients: AwsClients, tenant_id: str) -> list[dict[str, Any]]:
    """Every API key named for `tenant_id`, with its value."""
    listed = clients.client("apigateway").get_api_keys(limit=500, includeValues=True)["items"]
    return [key for key in listed if key["name"] == usage_identifier_key(tenant_id)]


def _plans_holding(clients: AwsClients, key_id: str) -> set[str]:
    """The names of the usage plans that hold API key `key_id`."""
    apigateway = clients.client("apigateway")
    return {plan["name"] for plan in apigateway.get_usage_plans(limit=500)["items"]
            if any(key["id"] == key_id for key in
                   apigateway.get_usage_plan_keys(usagePlanId=plan["id"], limit=500)["items"])}


def _tenant_facing_plans(deployment: Deployment, tier: Tier) -> set[str]:
    return {usage_plan_name(deployment.stage, api.function, tier) for api in APIS if api.tier_usage_plans}


def test_onboarding_makes_an_active_tenant_with_key_group_admin_and_settings(
    clients: AwsClients, deployment: Deployment, registry: DynamoTenantRegistry
) -> None:
    request = _request("riverbend")

    result = _run(clients, deployment, request)

    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["tenant"]["status"] == "active"
    tenant = registry.get("riverbend")
    assert tenant is not None
    assert (tenant.status, tenant.tier.value, tenant.onboarding_request_id) == (
        TenantStatus.ACTIVE, "practice", request["request_id"])
    assert _has_data_key(clients, deployment, "riverbend")
    assert group_name("riverbend") in _groups(clients, deployment)
    assert _user_tenant(clients, deployment, "admin@riverbend.example") == "riverbend"
    assert _settings(clients, deployment, "riverbend") == dict(DEFAULT_SETTINGS)
    # The default note templates (SOAP, annual wellness visit, ...), as the clinic's Questionnaires.
    assert _questionnaires(clients, deployment, "riverbend") == len(DEFAULT_TEMPLATES)
    # Its API key: the value the authorizer names, in the practice plan of each tenant-facing API.
    (key,) = _keys_named(clients, "riverbend")
    assert key["value"] == usage_identifier_key("riverbend") == "cairn-tenant-usage-riverbend"
    assert key["enabled"]
    assert _plans_holding(clients, key["id"]) == _tenant_facing_plans(deployment, Tier.PRACTICE)


def _questionnaires(clients: AwsClients, deployment: Deployment, tenant: str) -> int:
    response = clients.dynamodb().query(
        TableName=deployment.tables["clinical"], IndexName="by_type", Select="COUNT",
        KeyConditionExpression="type_key = :key",
        ExpressionAttributeValues={":key": {"S": f"{tenant}#Questionnaire"}})
    return int(response["Count"])


def test_rerunning_the_same_request_gives_the_same_tenant_and_duplicates_nothing(
    clients: AwsClients, deployment: Deployment, registry: DynamoTenantRegistry
) -> None:
    request = _request("lakeside")
    first = _run(clients, deployment, request)
    wrapped_key = clients.dynamodb().get_item(TableName=deployment.tables["clinical"], Key={
        "pk": {"S": keyring_pk("lakeside")}, "sk": {"S": CURRENT_KEY_SK}})["Item"]

    again = _run(clients, deployment, request)

    assert first["status"] == again["status"] == "SUCCEEDED", again
    assert json.loads(again["output"]) == json.loads(first["output"])
    assert [t.tenant_id for t in registry.list()].count("lakeside") == 1
    assert _questionnaires(clients, deployment, "lakeside") == len(DEFAULT_TEMPLATES)
    (key,) = _keys_named(clients, "lakeside")  # one key, reused by the re-run
    assert _plans_holding(clients, key["id"]) == _tenant_facing_plans(deployment, Tier.PRACTICE)
    assert clients.dynamodb().get_item(TableName=deployment.tables["clinical"], Key={
        "pk": {"S": keyring_pk("lakeside")}, "sk": {"S": CURRENT_KEY_SK}})["Item"] == wrapped_key


def test_a_failure_part_way_is_compensated_and_leaves_nothing_half_made(
    clients: AwsClients, deployment: Deployment, registry: DynamoTenantRegistry
) -> None:
    # The invitation fails after registration, the data key and the group were made.
    taken = _run(clients, deployment, _request("hilltop", admin_email="shared@clinics.example"))
    assert taken["status"] == "SUCCEEDED", taken

    result = _run(clients, deployment, _request("valley", admin_email="shared@clinics.example"))

    assert result["status"] == "FAILED"
    assert result["error"] == "AdminEmailInUse"
    assert "invite a different address" in result["cause"]
    assert registry.get("valley") is None
    assert not _has_data_key(clients, deployment, "valley")
    assert group_name("valley") not in _groups(clients, deployment)
    assert _settings(clients, deployment, "valley") is None
    assert _keys_named(clients, "valley") == []
    # The other tenant's admin is untouched by the compensation.
    assert _user_tenant(clients, deployment, "shared@clinics.example") == "hilltop"


def test_compensation_after_the_usage_key_step_deletes_the_key_it_made(
    clients: AwsClients, deployment: Deployment, registry: DynamoTenantRegistry, endpoint: str
) -> None:
    environment = {**deployment.function_environments["tenant-onboarding"], "AWS_ENDPOINT_URL": endpoint}
    steps = build_onboarding(ControlPlaneSettings.from_environ(environment), clients)
    request = OnboardingRequest.parse(_request("birchwood", tier="enterprise"))
    for step in (steps.register, steps.provision_encryption, steps.create_identity_group, steps.invite_admin,
                 steps.write_default_settings, steps.issue_usage_key, steps.issue_usage_key):
        step(request)
    (key,) = _keys_named(clients, "birchwood")
    assert _plans_holding(clients, key["id"]) == _tenant_facing_plans(deployment, Tier.ENTERPRISE)

    assert steps.compensate(request)  # e.g. activation failed

    assert _keys_named(clients, "birchwood") == []
    assert _usage_keys(clients, deployment).key_id("birchwood") is None
    assert registry.get("birchwood") is None


def test_another_request_for_a_taken_tenant_id_is_refused_and_the_tenant_untouched(
    clients: AwsClients, deployment: Deployment, registry: DynamoTenantRegistry
) -> None:
    assert _run(clients, deployment, _request("summit"))["status"] == "SUCCEEDED"
    before = registry.get("summit")

    result = _run(clients, deployment, _request("summit", admin_email="intruder@elsewhere.example"))

    assert result["status"] == "FAILED"
    assert result["error"] == "TenantAlreadyExists"
    assert "choose another id" in result["cause"]
    assert registry.get("summit") == before
    assert _has_data_key(clients, deployment, "summit")
    assert group_name("summit") in _groups(clients, deployment)
    assert _user_tenant(clients, deployment, "intruder@elsewhere.example") is None
    assert len(_keys_named(clients, "summit")) == 1


def test_an_unknown_tier_is_refused_before_anything_is_made(
    clients: AwsClients, deployment: Deployment, registry: DynamoTenantRegistry
) -> None:
    result = _run(clients, deployment, _request("meadow", tier="platinum"))

    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidOnboardingRequest"
    assert "unknown tier 'platinum'" in result["cause"]
    assert registry.get("meadow") is None
    assert not _has_data_key(clients, deployment, "meadow")
    assert group_name("meadow") not in _groups(clients, deployment)


def test_the_launcher_starts_a_request_once_and_refuses_bad_input_before_starting(
    clients: AwsClients, deployment: Deployment, registry: DynamoTenantRegistry
) -> None:
    machine = deployment.state_machines["tenant-onboarding"]
    launcher = OnboardingLauncher(clients.stepfunctions(), machine, registry)
    request = _request("orchard")

    first = launcher.start(request)
    seed.wait_for_execution(clients, first.execution_arn, time.monotonic() + 120)
    again = launcher.start(request)

    assert first.started
    assert not again.started
    assert (again.execution_arn, again.status) == (first.execution_arn, "SUCCEEDED")
    with pytest.raises(TenantAlreadyExists):
        launcher.start(_request("orchard"))
    with pytest.raises(InvalidOnboardingRequest, match="unknown tier"):
        launcher.start(_request("grove", tier="gold"))
    assert registry.get("grove") is None


def _printed(out: str) -> dict[str, Any]:
    """The JSON document a command printed last (in-process Lambdas print metrics lines too)."""
    lines = out.splitlines()
    start = max(index for index, line in enumerate(lines) if line == "{")
    end = min(index for index, line in enumerate(lines) if line == "}" and index > start)
    printed: dict[str, Any] = json.loads("\n".join(lines[start:end + 1]))
    return printed


def test_cairn_tenant_commands_create_list_show_suspend_and_reactivate(
    deployment: Deployment, tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment.write(tmp_path)  # type: ignore[arg-type]
    base = ["tenant", "--state-dir", str(tmp_path)]
    create = [*base, "create", "cedar", "--name", "Cedar Family Practice", "--tier", "starter",
              "--admin-email", "admin@cedar.example"]

    assert cli.main(create) == 0
    created = _printed(capsys.readouterr().out)
    assert cli.main(create) == 0  # the same command again is the same request
    again = _printed(capsys.readouterr().out)
    assert cli.main([*base, "suspend", "cedar", "--reason", "unpaid invoice"]) == 0
    suspended = _printed(capsys.readouterr().out)
    assert cli.main([*base, "list"]) == 0
    listed = capsys.readouterr().out
    assert cli.main([*base, "reactivate", "cedar", "--reason", "paid"]) == 0
    assert cli.main([*base, "show", "cedar"]) == 0
    shown = _printed(capsys.readouterr().out)

    assert created["status"] == "SUCCEEDED"
    assert (again["execution_arn"], again["started"]) == (created["execution_arn"], False)
    assert (suspended["status"], suspended["status_reason"]) == ("suspended", "unpaid invoice")
    assert any(line.split()[:3] == ["cedar", "suspended", "starter"] for line in listed.splitlines())
    assert (shown["status"], shown["version"]) == ("active", 4)  # pending, active, suspended, active


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["create", "pine", "--name", "Pine", "--tier", "gold", "--admin-email", "a@pine.example"],
      "unknown tier 'gold'"),
     (["show", "nowhere"], "no tenant 'nowhere'"),
     (["reactivate", "nowhere", "--reason", "x"], "no tenant 'nowhere'")],
)
def test_cairn_tenant_refusals_say_what_to_fix(
    deployment: Deployment, tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
    arguments: list[str], message: str,
) -> None:
    deployment.write(tmp_path)  # type: ignore[arg-type]

    assert cli.main(["tenant", "--state-dir", str(tmp_path), *arguments]) == 1
    assert message in capsys.readouterr().err


def test_suspending_a_cancelled_tenant_is_refused_with_the_allowed_changes(
    clients: AwsClients, deployment: Deployment, tmp_path: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(clients, deployment, _request("birch"))["status"] == "SUCCEEDED"
    operations = TenantOperations.for_deployment(deployment)
    operations._change("birch", TenantStatus.CANCELLED, "closed")
    deployment.write(tmp_path)  # type: ignore[arg-type]

    assert cli.main(["tenant", "--state-dir", str(tmp_path), "suspend", "birch", "--reason", "x"]) == 1
    assert "cannot become suspended (allowed from cancelled: active, deleted)" in capsys.readouterr().err


# The operator API, served in-process with the environment the embedded runtime gives it.

OPERATOR = {"operator": "true", "sub": "op-7"}


@pytest.fixture
def operator_api(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in deployment.function_environments["operator-api"].items():
        monkeypatch.setenv(name, value)
    operator_app.runtime.cache_clear()
    yield operator_app
    operator_app.runtime.cache_clear()


def _operator_call(api: Any, method: str, path: str, authorizer: dict[str, str],
                   body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    route, parameters = _route_of(api, method, path)
    event = {
        "resource": route, "path": path, "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Host": "ops.example.test"},
        "multiValueHeaders": None, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": parameters or None, "stageVariables": None, "isBase64Encoded": False,
        "body": json.dumps(body) if body is not None else None,
        "requestContext": {"resourcePath": route, "httpMethod": method, "requestId": "op-req",
                           "stage": "test", "path": f"/test{path}", "domainName": "ops.example.test",
                           "authorizer": authorizer},
    }
    response = api.app(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def _route_of(api: Any, method: str, path: str) -> tuple[str, dict[str, str]]:
    """The app's route template matching `path`, and its path parameters."""
    for template, methods in api.app.routes.items():
        if method not in methods:
            continue
        names = template.strip("/").split("/")
        parts = path.strip("/").split("/")
        if len(names) != len(parts):
            continue
        pairs = list(zip(names, parts, strict=True))
        if all(name == part or name.startswith("{") for name, part in pairs):
            return template, {name[1:-1]: part for name, part in pairs if name.startswith("{")}
    raise AssertionError(f"no route for {method} {path}")


def test_an_operator_onboards_lists_shows_suspends_and_reactivates_through_the_api(
    clients: AwsClients, operator_api: Any
) -> None:
    request = _request("aspen")

    started_status, started = _operator_call(operator_api, "POST", "/operator/tenants", OPERATOR, request)
    ended = seed.wait_for_execution(clients, started["execution_arn"], time.monotonic() + 120)
    again_status, again = _operator_call(operator_api, "POST", "/operator/tenants", OPERATOR, request)
    listed = _operator_call(operator_api, "GET", "/operator/tenants", OPERATOR)[1]
    suspended = _operator_call(operator_api, "POST", "/operator/tenants/aspen/suspend", OPERATOR,
                               {"reason": "chargeback"})
    twice = _operator_call(operator_api, "POST", "/operator/tenants/aspen/suspend", OPERATOR,
                           {"reason": "again"})
    reactivated = _operator_call(operator_api, "POST", "/operator/tenants/aspen/reactivate", OPERATOR,
                                 {"reason": "resolved"})
    shown = _operator_call(operator_api, "GET", "/operator/tenants/aspen", OPERATOR)

    assert (started_status, started["started"], ended["status"]) == (202, True, "SUCCEEDED")
    assert (again_status, again["execution_arn"], again["started"]) == (202, started["execution_arn"], False)
    assert "aspen" in [tenant["tenant_id"] for tenant in listed["tenants"]]
    assert (suspended[0], suspended[1]["status"]) == (200, "suspended")
    assert (twice[0], twice[1]["error"]) == (409, "invalid-transition")
    assert (reactivated[0], reactivated[1]["status"]) == (200, "active")
    assert (shown[0], shown[1]["status"], shown[1]["version"]) == (200, "active", 4)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [("POST", "/operator/tenants", {"tenant_id": "x"}, 400, "unknown tier"),
     ("POST", "/operator/tenants/aspen-missing/suspend", {"reason": "x"}, 404, "no tenant 'aspen-missing'"),
     ("GET", "/operator/tenants/NOT_A_SLUG", None, 404, "no tenant"),
     ("POST", "/operator/tenants/riverbend/suspend", {}, 400, "send {\"reason\""),
     ("POST", "/operator/tenants/riverbend/suspend", None, 400, "no body")],
)
def test_operator_api_refusals_say_what_to_fix(
    operator_api: Any, method: str, path: str, body: dict[str, Any] | None, status: int, message: str
) -> None:
    answered, answer = _operator_call(operator_api, method, path, OPERATOR, body)
    assert (answered, message in answer["message"]) == (status, True), answer


def test_a_taken_tenant_id_is_refused_by_the_operator_api_before_anything_starts(
    clients: AwsClients, deployment: Deployment, operator_api: Any, registry: DynamoTenantRegistry
) -> None:
    assert _run(clients, deployment, _request("willow"))["status"] == "SUCCEEDED"
    before = registry.get("willow")

    status, answer = _operator_call(operator_api, "POST", "/operator/tenants", OPERATOR, _request("willow"))

    assert (status, answer["error"]) == (409, "tenant-exists")
    assert registry.get("willow") == before


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("tenant", ["riverbend", "elsewhere"])
def test_clinic_users_of_any_role_and_tenant_get_403_on_every_operator_route(
    operator_api: Any, registry: DynamoTenantRegistry, role: Role, tenant: str
) -> None:
    clinic = {**TenantContext(tenant_id=tenant, user_id="u-1", role=role).as_claims(),
              "tenant_status": "active", "tier": "enterprise"}
    before = registry.list()
    for template, methods in operator_api.app.routes.items():
        path = template.replace("{tenant_id}", "riverbend")
        for method in methods:
            status, answer = _operator_call(operator_api, method, path, clinic,
                                            _request("intruded") if method == "POST" else None)
            assert (status, answer["error"]) == (403, "forbidden"), (method, path)
    assert registry.list() == before
