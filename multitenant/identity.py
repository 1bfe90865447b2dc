"""Verifying Cognito ID tokens and turning their claims into a TenantContext.

A token is accepted only if it is RS256-signed by a key of the user pool's JWKS, issued by the
configured issuer, for one of the configured app clients (aud), is an ID token
(token_use == "id": access tokens carry no custom attributes), and has not expired.
"""

from __future__ import annotations

from typing import Any, Protocol

import jwt

from cairn.config import IdentitySettings
from cairn.errors import Unauthenticated
from multitenant.context import InvalidTenantContext, TenantContext

ALGORITHMS = ["RS256"]
JWKS_CACHE_SECONDS = 3600
BEARER = "bearer "


class IdentityError(Unauthenticated):
    """The caller could not be identified; every subclass answers 401."""


class TokenMissing(IdentityError):
    """No bearer token was presented."""


class TokenInvalid(IdentityError):
    """The token is malformed, or its signature does not verify against the pool's keys."""


class TokenExpired(IdentityError):
    """The token's exp is in the past."""


class WrongIssuer(IdentityError):
    """The token was issued by another user pool or provider."""


class WrongAudience(IdentityError):
    """The token was issued for an app client Cairn does not accept."""


class NotAnIdToken(IdentityError):
    """The token is not an ID token (e.g. an access token)."""


class ClaimsInvalid(IdentityError):
    """The token verifies but its tenant, role or subject claims are unusable."""


class SigningKeySource(Protocol):
    """Where verification keys come from: PyJWKClient, or a fixed key in tests."""

    def get_signing_key_from_jwt(self, token: str) -> Any: ...


def bearer_token(authorization: str | None) -> str:
    """The token of an "Authorization: Bearer <token>" value."""
    if not authorization or not authorization.lower().startswith(BEARER):
        raise TokenMissing("expected an Authorization header of the form 'Bearer <token>'")
    token = authorization[len(BEARER):].strip()
    if not token:
        raise TokenMissing("the bearer token is empty")
    return token


class TokenVerifier:
    """Verifies ID tokens of one user pool; build once per process (the JWKS is cached)."""

    def __init__(self, settings: IdentitySettings, keys: SigningKeySource | None = None) -> None:
        self._settings = settings
        self._keys: SigningKeySource = keys or jwt.PyJWKClient(
            settings.jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS
        )

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims of `token`, or the IdentityError that says what is wrong."""
        try:
            signing_key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key=signing_key,
                algorithms=ALGORITHMS,
                audience=list(self._settings.audiences),
                issuer=self._settings.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired("the token has expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise WrongIssuer("the token was not issued by this user pool") from exc
        except jwt.InvalidAudienceError as exc:
            raise WrongAudience("the token was not issued for an accepted app client") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise TokenInvalid(f"the token does not verify: {type(exc).__name__}") from exc
        if claims.get("token_use") != "id":
            raise NotAnIdToken("an ID token is required (token_use must be 'id')")
        return claims

    def context(self, token: str) -> TenantContext:
        """The TenantContext of a verified token's custom:tenant_id, custom:role,
        custom:patient_id and sub claims."""
        claims = self.claims(token)
        try:
            return TenantContext.from_claims({
                "tenant_id": str(claims.get("custom:tenant_id", "")),
                "role": str(claims.get("custom:role", "")),
                "sub": str(claims.get("sub", "")),
                "patient_id": str(claims.get("custom:patient_id", "")),
            })
        except InvalidTenantContext as exc:
            raise ClaimsInvalid(f"the token's tenant claims are unusable: {exc}") from exc
