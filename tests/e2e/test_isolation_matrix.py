"""The isolation matrix, against a running `cairn dev`: every route that exists, times every role of
a foreign clinic, times forged ids in path, body and query, and every kind of bad token.

Routes are GENERATED from the declared Chalice apps (the route table the local front serves), so
a route added tomorrow is attacked here without anyone listing it. The victim is demo-clinic; the
attacker is second-clinic (real tokens from its seeded users, where a user of the role exists;
tokens signed with the emulator's own Cognito key only for roles no seeded user has). Each
attempt must:
- be refused when it names another clinic's resource in the path: 401/403/404, or 400/422 where
  the route refuses the forged body as malformed before looking anything up; with forged ids
  only in the body or query, be refused or answer about the caller's own clinic, never naming
  any of the victim's ids (links that echo the caller's own query aside);
- leave every item of the victim's clinic in the clinical and audit tables, and its users,
  exactly as they were (compared before and after the whole matrix);
- when it reached the data (not refused by an authorizer at the gateway, nor as malformed), add
  an event to the attacker's own audit trail.
Bad tokens (expired, tampered, re-signed with another key, unsigned alg=none, wrong audience,
no tenant claim) are refused with 401 on every authorized route.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from cairn import config
from devkit.api_front import load_apps
from devkit.deployment import Deployment
from devkit.lab_demo import DEMO_LAB
from devkit.routes import Route
from multitenant.context import Role
from tests.e2e.cairn_dev import CairnDev

pytestmark = pytest.mark.e2e

VICTIM = "demo-clinic"
ATTACKER = "second-clinic"
REFUSED = {401, 403, 404}
# Refused as malformed (the forged body or query is not what the route takes) before any data is
# looked up: nothing can be read or learnt, and there is no record access to audit.
MALFORMED = {400, 415, 422}  # refused for its form before any data is reached
BODY_METHODS = {"POST", "PUT", "PATCH"}


@dataclass
class Emulator:
    """The emulator behind `cairn dev`, read directly (tests only: no request path scans)."""

    deployment: Deployment

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.deployment.endpoint_url,
                            region_name=self.deployment.region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def tenant_items(self, table_key: str, tenant: str) -> dict[tuple[str, str], str]:
        """Every item of `tenant` in a table: (pk, sk) -> the item as JSON."""
        items: dict[tuple[str, str], str] = {}
        pages = self.client("dynamodb").get_paginator("scan").paginate(
            TableName=self.deployment.tables[table_key])
        for page in pages:
            for item in page["Items"]:
                if item["pk"]["S"].startswith(f"{tenant}#"):
                    items[(item["pk"]["S"], item["sk"]["S"])] = json.dumps(item, sort_keys=True)
        return items

    def audit_count(self, tenant: str) -> int:
        """How many audit events `tenant` has today (the by_day index)."""
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        response = self.client("dynamodb").query(
            TableName=self.deployment.tables["audit"], IndexName="by_day", Select="COUNT",
            KeyConditionExpression="day_key = :d",
            ExpressionAttributeValues={":d": {"S": f"{tenant}#{today}"}})
        return int(response["Count"])

    def users(self, tenant: str) -> dict[str, str]:
        """The victim's users as Cognito holds them (attributes and enabled flag)."""
        (pool,) = self.deployment.user_pools.values()
        cognito = self.client("cognito-idp")
        users = {}
        for username in self.deployment.users[tenant].values():
            user = cognito.admin_get_user(UserPoolId=pool.id, Username=username)
            user.pop("ResponseMetadata")
            users[username] = json.dumps(user, default=str, sort_keys=True)
        return users


@dataclass
class Victim:
    patient_id: str
    username: str

    def ids(self) -> list[str]:
        return [self.patient_id, self.username]


