"""The user administration API (Chalice) against an in-process moto user pool provisioned from
the declarations, called with API Gateway proxy events as the authorizer leaves them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws

from cairn import config
from cairn.aws import AwsClients, AwsSettings
from cairn.store.models import AuditItem
from cairn.store.schema import table_shape
from devkit.provision import ProvisionTarget, _create_user_pool, _create_user_pool_client
from functions.user_admin import app as api
from infra.declarations import USER_POOLS
from multitenant.context import Role, TenantContext
from multitenant.provisioning import group_name
from multitenant.tiers import Tier, limits
from tests.integration.clinical.support import LambdaContext

AUDIT_TABLE = "test-audit"


@dataclass
class Pool:
    clients: AwsClients
    pool_id: str
    client: dict[str, Any]

    def member(self, tenant: str, role: Role, email: str) -> TenantContext:
        """A user made the way seeding makes them (no invitation), as a verified caller."""
        cognito = self.clients.cognito()
        user = cognito.admin_create_user(UserPoolId=self.pool_id, Username=email, UserAttributes=[
            {"Name": "email", "Value": email}, {"Name": "custom:tenant_id", "Value": tenant},
            {"Name": "custom:role", "Value": role.value}], MessageAction="SUPPRESS")["User"]
        sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
        return TenantContext(tenant, sub, role)

    def attributes(self, email: str) -> dict[str, Any]:
        user = self.clients.cognito().admin_get_user(UserPoolId=self.pool_id, Username=email)
        return {"Enabled": user["Enabled"],
                **{a["Name"]: a["Value"] for a in user["UserAttributes"]}}

    def audit(self, tenant: str) -> list[AuditItem]:
        items = self.clients.dynamodb().scan(TableName=AUDIT_TABLE)["Items"]
        events = [AuditItem.from_raw_data(item) for item in items]
        return sorted((e for e in events if e.tenant_id == tenant), key=lambda e: e.sk)


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pool]:
    for name, value in {"AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        clients = AwsClients(AwsSettings())
        clients.dynamodb().create_table(**table_shape(AuditItem).create_table_request(AUDIT_TABLE))
        (declared,) = USER_POOLS
        target = ProvisionTarget(endpoint_url="", embedded=True)
        created = _create_user_pool(clients.cognito(), target, declared)
        client = _create_user_pool_client(clients.cognito(), created["Id"], declared)
        monkeypatch.setenv(config.USER_POOL_ID, created["Id"])
        monkeypatch.setenv(config.AUDIT_TABLE, AUDIT_TABLE)
        api.runtime.cache_clear()  # each test is a new process: the runtime must see this moto
        yield Pool(clients, created["Id"], client)
        api.runtime.cache_clear()


def call(method: str, path: str, who: TenantContext | None, body: object = None,
         path_parameters: dict[str, str] | None = None, resource: str | None = None,
         authorizer_extra: dict[str, str] | None = None) -> tuple[int, Any]:
    request_context: dict[str, Any] = {"resourcePath": resource or path, "httpMethod": method,
                                       "requestId": "req-7", "stage": "test", "path": f"/test{path}"}
    if who is not None:
        request_context["authorizer"] = {**who.as_claims(), "principalId": who.user_id,
                                         **(authorizer_extra or {})}
    event = {
        "resource": resource or path, "path": path, "httpMethod": method,
        "headers": {"Content-Type": "application/json"}, "multiValueHeaders": None,
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters, "stageVariables": None, "requestContext": request_context,
        "body": None if body is None else body if isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }
    response = api.app(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def invite(who: TenantContext, body: object) -> tuple[int, Any]:
    return call("POST", "/users", who, body)


def change_role(who: TenantContext, username: str, role: str) -> tuple[int, Any]:
    return call("PUT", f"/users/{username}/role", who, {"role": role}, {"username": username},
                "/users/{username}/role")


def disable(who: TenantContext, username: str) -> tuple[int, Any]:
    return call("POST", f"/users/{username}/disable", who, None, {"username": username},
                "/users/{username}/disable")


def test_the_provisioned_client_has_the_declared_session_limits(pool: Pool) -> None:
    (declared,) = USER_POOLS
    described = pool.clients.cognito().describe_user_pool_client(
        UserPoolId=pool.pool_id, ClientId=pool.client["ClientId"])["UserPoolClient"]
    assert described["IdTokenValidity"] == declared.sessions.id_token_minutes == 15
    assert described["AccessTokenValidity"] == declared.sessions.access_token_minutes
    assert described["RefreshTokenValidity"] == declared.sessions.refresh_token_hours
    assert described["TokenValidityUnits"] == {"IdToken": "minutes", "AccessToken": "minutes",
                                               "RefreshToken": "hours"}


def test_an_admin_invites_into_their_own_clinic_whatever_the_body_says(pool: Pool) -> None:
    admin = pool.member("acme", Role.ADMIN, "admin@acme.example")

    status, body = invite(admin, {"email": "Nurse@Acme.example", "role": "nurse", "tenant_id": "globex"})

    assert status == 201
    assert (body["email"], body["role"], body["enabled"]) == ("nurse@acme.example", "nurse", True)
    stored = pool.attributes("nurse@acme.example")
    assert (stored["custom:tenant_id"], stored["custom:role"]) == ("acme", "nurse")
    in_group = pool.clients.cognito().list_users_in_group(UserPoolId=pool.pool_id,
                                                          GroupName=group_name("acme"))
    assert [u["Username"] for u in in_group["Users"]] == ["nurse@acme.example"]
    (event,) = pool.audit("acme")
    assert (event.subtype, event.outcome, event.entity_id, event.detail) == (
        "invite", "0", body["username"], "role:nurse")
    assert "acme.example" not in json.dumps(event.serialize())  # emails may be patients': not audited


def test_a_patient_is_invited_linked_to_their_patient(pool: Pool) -> None:
    admin = pool.member("acme", Role.ADMIN, "admin@acme.example")
    status, body = invite(admin, {"email": "pat@mail.example", "role": "patient", "patient_id": "p-1"})
    assert (status, body["patient_id"]) == (201, "p-1")
    assert pool.attributes("pat@mail.example")["custom:patient_id"] == "p-1"


def test_an_email_already_in_use_is_a_clear_409_and_changes_nothing(pool: Pool) -> None:
    admin = pool.member("acme", Role.ADMIN, "admin@acme.example")
    other = pool.member("globex", Role.ADMIN, "admin@globex.example")
    invite(other, {"email": "shared@staff.example", "role": "physician"})

    status, body = invite(admin, {"email": "shared@staff.example", "role": "nurse"})

    assert status == 409
    assert body["error"] == "email-in-use"
    assert "another address" in body["message"]
    assert pool.attributes("shared@staff.example")["custom:tenant_id"] == "globex"
    assert pool.attributes("shared@staff.example")["custom:role"] == "physician"
    assert pool.audit("acme")[-1].outcome == "4"


@pytest.mark.parametrize(("body", "says"), [
    ({"email": "x@acme.example", "role": "surgeon"}, "role must be one of: admin, physician"),
    ({"email": "not-an-email", "role": "nurse"}, "email must be an email address"),
    ({"email": "x@acme.example", "role": "patient"}, "needs patient_id"),
    ({"email": "x@acme.example", "role": "nurse", "patient_id": "p-1"}, "leave out patient_id"),
    ("{not json", "not valid JSON"),
])
def test_bad_invitations_say_what_to_fix_and_create_nobody(pool: Pool, body: object, says: str) -> None:
    admin = pool.member("acme", Role.ADMIN, "admin@acme.example")
    status, answer = invite(admin, body)
    assert status == 400
    assert says in answer["message"]
    users = pool.clients.cognito().list_users(UserPoolId=pool.pool_id)["Users"]
    assert [u["Username"] for u in users] == ["admin@acme.example"]


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admins_administer_users(pool: Pool, role: Role) -> None:
    admin = pool.member("acme", Role.ADMIN, "admin@acme.example")
    someone = pool.member("acme", role, f"{role.value}@acme.example")
    assert invite(someone, {"email": "new@acme.example", "role": "nurse"})[0] == 403
    assert call("GET", "/users", someone)[0] == 403
    assert change_role(someone, admin.user_id, "nurse")[0] == 403
    assert disable(someone, admin.user_id)[0] == 403
    assert pool.attributes("admin@acme.example") ["Enabled"] is True
    assert [e.outcome for e in pool.audit("acme")] == ["4"] * 4


def test_a_clinic_lists_only_its_own_users(pool: Pool) -> None:
    acme = pool.member("acme", Role.ADMIN, "admin@acme.example")
    globex = pool.member("globex", Role.ADMIN, "admin@globex.example")
    invite(acme, {"email": "nurse@acme.example", "role": "nurse"})
    invite(globex, {"email": "nurse@globex.example", "role": "nurse"})

    status, body = call("GET", "/users", acme)

    assert status == 200
    assert [u["email"] for u in body["users"]] == ["nurse@acme.example"]


def test_an_admin_changes_a_role_in_their_clinic(pool: Pool) -> None:
    admin = pool.member("acme", Role.ADMIN, "admin@acme.example")
    _, nurse = invite(admin, {"email": "nurse@acme.example", "role": "nurse"})

    status, body = change_role(admin, nurse["username"], "physician")

    assert (status, body["role"]) == (200, "physician")
    assert pool.attributes("nurse@acme.example")["custom:role"] == "physician"
    last = pool.audit("acme")[-1]
    assert (last.subtype, last.detail) == ("change-role", "role:physician")


def test_unknown_roles_and_conversions_are_refused_and_change_nothing(pool: Pool) -> None:
    admin = pool.member("acme", Role.ADMIN, "admin@acme.example")
    _, nurse = invite(admin, {"email": "nurse@acme.example", "role": "nurse"})
    assert change_role(admin, nurse["username"], "overlord")[0] == 400
    assert change_role(admin, nurse["username"], "patient")[0] == 400
    assert change_role(admin, admin.user_id, "nurse")[0] == 400  # no self-demotion
    assert pool.attributes("nurse@acme.example")["custom:role"] == "nurse"


def test_an_admin_of_another_clinic_cannot_see_change_or_disable_a_user(pool: Pool) -> None:
    acme = pool.member("acme", Role.ADMIN, "admin@acme.example")
    globex = pool.member("globex", Role.ADMIN, "admin@globex.example")
    _, nurse = invite(acme, {"email": "nurse@acme.example", "role": "nurse"})

    assert call("GET", "/users", globex)[1] == {"users": []}
    status, body = change_role(globex, nurse["username"], "admin")
    assert (status, body["error"]) == (404, "not-found")
    assert disable(globex, nurse["username"])[0] == 404

    assert pool.attributes("nurse@acme.example")["custom:role"] == "nurse"
    assert pool.attributes("nurse@acme.example")["Enabled"] is True
    assert [(e.subtype, e.outcome) for e in pool.audit("globex")] == [
        ("search-type", "0"), ("change-role", "4"), ("disable", "4")]


def test_disabling_a_user_stops_sign_in_and_revokes_their_refresh_tokens(pool: Pool) -> None:
    admin = pool.member("acme", Role.ADMIN, "admin@acme.example")
    cognito = pool.clients.cognito()
    _, nurse = invite(admin, {"email": "nurse@acme.example", "role": "nurse"})
    cognito.admin_set_user_password(UserPoolId=pool.pool_id, Username="nurse@acme.example",
                                    Password="Cairn-Test-2026!x", Permanent=True)
    cognito.set_user_pool_mfa_config(UserPoolId=pool.pool_id, MfaConfiguration="OFF")  # password only, here
    signed_in = cognito.admin_initiate_auth(
        UserPoolId=pool.pool_id, ClientId=pool.client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "nurse@acme.example", "PASSWORD": "Cairn-Test-2026!x"},
    )["AuthenticationResult"]

    status, body = disable(admin, nurse["username"])

    assert (status, body["enabled"]) == (200, False)
    assert pool.attributes("nurse@acme.example")["Enabled"] is False
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.admin_initiate_auth(
            UserPoolId=pool.pool_id, ClientId=pool.client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]})
    assert pool.audit("acme")[-1].subtype == "disable"


def test_sign_out_revokes_the_callers_own_refresh_tokens(pool: Pool) -> None:
    nurse = pool.member("acme", Role.NURSE, "nurse@acme.example")
    cognito = pool.clients.cognito()
    cognito.admin_set_user_password(UserPoolId=pool.pool_id, Username="nurse@acme.example",
                                    Password="Cairn-Test-2026!x", Permanent=True)
    cognito.set_user_pool_mfa_config(UserPoolId=pool.pool_id, MfaConfiguration="OFF")
    signed_in = cognito.admin_initiate_auth(
        UserPoolId=pool.pool_id, ClientId=pool.client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "nurse@acme.example", "PASSWORD": "Cairn-Test-2026!x"},
    )["AuthenticationResult"]

    assert call("POST", "/auth/sign-out", nurse) == (200, {"signed_out": True})

    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.admin_initiate_auth(
            UserPoolId=pool.pool_id, ClientId=pool.client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": signed_in["RefreshToken"]})
    (event,) = pool.audit("acme")
    assert (event.subtype, event.entity_id, event.outcome) == ("sign-out", nurse.user_id, "0")


def test_every_route_refuses_a_request_without_a_verified_caller(pool: Pool) -> None:
    for method, path in (("POST", "/users"), ("GET", "/users"), ("POST", "/auth/sign-out")):
        assert call(method, path, None, {"email": "a@b.example", "role": "nurse"})[0] == 401
    assert pool.clients.cognito().list_users(UserPoolId=pool.pool_id)["Users"] == []


def test_staff_invitations_stop_at_the_tiers_staff_seats_and_patients_take_none(pool: Pool) -> None:
    admin = pool.member("acme", Role.ADMIN, "admin@acme.example")
    seats = limits(Tier.STARTER).staff_seats
    standing = {"tenant_status": "active", "tier": Tier.STARTER.value}

    def invite_on_starter(body: object) -> tuple[int, Any]:
        return call("POST", "/users", admin, body, authorizer_extra=standing)

    for seat in range(seats):
        assert invite_on_starter({"email": f"nurse{seat}@acme.example", "role": "nurse"})[0] == 201
    status, refused = invite_on_starter({"email": "one-too-many@acme.example", "role": "nurse"})

    assert status == 403
    assert "staff seats" in refused["message"]
    assert "move the clinic to a larger tier" in refused["message"]
    assert pool.clients.cognito().list_users(
        UserPoolId=pool.pool_id, Filter='email = "one-too-many@acme.example"')["Users"] == []
    patient = {"email": "pat@acme.example", "role": "patient", "patient_id": "p-1"}
    assert invite_on_starter(patient)[0] == 201
    assert pool.audit("acme")[-2].detail == "StaffSeatsTaken"
