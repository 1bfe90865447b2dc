"""Tenant onboarding: the steps the tenant-onboarding state machine runs, and their undoing.

    register (pending) -> provision encryption -> identity group -> invite the first admin
    -> default settings -> API usage key -> active

Every step is idempotent for its request id: re-running a request (the workflow retried, or
started again with the same request) finds what it made before and makes nothing twice. If a
step fails, `compensate` undoes what this request made, newest first, so no half-made tenant
remains; it never touches a tenant another request registered or one that became active.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.clock import Clock, fhir_instant, utc_now
from multitenant.context import PLATFORM_TENANT, TENANT_ID_PATTERN, TenantContext
from multitenant.errors import InvalidOnboardingRequest, TenantAlreadyExists, TenantNotFound
from multitenant.lifecycle import TenantStatus, change_status
from multitenant.registry import BaseTenantRegistry, Tenant
from multitenant.tiers import Tier, UnknownTier, parse_tier

ACTOR = "tenant-onboarding"
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_NAME_LENGTH = 200
ONBOARDING = "onboarding"

DEFAULT_SETTINGS: Mapping[str, Any] = {
    "time_zone": "UTC",
    "locale": "en-US",
    "appointment_minutes": 20,
    "session_timeout_minutes": 15,  # HIPAA 164.312(a)(2)(iii): automatic logoff
    "lab_results_release": "after_review",
}


@dataclass(frozen=True)
class OnboardingRequest:
    """What an operator (or, later, Stripe) asks for: a clinic, its tier and its first admin.

    `request_id` names the request: the same id again is the same request (idempotent)."""

    request_id: str
    tenant_id: str
    name: str
    tier: Tier
    admin_email: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> OnboardingRequest:
        """Validate every field before anything is created; InvalidOnboardingRequest says what
        to fix."""
        problems: list[str] = []
        request_id = str(raw.get("request_id") or "")
        tenant_id = str(raw.get("tenant_id") or "")
        name = str(raw.get("name") or "").strip()
        email = str(raw.get("admin_email") or "").strip().lower()
        if not REQUEST_ID_PATTERN.match(request_id):
            problems.append("request_id must be 1-80 letters, digits, '-' or '_'")
        if not TENANT_ID_PATTERN.match(tenant_id):
            problems.append("tenant_id must be 2-63 lowercase letters, digits or '-', starting with a letter "
                            "or digit")
        elif tenant_id == PLATFORM_TENANT:
            problems.append(f"tenant_id {PLATFORM_TENANT} is reserved for Cairn itself; choose another")
        if not name or len(name) > MAX_NAME_LENGTH:
            problems.append(f"name must be 1-{MAX_NAME_LENGTH} characters")
        if not EMAIL_PATTERN.match(email):
            problems.append("admin_email must be an email address")
        tier: Tier | None = None
        try:
            tier = parse_tier(str(raw.get("tier") or ""))
        except UnknownTier as exc:
            problems.append(str(exc))
        if problems or tier is None:
            raise InvalidOnboardingRequest("; ".join(problems))
        return cls(request_id=request_id, tenant_id=tenant_id, name=name, tier=tier, admin_email=email)

    def as_dict(self) -> dict[str, str]:
        return {"request_id": self.request_id, "tenant_id": self.tenant_id, "name": self.name,
                "tier": self.tier.value, "admin_email": self.admin_email}


class BaseTenantEncryption(abc.ABC):
    """A tenant's data key (see docs/tenancy.md for why a data key under the shared KMS key)."""

    @abc.abstractmethod
    def provision(self, tenant_id: str) -> None:
        """Create the tenant's wrapped data key unless it exists."""

    @abc.abstractmethod
    def shred(self, tenant_id: str) -> None:
        """Delete the tenant's wrapped data key: whatever it encrypted can never be read again."""


class BaseTenantIdentity(abc.ABC):
    """The tenant's users in the user pool."""

    @abc.abstractmethod
    def create_group(self, tenant_id: str) -> None:
        """Create the tenant's group unless it exists."""

    @abc.abstractmethod
    def delete_group(self, tenant_id: str) -> None:
        """Delete the tenant's group if it exists."""

    @abc.abstractmethod
    def invite_admin(self, tenant_id: str, email: str) -> None:
        """Invite `email` as the tenant's admin (idempotent for the same tenant);
        AdminEmailInUse if the address belongs to anyone else."""

    @abc.abstractmethod
    def remove_admin(self, tenant_id: str, email: str) -> None:
        """Delete the invited user `email` if, and only if, it belongs to `tenant_id`."""


class BaseTenantSettings(abc.ABC):
    """A tenant's settings."""

    @abc.abstractmethod
    def put_defaults(self, tenant_id: str, settings: Mapping[str, Any]) -> None:
        """Store `settings` unless the tenant has settings already."""

    @abc.abstractmethod
    def remove(self, tenant_id: str) -> None:
        """Delete the tenant's settings if present."""


class BaseNoteTemplates(abc.ABC):
    """The clinical note templates a new clinic starts with (cairn.note_templates)."""

    @abc.abstractmethod
    def install(self, tenant_id: str) -> None:
        """Create the default templates the tenant does not have yet (idempotent)."""