class Tokens:
    """Tokens of the attacker's clinic: real ones from seeded users, minted ones otherwise."""

    def __init__(self, cairn_dev: CairnDev) -> None:
        self._cairn_dev = cairn_dev
        real = cairn_dev.token(ATTACKER, "physician")
        self.template = jwt.decode(real, options={"verify_signature": False})
        signing = json.loads(_moto_private_jwk())
        self._key = jwt.PyJWK(signing).key

    def sign(self, claims: dict[str, Any], key: Any = None, kid: str = "dummy") -> str:
        return jwt.encode(claims, key or self._key, algorithm="RS256", headers={"kid": kid})

    def of_role(self, role: Role) -> str:
        if role.value in self._cairn_dev_roles():
            return self._cairn_dev.token(ATTACKER, role.value)
        now = int(time.time())
        return self.sign({**self.template, "custom:role": role.value, "sub": f"minted-{role.value}",
                          "cognito:username": f"minted-{role.value}", "iat": now, "exp": now + 900})

    def _cairn_dev_roles(self) -> set[str]:
        deployment = Deployment.read(self._cairn_dev.state_dir)
        return set(deployment.users.get(ATTACKER, {}))

    def bad(self) -> dict[str, str]:
        """One token of each kind the authorizer must refuse."""
        now = int(time.time())
        valid = {**self.template, "iat": now, "exp": now + 900}
        real = self._cairn_dev.token(ATTACKER, "physician")
        header, _payload, signature = real.split(".")
        forged_payload = _b64(json.dumps({**jwt.decode(real, options={"verify_signature": False}),
                                          "custom:tenant_id": VICTIM}).encode())
        other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        unsigned = jwt.encode({**valid, "custom:tenant_id": VICTIM}, key=None, algorithm="none")
        return {
            "expired": self.sign({**valid, "iat": now - 7200, "exp": now - 3600}),
            "tampered": f"{header}.{forged_payload}.{signature}",
            "signed with another key": self.sign({**valid, "custom:tenant_id": VICTIM}, key=other_key),
            "unsigned (alg none)": unsigned,
            "wrong audience": self.sign({**valid, "aud": "another-app-client"}),
            "no tenant claim": self.sign({k: v for k, v in valid.items() if k != "custom:tenant_id"}),
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _moto_private_jwk() -> str:
    """The emulator's Cognito signing key (moto ships it as a resource)."""
    import gzip
    from pathlib import Path

    import moto.cognitoidp

    path = Path(moto.cognitoidp.__file__).parent / "resources" / "jwks-private.json.gz"
    return gzip.decompress(path.read_bytes()).decode()


def authorized_routes(deployment: Deployment) -> list[tuple[Route, str]]:
    """Every (route, method) the declared apps serve behind an authorizer."""
    return sorted(
        ((Route(template, frozenset(app.routes[template]), api), method)
         for api, app in load_apps(deployment).items()
         for template in app.routes
         for method in app.routes[template]
         if not Route(template, frozenset(), api).public),
        key=lambda pair: (pair[0].template, pair[1]),
    )


# Path variables that name no record: what the victim's record is reached through.
NON_ID_VARIABLES = {"{type}": "Patient", "{operation}": "$everything", "{vid}": "1", "{lab}": DEMO_LAB}


def _fill(template: str, victim: Victim) -> str:
    """The path with every id parameter set to one of the victim's ids (users by name), the
    resource type to Patient and an operation to $everything."""
    parts = []
    for part in template.split("/"):
        if part in NON_ID_VARIABLES:
            parts.append(NON_ID_VARIABLES[part])
        elif part.startswith("{"):
            parts.append(victim.username if "user" in part else victim.patient_id)
        else:
            parts.append(part)
    return "/".join(parts)


def _forged_body(victim: Victim) -> dict[str, Any]:
    reference = {"reference": f"Patient/{victim.patient_id}"}
    return {
        "resourceType": "Patient", "id": victim.patient_id, "tenant_id": VICTIM, "tenant": VICTIM,
        "username": victim.username, "role": "admin", "email": f"iso-{uuid.uuid4().hex[:8]}@example.com",
        "reason": "isolation matrix", "subject": reference, "patient": reference,
        "name": [{"family": "Forged"}], "gender": "female", "birthDate": "1980-01-01",
    }


def _forged_query(route: Route, victim: Victim) -> dict[str, str]:
    """The victim's ids in the query: as search parameters the FHIR API takes (it refuses unknown
    ones with 400), and as anything-goes parameters elsewhere."""
    if route.template.startswith("/fhir/"):
        return {"identifier": victim.patient_id, "name": "Forged"}
    return {"_id": victim.patient_id, "tenant_id": VICTIM, "patient": victim.patient_id,
            "username": victim.username}


@pytest.fixture(scope="module")
def emulator(cairn_dev: CairnDev) -> Emulator:
    return Emulator(Deployment.read(cairn_dev.state_dir))


@pytest.fixture(scope="module")
def victim(emulator: Emulator) -> Victim:
    response = emulator.client("dynamodb").query(
        TableName=emulator.deployment.tables["clinical"], IndexName="by_type", Limit=1,
        KeyConditionExpression="type_key = :t", ExpressionAttributeValues={":t": {"S": f"{VICTIM}#Patient"}})
    (item,) = response["Items"]
    return Victim(patient_id=item["pk"]["S"].rsplit("#", 1)[1],
                  username=emulator.deployment.users[VICTIM]["admin"])


@pytest.fixture(scope="module")
def untouched(emulator: Emulator) -> Iterator[None]:
    """The victim's items and users before the matrix; asserted unchanged after it."""
    before = (emulator.tenant_items("clinical", VICTIM), emulator.tenant_items("audit", VICTIM),
              emulator.users(VICTIM))
    yield
    after = (emulator.tenant_items("clinical", VICTIM), emulator.tenant_items("audit", VICTIM),
             emulator.users(VICTIM))
    assert after[0] == before[0], "the victim clinic's clinical items changed"
    assert after[1] == before[1], "the victim clinic's audit trail changed"
    assert after[2] == before[2], "the victim clinic's users changed"


def _send(cairn_dev: CairnDev, method: str, path: str, token: str, *, body: dict[str, Any] | None = None,
          query: dict[str, str] | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return requests.request(method, f"{cairn_dev.api_url}{path}", headers=headers, params=query,
                            data=json.dumps(body) if body is not None else None, timeout=60)


def _answer(response: requests.Response) -> str:
    """What the response says, less the links that echo the caller's own query back."""
    def without_links(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: without_links(v) for k, v in value.items() if k not in ("link", "fullUrl")}
        if isinstance(value, list):
            return [without_links(v) for v in value]
        return value

    try:
        return json.dumps(without_links(response.json()))
    except ValueError:
        return response.text


def _gateway_refusal(response: requests.Response) -> bool:
    """API Gateway's own answer (an authorizer's 401/403): no function ran, so no tenant trail;
    the authorizers log and count their refusals instead."""
    return "x-amzn-ErrorType" in response.headers


def test_the_matrix_covers_every_authorized_route_and_the_functions_use_scoped_credentials(emulator):
    routes = authorized_routes(emulator.deployment)

    assert ("/fhir/R4/{type}/{id}", "GET") in [(r.template, m) for r, m in routes]
    assert all(r.template != "/fhir/R4/metadata" for r, _ in routes)
    environment = emulator.deployment.function_environments["fhir-api"]
    assert environment[config.TENANT_DATA_ROLE_ARN].endswith(":role/cairn-dev-tenant-data")


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_a_foreign_clinic_reaches_nothing_of_another_through_any_route(
    cairn_dev: CairnDev, emulator: Emulator, victim: Victim, untouched: None, role: Role
) -> None:
    token = Tokens(cairn_dev).of_role(role)
    failures: list[str] = []
    for route, method in authorized_routes(emulator.deployment):
        path = _fill(route.template, victim)
        forged_path = any(victim_id in path for victim_id in victim.ids())
        audited_before = emulator.audit_count(ATTACKER)
        response = _send(cairn_dev, method, path, token, query=_forged_query(route, victim),
                         body=_forged_body(victim) if method in BODY_METHODS else None)
        label = f"{role.value} {method} {route.template} -> {response.status_code}"
        if response.status_code >= 500:
            failures.append(f"{label}: server error")
        elif forged_path and response.status_code not in REFUSED | MALFORMED:
            failures.append(f"{label}: another clinic's id in the path was not refused")
        elif response.ok and any(victim_id in _answer(response) for victim_id in victim.ids()):
            failures.append(f"{label}: the answer names the other clinic's data")
        reached_data = not _gateway_refusal(response) and response.status_code not in MALFORMED
        if reached_data and emulator.audit_count(ATTACKER) <= audited_before:
            failures.append(f"{label}: not audited in the caller's trail")
    assert failures == [], "\n".join(failures)


def test_bad_tokens_are_refused_on_every_authorized_route(
    cairn_dev: CairnDev, emulator: Emulator, victim: Victim, untouched: None
) -> None:
    tokens = Tokens(cairn_dev).bad()
    failures = []
    for route, method in authorized_routes(emulator.deployment):
        path = _fill(route.template, victim)
        for kind, token in tokens.items():
            response = _send(cairn_dev, method, path, token,
                             body=_forged_body(victim) if method in BODY_METHODS else None)
            # 403: the operator API's authorizer verifies the signature, then denies non-operators.
            if response.status_code not in {401, 403}:
                failures.append(f"{kind}: {method} {route.template} -> {response.status_code}")
    assert failures == [], "\n".join(failures)
