"""The tenant context: who is calling, for which clinic, in which role.

It is built only from verified identity claims (the API authorizer's output, or a trusted
server-side caller such as a workflow started by Cairn itself), never from a request body,
path, query string or header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

TENANT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
# Reserved: the audit partition of sign-in attempts that name no verifiable clinic (forged,
# expired or foreign tokens). No clinic may be onboarded under this id.
PLATFORM_TENANT = "cairn-platform"


# User ids of Cairn's own work (workflows, onboarding, seeding): no Cognito sub has this form
# (subs are UUIDs) and from_claims refuses it, so no token can act as the system.
SYSTEM_ACTOR_PREFIX = "system:"

class Role(StrEnum):
    ADMIN = "admin"
    PHYSICIAN = "physician"
    NURSE = "nurse"
    FRONT_DESK = "front_desk"
    BILLING = "billing"
    PATIENT = "patient"
    # A lab's or interface engine's system account: posts HL7 v2 messages to /labs/{lab}/hl7, nothing else.
    LAB_INTERFACE = "lab_interface"


class InvalidTenantContext(ValueError):
    """The claims do not describe a usable tenant context."""


@dataclass(frozen=True)
class TenantContext:
    """A verified caller: tenant (clinic) id, user id (token subject) and role.

    `patient_id` is set for patient users: the Patient resource their account is linked to.
    """

    tenant_id: str
    user_id: str
    role: Role
    patient_id: str | None = None

    def __post_init__(self) -> None:
        if not TENANT_ID_PATTERN.match(self.tenant_id):
            raise InvalidTenantContext("tenant id is malformed")
        if not self.user_id:
            raise InvalidTenantContext("user id is empty")

    @property
    def key_prefix(self) -> str:
        """The prefix every DynamoDB key and S3 object key of this tenant starts with."""
        return f"{self.tenant_id}#"

    @property
    def is_system(self) -> bool:
        """Cairn's own trusted work (see `system`), never a person with a token."""
        return self.user_id.startswith(SYSTEM_ACTOR_PREFIX)

    @classmethod
    def from_claims(cls, claims: dict[str, str]) -> TenantContext:
        """Build from verified claims (`tenant_id`, `role`, `sub`, optional `patient_id`)."""
        try:
            role = Role(claims.get("role", ""))
        except ValueError as exc:
            raise InvalidTenantContext("role claim is missing or unknown") from exc
        if claims.get("sub", "").startswith(SYSTEM_ACTOR_PREFIX):
            raise InvalidTenantContext("a token cannot name one of Cairn's own system actors")
        return cls(
            tenant_id=claims.get("tenant_id", ""),
            user_id=claims.get("sub", ""),
            role=role,
            patient_id=claims.get("patient_id") or None,
        )

    def as_claims(self) -> dict[str, str]:
        """The claims `from_claims` reads back: what the API authorizer passes as its context
        (API Gateway context values are strings, so no patient is "")."""
        return {
            "tenant_id": self.tenant_id,
            "role": self.role.value,
            "sub": self.user_id,
            "patient_id": self.patient_id or "",
        }

    @classmethod
    def from_authorizer(cls, authorizer: Mapping[str, object] | None) -> TenantContext:
        """Build from an API Gateway request's authorizer context (what Cairn's authorizer
        returned after verifying the token); InvalidTenantContext if it is missing or unusable."""
        if not authorizer:
            raise InvalidTenantContext("the request carries no authorizer context")
        return cls.from_claims({key: str(value) for key, value in authorizer.items()})

    @classmethod
    def system(cls, tenant_id: str, actor: str) -> TenantContext:
        """A context for Cairn's own trusted work on a tenant (workflows, seeding, operators)."""
        return cls(tenant_id=tenant_id, user_id=f"{SYSTEM_ACTOR_PREFIX}{actor}", role=Role.ADMIN)
