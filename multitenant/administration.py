"""Tenant administration for platform operators: create (start onboarding), list, show, suspend,
reactivate. The operator API's use cases; every status change goes through change_status."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cairn import config
from cairn.audit.trail import BaseAuditTrail, DynamoAuditTrail
from cairn.aws import AwsClients
from cairn.config import require
from multitenant.context import TENANT_ID_PATTERN, TenantContext
from multitenant.errors import InvalidOperatorRequest, TenantNotFound
from multitenant.lifecycle import TenantStatus, change_status
from multitenant.operators import Operator
from multitenant.provisioning import OnboardingExecution, OnboardingLauncher
from multitenant.registry import BaseTenantRegistry, DynamoTenantRegistry, Tenant

MAX_REASON_LENGTH = 500

AuditTrails = Callable[[TenantContext], BaseAuditTrail]


@dataclass(frozen=True)
class AdministrationSettings:
    """Where the operator API finds the registry, the audit trail and the onboarding workflow."""

    tenant_table: str
    audit_table: str
    onboarding_state_machine_arn: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AdministrationSettings:
        return cls(
            tenant_table=require(environ, config.TENANT_TABLE),
            audit_table=require(environ, config.AUDIT_TABLE),
            onboarding_state_machine_arn=require(environ, config.TENANT_ONBOARDING_STATE_MACHINE_ARN),
        )


class TenantAdministration:
    """The tenant use cases of one verified operator."""

    def __init__(self, operator: Operator, registry: BaseTenantRegistry, launcher: OnboardingLauncher,
                 audit_trails: AuditTrails) -> None:
        self.operator = operator
        self._registry = registry
        self._launcher = launcher
        self._audit_trails = audit_trails

    def create(self, request: Mapping[str, Any]) -> OnboardingExecution:
        """Start onboarding `request` (validated first; a taken tenant id is refused)."""
        return self._launcher.start(request)

    def list(self) -> list[Tenant]:
        return self._registry.list()

    def show(self, tenant_id: str) -> Tenant:
        tenant = self._registry.get(tenant_id) if TENANT_ID_PATTERN.match(tenant_id) else None
        if tenant is None:
            raise TenantNotFound(tenant_id)
        return tenant

    def suspend(self, tenant_id: str, body: object) -> Tenant:
        return self._change(tenant_id, TenantStatus.SUSPENDED, body)

    def reactivate(self, tenant_id: str, body: object) -> Tenant:
        return self._change(tenant_id, TenantStatus.ACTIVE, body)

    def _change(self, tenant_id: str, wanted: TenantStatus, body: object) -> Tenant:
        reason = body.get("reason") if isinstance(body, dict) else None
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON_LENGTH:
            raise InvalidOperatorRequest(f"send {{\"reason\": \"...\"}}: why the tenant becomes {wanted} "
                                         f"(1-{MAX_REASON_LENGTH} characters)")
        self.show(tenant_id)  # an unknown or malformed id answers 404 before anything is audited
        audit = self._audit_trails(TenantContext.system(tenant_id, self.operator.actor))
        return change_status(self._registry, audit, tenant_id, wanted, reason.strip())


class AdministrationRuntime:
    """Clients and settings built once per process; an administration per verified operator."""

    def __init__(self, settings: AdministrationSettings, clients: AwsClients) -> None:
        self._settings = settings
        self._clients = clients
        self._registry = DynamoTenantRegistry(clients.dynamodb(), settings.tenant_table)

    def administration(self, operator: Operator) -> TenantAdministration:
        machine = self._settings.onboarding_state_machine_arn
        launcher = OnboardingLauncher(self._clients.stepfunctions(), machine, self._registry)

        def audit_trails(context: TenantContext) -> BaseAuditTrail:
            return DynamoAuditTrail(context, self._clients.dynamodb(), self._settings.audit_table)

        return TenantAdministration(operator, self._registry, launcher, audit_trails)
