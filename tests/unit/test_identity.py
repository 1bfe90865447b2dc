"""ID token verification with a locally generated RSA key, its JWKS given as the key source.

PyJWT's PyJWKClient refuses file:// URLs, so the tests inject a key source that picks keys from
a JWKS document by kid, exactly as PyJWKClient does with the one it downloads.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from cairn.config import IdentitySettings
from multitenant.context import Role, TenantContext
from multitenant.identity import (
    ClaimsInvalid,
    NotAnIdToken,
    TokenExpired,
    TokenInvalid,
    TokenMissing,
    TokenVerifier,
    WrongAudience,
    WrongIssuer,
    bearer_token,
)

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
CLIENT = "client-1"
KID = "test-key"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class JwksKeys:
    """A SigningKeySource over a fixed JWKS document."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self._keys = jwt.PyJWKSet.from_dict(jwks)

    def get_signing_key_from_jwt(self, token: str) -> jwt.PyJWK:
        kid = jwt.get_unverified_header(token).get("kid")
        return next(key for key in self._keys.keys if key.key_id == kid)


SETTINGS = IdentitySettings(
    issuer=ISSUER, jwks_url=f"{ISSUER}/.well-known/jwks.json", audiences=("other", CLIENT)
)


@pytest.fixture(scope="module")
def verifier(signing_key) -> TokenVerifier:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    return TokenVerifier(SETTINGS, JwksKeys({"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}))


def test_default_key_source_is_a_caching_jwks_client_for_the_configured_url():
    keys = TokenVerifier(SETTINGS)._keys
    assert isinstance(keys, jwt.PyJWKClient)
    assert keys.uri == SETTINGS.jwks_url


def token(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "sub": "user-1",
        "iss": ISSUER,
        "aud": CLIENT,
        "token_use": "id",
        "iat": now,
        "exp": now + 300,
        "custom:tenant_id": "acme",
        "custom:role": "nurse",
    }
    claims.update(overrides)
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None}, key, algorithm="RS256", headers={"kid": KID}
    )


def test_good_id_token_gives_the_tenant_context(verifier, signing_key):
    context = verifier.context(token(signing_key, **{"custom:patient_id": ""}))
    assert context == TenantContext("acme", "user-1", Role.NURSE, None)


def test_patient_token_carries_the_linked_patient(verifier, signing_key):
    context = verifier.context(token(signing_key, **{"custom:role": "patient", "custom:patient_id": "p-7"}))
    assert (context.role, context.patient_id) == (Role.PATIENT, "p-7")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"iss": "https://cognito-idp.us-east-1.amazonaws.com/other_pool"}, WrongIssuer),
        ({"aud": "someone-else"}, WrongAudience),
        ({"exp": int(time.time()) - 60}, TokenExpired),
        ({"token_use": "access"}, NotAnIdToken),
        ({"exp": None}, TokenInvalid),
        ({"custom:tenant_id": None}, ClaimsInvalid),
        ({"custom:role": "superuser"}, ClaimsInvalid),
    ],
    ids=["wrong-issuer", "wrong-audience", "expired", "access-token", "no-exp", "no-tenant", "unknown-role"],
)
def test_unacceptable_tokens_are_refused_with_the_reason(verifier, signing_key, overrides, error):
    with pytest.raises(error):
        verifier.context(token(signing_key, **overrides))


def test_token_signed_by_another_key_is_refused(verifier):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenInvalid):
        verifier.context(token(stranger))


def test_hs256_token_is_refused(verifier):
    forged = jwt.encode(
        {"sub": "x", "iss": ISSUER, "aud": CLIENT, "token_use": "id"},
        "k" * 32,
        algorithm="HS256",
        headers={"kid": KID},
    )
    with pytest.raises(TokenInvalid):
        verifier.context(forged)


def test_garbage_is_refused(verifier):
    with pytest.raises(TokenInvalid):
        verifier.context("not-a-jwt")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer"])
def test_authorization_header_without_a_bearer_token_is_missing(header):
    with pytest.raises(TokenMissing):
        bearer_token(header)


def test_bearer_prefix_is_case_insensitive():
    assert bearer_token("bearer abc.def.ghi") == "abc.def.ghi"
