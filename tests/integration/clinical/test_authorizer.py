"""The TOKEN authorizer against a JWKS served over HTTP, as Cognito (or moto) serves it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cairn import config
from cairn.audit.events import AuditEvent
from functions.authorizer import handler as authorizer
from multitenant.context import PLATFORM_TENANT, TenantContext
from multitenant.lifecycle import TenantStatus
from multitenant.registry import InMemoryTenantRegistry, Tenant
from multitenant.standing import TenantStandings
from multitenant.tiers import Tier
from tests.unit.fakes import FakeAuditTrail

POOL = "us-east-1_TestPool"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"
CLIENT = "test-client"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/test/GET/fhir/R4/Patient/p1"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks_url(signing_key) -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    document = json.dumps({"keys": [{**jwk, "kid": "dummy", "alg": "RS256", "use": "sig"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{POOL}/.well-known/jwks.json"
    server.shutdown()


@pytest.fixture(autouse=True)
def identity_environment(monkeypatch, jwks_url) -> Iterator[None]:
    monkeypatch.setenv(config.JWT_ISSUER, ISSUER)
    monkeypatch.setenv(config.JWKS_URL, jwks_url)
    monkeypatch.setenv(config.USER_POOL_CLIENT_IDS, f"other-client, {CLIENT}")
    authorizer.verifier.cache_clear()
    yield
    authorizer.verifier.cache_clear()


@pytest.fixture(autouse=True)
def registry(monkeypatch) -> InMemoryTenantRegistry:
    """The tenant registry the authorizer reads: acme is an active practice-tier clinic."""
    registry = InMemoryTenantRegistry()
    registry.add(_tenant("acme", TenantStatus.ACTIVE))
    standings = TenantStandings(registry)
    monkeypatch.setattr(authorizer, "standings", lambda: standings)
    return registry


@pytest.fixture(autouse=True)
def audited(monkeypatch) -> list[tuple[TenantContext, AuditEvent]]:
    """What the authorizer writes to the audit trail, per tenant."""
    events: list[tuple[TenantContext, AuditEvent]] = []
    monkeypatch.setattr(authorizer, "audit_trail", lambda caller: FakeAuditTrail(caller, events))
    return events


def _tenant(tenant_id: str, status: TenantStatus) -> Tenant:
    return Tenant(tenant_id=tenant_id, name="Clinic", tier=Tier.PRACTICE, status=status,
                  created="2026-11-01T00:00:00.000Z", updated="2026-11-01T00:00:00.000Z")


def id_token(key: rsa.RSAPrivateKey, **claims: Any) -> str:
    now = int(time.time())
    payload = {
        "sub": "user-9",
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "exp": now + 600,
        "custom:tenant_id": "acme",
        "custom:role": "physician",
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "dummy"})


def authorize(token: str, lambda_context) -> dict[str, Any]:
    event = {"type": "TOKEN", "authorizationToken": token, "methodArn": METHOD_ARN}
    return authorizer.handler(event, lambda_context)


def test_valid_token_allows_the_api_and_passes_the_tenant_context(signing_key, lambda_context):
    result = authorize(f"Bearer {id_token(signing_key)}", lambda_context)
    assert result["principalId"] == "user-9"
    assert result["policyDocument"]["Statement"] == [
        {
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/test/*",
        }
    ]
    assert result["context"] == {"tenant_id": "acme", "role": "physician", "sub": "user-9", "patient_id": "",
                                 "tenant_status": "active", "tier": "practice"}


def test_patient_token_passes_the_linked_patient(signing_key, lambda_context):
    token = id_token(signing_key, **{"custom:role": "patient", "custom:patient_id": "p-1"})
    assert authorize(f"Bearer {token}", lambda_context)["context"]["patient_id"] == "p-1"


@pytest.mark.parametrize(
    "token",
    ["", "Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz"],
)
def test_missing_or_malformed_token_is_unauthorized(token, lambda_context):
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(token, lambda_context)


def test_a_refused_token_is_audited_in_the_platform_partition_with_its_reason_only(
    signing_key, lambda_context, audited
):
    forged = id_token(signing_key, aud="stranger")
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(f"Bearer {forged}", lambda_context)

    ((caller, event),) = audited
    assert caller.tenant_id == PLATFORM_TENANT
    assert (event.subtype, event.outcome.value, event.entity_type) == ("sign-in", "4", "Session")
    assert event.detail == "WrongAudience"  # the reason code; never the token or its claims


def test_a_refused_clinic_is_audited_in_that_clinics_trail(signing_key, lambda_context, registry, audited):
    registry.add(_tenant("closed", TenantStatus.CANCELLED))
    authorize(f"Bearer {id_token(signing_key, **{'custom:tenant_id': 'closed'})}", lambda_context)

    ((caller, event),) = audited
    assert (caller.tenant_id, event.entity_id, event.detail) == ("closed", "user-9", "tenant-cancelled")


def test_an_admitted_sign_in_writes_no_refusal(signing_key, lambda_context, audited):
    authorize(f"Bearer {id_token(signing_key)}", lambda_context)
    assert audited == []


@pytest.mark.parametrize(
    "claims",
    [{"token_use": "access"}, {"aud": "stranger"}, {"iss": "https://example.com"}, {"exp": 1}],
    ids=["access-token", "wrong-audience", "wrong-issuer", "expired"],
)
def test_unacceptable_token_is_unauthorized(signing_key, lambda_context, claims):
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(f"Bearer {id_token(signing_key, **claims)}", lambda_context)


@pytest.mark.parametrize("status", [TenantStatus.PENDING, TenantStatus.CANCELLED, TenantStatus.DELETED])
def test_a_tenant_whose_status_allows_no_sign_in_is_denied(signing_key, lambda_context, registry, status):
    registry.add(_tenant("closed", status))
    token = id_token(signing_key, **{"custom:tenant_id": "closed"})

    result = authorize(f"Bearer {token}", lambda_context)

    assert [statement["Effect"] for statement in result["policyDocument"]["Statement"]] == ["Deny"]
    assert "context" not in result


def test_an_unregistered_tenant_is_denied(signing_key, lambda_context):
    token = id_token(signing_key, **{"custom:tenant_id": "nowhere"})
    result = authorize(f"Bearer {token}", lambda_context)
    assert [statement["Effect"] for statement in result["policyDocument"]["Statement"]] == ["Deny"]


@pytest.mark.parametrize("status", [TenantStatus.PAST_DUE, TenantStatus.SUSPENDED])
def test_past_due_and_suspended_tenants_sign_in_and_carry_their_status(signing_key, lambda_context, registry,
                                                                       status):
    registry.add(_tenant("owing", status))
    token = id_token(signing_key, **{"custom:tenant_id": "owing"})

    result = authorize(f"Bearer {token}", lambda_context)

    assert result["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert result["context"]["tenant_status"] == status.value
