"""The operator API's authorizer: operators are allowed, verified clinic users of any role are
denied (403), and unverifiable tokens are Unauthorized (401), with the real JWT verification."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cairn.config import IdentitySettings
from functions.operator_authorizer import handler as operator_authorizer
from multitenant.context import Role
from multitenant.identity import TokenVerifier
from multitenant.operators import OPERATORS_GROUP

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool"
CLIENT = "test-client"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:ops123/test/GET/operator/tenants"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class StaticKey:
    def get_signing_key_from_jwt(self, _token: str) -> Any:
        return KEY.public_key()


@pytest.fixture(autouse=True)
def verifier(monkeypatch) -> None:
    settings = IdentitySettings(ISSUER, "https://unused.example/jwks.json", (CLIENT,))
    verifier = TokenVerifier(settings, StaticKey())
    monkeypatch.setattr(operator_authorizer, "verifier", lambda: verifier)


def _token(**claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "op-1", "iss": ISSUER, "aud": CLIENT, "token_use": "id", "exp": now + 600, **claims}
    return jwt.encode(payload, KEY, algorithm="RS256", headers={"kid": "k"})


def _authorize(token: str, lambda_context) -> dict[str, Any]:
    return operator_authorizer.handler(
        {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}, lambda_context)


def test_an_operator_is_allowed_with_an_operator_context(lambda_context) -> None:
    result = _authorize(_token(**{"cognito:groups": [OPERATORS_GROUP]}), lambda_context)
    assert result["policyDocument"]["Statement"][0] == {
        "Action": "execute-api:Invoke", "Effect": "Allow",
        "Resource": "arn:aws:execute-api:us-east-1:123456789012:ops123/test/*"}
    assert result["context"] == {"operator": "true", "sub": "op-1"}


@pytest.mark.parametrize("role", list(Role))
def test_clinic_users_of_every_role_are_denied(lambda_context, role: Role) -> None:
    token = _token(**{"custom:tenant_id": "acme", "custom:role": role.value,
                      "cognito:groups": ["tenant-acme"]})
    result = _authorize(token, lambda_context)
    assert [s["Effect"] for s in result["policyDocument"]["Statement"]] == ["Deny"]
    assert "context" not in result


@pytest.mark.parametrize("claims", [{"exp": 1}, {"aud": "stranger"}, {"token_use": "access"}],
                         ids=["expired", "wrong-audience", "access-token"])
def test_unverifiable_tokens_are_unauthorized(lambda_context, claims: dict[str, Any]) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(_token(**{"cognito:groups": [OPERATORS_GROUP], **claims}), lambda_context)
