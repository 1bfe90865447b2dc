"""Platform operators: Cairn's own staff who onboard and manage tenants, never a clinic's users.

Operators are users of the same Cognito pool (so the same JWT verification and the same MFA
requirement apply) who belong to the `cairn-operators` group; they carry no tenant. Only the
operator API's authorizer admits them, and it admits nobody else: a clinic user's valid token is
denied there (403), while on the clinical API an operator's token has no tenant and is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cairn.errors import AccessDenied

OPERATORS_GROUP = "cairn-operators"
OPERATOR_CLAIM = "operator"


class NotAnOperator(AccessDenied):
    """A verified user who is not a platform operator (e.g. any clinic user): 403."""

    def __init__(self) -> None:
        super().__init__(f"only platform operators (group {OPERATORS_GROUP}) may manage tenants")


@dataclass(frozen=True)
class Operator:
    """A verified platform operator: the token's subject."""

    user_id: str

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Operator:
        """The operator a verified token names; NotAnOperator unless it is in the operators group
        and carries no tenant."""
        groups = claims.get("cognito:groups") or []
        if isinstance(groups, str):
            groups = [groups]
        if OPERATORS_GROUP not in groups or claims.get("custom:tenant_id") or not claims.get("sub"):
            raise NotAnOperator()
        return cls(user_id=str(claims["sub"]))

    @classmethod
    def from_authorizer(cls, authorizer: Mapping[str, object] | None) -> Operator:
        """The operator the operator authorizer admitted; NotAnOperator for any other context."""
        if not authorizer or authorizer.get(OPERATOR_CLAIM) != "true" or not authorizer.get("sub"):
            raise NotAnOperator()
        return cls(user_id=str(authorizer["sub"]))

    @property
    def actor(self) -> str:
        """How audit events name the operator."""
        return f"operator:{self.user_id}"

    def as_context(self) -> dict[str, str]:
        return {OPERATOR_CLAIM: "true", "sub": self.user_id}