class BaseTenantUsageKeys(abc.ABC):
    """The tenant's API Gateway API key (value multitenant.usage_keys.usage_identifier_key), in
    its tier's usage plan on every tenant-facing API: without it no authorized call gets through."""

    @abc.abstractmethod
    def issue(self, tenant_id: str, tier: Tier) -> None:
        """Create the tenant's key unless it exists, and add it to `tier`'s usage plans."""

    @abc.abstractmethod
    def revoke(self, tenant_id: str) -> None:
        """Delete the tenant's key if it exists (its usage plan memberships go with it)."""


AuditTrails = Callable[[TenantContext], BaseAuditTrail]


class TenantOnboarding:
    """The onboarding steps, over injected registry, encryption, identity, settings and usage keys."""

    def __init__(
        self,
        registry: BaseTenantRegistry,
        encryption: BaseTenantEncryption,
        identity: BaseTenantIdentity,
        settings: BaseTenantSettings,
        audit_trail: AuditTrails,
        usage_keys: BaseTenantUsageKeys,
        note_templates: BaseNoteTemplates,
        clock: Clock = utc_now,
    ) -> None:
        self._registry = registry
        self._encryption = encryption
        self._identity = identity
        self._settings = settings
        self._note_templates = note_templates
        self._audit_trail = audit_trail
        self._usage_keys = usage_keys
        self._clock = clock

    def register(self, request: OnboardingRequest) -> Tenant:
        """Register the tenant as pending; the same request again finds it. TenantAlreadyExists
        if the id belongs to another request (or a tenant from before onboarding existed)."""
        existing = self._registry.get(request.tenant_id)
        if existing is not None:
            return self._own(existing, request)
        now = fhir_instant(self._clock())
        tenant = Tenant(tenant_id=request.tenant_id, name=request.name, tier=request.tier,
                        status=TenantStatus.PENDING, created=now, updated=now,
                        admin_email=request.admin_email, onboarding_request_id=request.request_id,
                        status_reason="onboarding")
        try:
            self._registry.add(tenant)
        except TenantAlreadyExists:
            # Another execution registered it between our read and write: ours only if same request.
            raced = self._registry.get(request.tenant_id)
            if raced is None:
                raise
            return self._own(raced, request)
        self._record(request.tenant_id, AuditAction.CREATE, "register", AuditOutcome.SUCCESS)
        return tenant

    def provision_encryption(self, request: OnboardingRequest) -> None:
        self._require_own(request)
        self._encryption.provision(request.tenant_id)

    def create_identity_group(self, request: OnboardingRequest) -> None:
        self._require_own(request)
        self._identity.create_group(request.tenant_id)

    def invite_admin(self, request: OnboardingRequest) -> None:
        self._require_own(request)
        self._identity.invite_admin(request.tenant_id, request.admin_email)

    def write_default_settings(self, request: OnboardingRequest) -> None:
        self._require_own(request)
        self._settings.put_defaults(request.tenant_id, DEFAULT_SETTINGS)
        self._note_templates.install(request.tenant_id)  # SOAP, annual wellness visit, ...

    def issue_usage_key(self, request: OnboardingRequest) -> None:
        """The tenant's API key, in its registered tier's usage plans."""
        tenant = self._require_own(request)
        self._usage_keys.issue(request.tenant_id, tenant.tier)

    def activate(self, request: OnboardingRequest) -> Tenant:
        """Make the tenant active; a tenant this request already activated is answered as is."""
        tenant = self._require_own(request)
        if tenant.status is not TenantStatus.PENDING:
            return tenant
        audit = self._audit_trail(TenantContext.system(request.tenant_id, ACTOR))
        return change_status(self._registry, audit, request.tenant_id, TenantStatus.ACTIVE,
                             "onboarding complete", self._clock)

    def compensate(self, request: OnboardingRequest) -> bool:
        """Undo what `request` made, newest first; True if it undid anything.

        Leaves alone a tenant that another request registered, and one that is no longer
        pending (an earlier run of this request finished it)."""
        tenant = self._registry.get(request.tenant_id)
        if tenant is not None and (tenant.onboarding_request_id != request.request_id
                                   or tenant.status is not TenantStatus.PENDING):
            return False
        # The key's value derives from the tenant id, and the tenant is this request's (pending,
        # or never registered), so any key of that value is one this request made.
        self._usage_keys.revoke(request.tenant_id)
        self._settings.remove(request.tenant_id)
        self._identity.remove_admin(request.tenant_id, request.admin_email)
        self._identity.delete_group(request.tenant_id)
        self._encryption.shred(request.tenant_id)
        removed = self._registry.remove_unfinished(request.tenant_id, request.request_id)
        self._record(request.tenant_id, AuditAction.DELETE, "compensate", AuditOutcome.SUCCESS)
        return removed or tenant is None

    def _require_own(self, request: OnboardingRequest) -> Tenant:
        tenant = self._registry.get(request.tenant_id)
        if tenant is None:
            raise TenantNotFound(request.tenant_id)
        return self._own(tenant, request)

    def _own(self, tenant: Tenant, request: OnboardingRequest) -> Tenant:
        if tenant.onboarding_request_id != request.request_id:
            raise TenantAlreadyExists(request.tenant_id)
        return tenant

    def _record(self, tenant_id: str, action: AuditAction, step: str, outcome: AuditOutcome) -> None:
        audit = self._audit_trail(TenantContext.system(tenant_id, ACTOR))
        audit.record(AuditEvent(action, f"{ONBOARDING}-{step}", outcome, "Tenant", tenant_id))
