"""Errors of the tenancy control plane. Each is mapped to an HTTP answer once, at the edge
(the operator API), and each message says what to fix."""

from __future__ import annotations

from cairn.errors import CairnError


class TenantError(CairnError):
    """Base of the control plane's refusals."""


class TenantNotFound(TenantError):
    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"no tenant {tenant_id!r} is registered; `cairn tenant list` shows the tenants")
        self.tenant_id = tenant_id


class TenantAlreadyExists(TenantError):
    """The slug is taken by another tenant (or another onboarding request for it)."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant id {tenant_id!r} is already taken; choose another id")
        self.tenant_id = tenant_id


class ConcurrentTenantChange(TenantError):
    """The tenant changed between reading and writing it; read it again and retry."""

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id!r} was changed by someone else meanwhile; retry")
        self.tenant_id = tenant_id


class InvalidOnboardingRequest(TenantError):
    """An onboarding request is malformed (id, name, tier, email); nothing was created."""


class AdminEmailInUse(TenantError):
    """The first admin's email already belongs to a user; nothing of the tenant is kept."""

    def __init__(self) -> None:
        super().__init__("the admin email is already in use by another user; invite a different address")


class InvalidOperatorRequest(TenantError):
    """An operator's request is malformed (e.g. no reason for a status change)."""
