"""Onboarding steps with fakes: request validation, idempotent steps, and compensation that
undoes exactly what the request made and never another tenant's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from cairn.audit.events import AuditEvent
from multitenant.context import TenantContext
from multitenant.errors import AdminEmailInUse, InvalidOnboardingRequest, TenantAlreadyExists
from multitenant.lifecycle import TenantStatus
from multitenant.onboarding import (
    DEFAULT_SETTINGS,
    BaseNoteTemplates,
    BaseTenantEncryption,
    BaseTenantIdentity,
    BaseTenantSettings,
    BaseTenantUsageKeys,
    OnboardingRequest,
    TenantOnboarding,
)
from multitenant.registry import InMemoryTenantRegistry
from multitenant.tiers import Tier
from tests.unit.fakes import FakeAuditTrail


class FakeEncryption(BaseTenantEncryption):
    def __init__(self) -> None:
        self.keys: dict[str, int] = {}

    def provision(self, tenant_id: str) -> None:
        self.keys.setdefault(tenant_id, len(self.keys) + 1)

    def shred(self, tenant_id: str) -> None:
        self.keys.pop(tenant_id, None)


class FakeIdentity(BaseTenantIdentity):
    def __init__(self) -> None:
        self.groups: set[str] = set()
        self.users: dict[str, str] = {}  # email -> tenant

    def create_group(self, tenant_id: str) -> None:
        self.groups.add(tenant_id)

    def delete_group(self, tenant_id: str) -> None:
        self.groups.discard(tenant_id)

    def invite_admin(self, tenant_id: str, email: str) -> None:
        if self.users.get(email, tenant_id) != tenant_id:
            raise AdminEmailInUse()
        self.users[email] = tenant_id

    def remove_admin(self, tenant_id: str, email: str) -> None:
        if self.users.get(email) == tenant_id:
            del self.users[email]


class FakeSettings(BaseTenantSettings):
    def __init__(self) -> None:
        self.settings: dict[str, dict[str, Any]] = {}

    def put_defaults(self, tenant_id: str, settings: Mapping[str, Any]) -> None:
        self.settings.setdefault(tenant_id, dict(settings))

    def remove(self, tenant_id: str) -> None:
        self.settings.pop(tenant_id, None)


class FakeUsageKeys(BaseTenantUsageKeys):
    def __init__(self) -> None:
        self.keys: dict[str, Tier] = {}  # tenant -> the tier whose plans hold its key

    def issue(self, tenant_id: str, tier: Tier) -> None:
        self.keys.setdefault(tenant_id, tier)

    def revoke(self, tenant_id: str) -> None:
        self.keys.pop(tenant_id, None)


class FakeNoteTemplates(BaseNoteTemplates):
    def __init__(self) -> None:
        self.installed: list[str] = []

    def install(self, tenant_id: str) -> None:
        if tenant_id not in self.installed:
            self.installed.append(tenant_id)


class World:
    def __init__(self) -> None:
        self.registry = InMemoryTenantRegistry()
        self.encryption = FakeEncryption()
        self.identity = FakeIdentity()
        self.settings = FakeSettings()
        self.usage_keys = FakeUsageKeys()
        self.note_templates = FakeNoteTemplates()
        self.events: list[tuple[TenantContext, AuditEvent]] = []
        self.steps = TenantOnboarding(self.registry, self.encryption, self.identity, self.settings,
                                      lambda context: FakeAuditTrail(context, self.events), self.usage_keys,
                                      self.note_templates)

    def onboard(self, request: OnboardingRequest) -> None:
        for step in (self.steps.register, self.steps.provision_encryption, self.steps.create_identity_group,
                     self.steps.invite_admin, self.steps.write_default_settings, self.steps.issue_usage_key,
                     self.steps.activate):
            step(request)


def _request(
    tenant_id: str = "acme", request_id: str = "r1", email: str = "boss@acme.example"
) -> OnboardingRequest:
    return OnboardingRequest.parse({"request_id": request_id, "tenant_id": tenant_id, "name": "Acme Clinic",
                                    "tier": "starter", "admin_email": email})


def test_a_request_is_validated_and_every_problem_named() -> None:
    with pytest.raises(InvalidOnboardingRequest) as refused:
        OnboardingRequest.parse({"request_id": "", "tenant_id": "Bad Id", "name": "", "tier": "gold",
                                 "admin_email": "nobody"})
    message = str(refused.value)
    for fragment in ("request_id", "tenant_id", "name", "admin_email", "unknown tier 'gold'"):
        assert fragment in message


def test_the_email_is_normalised() -> None:
    assert _request(email="  Boss@ACME.example ").admin_email == "boss@acme.example"


def test_all_steps_make_an_active_tenant_and_running_them_again_changes_nothing() -> None:
    world = World()
    world.onboard(_request())
    made = (dict(world.encryption.keys), set(world.identity.groups), dict(world.identity.users),
            dict(world.settings.settings), world.registry.get("acme"))

    world.onboard(_request())

    tenant = world.registry.get("acme")
    assert tenant is not None
    assert tenant.status is TenantStatus.ACTIVE
    assert world.settings.settings["acme"] == dict(DEFAULT_SETTINGS)
    assert world.usage_keys.keys == {"acme": Tier.STARTER}
    assert world.note_templates.installed == ["acme"]  # with the default settings, once
    assert (world.encryption.keys, world.identity.groups, world.identity.users,
            world.settings.settings, world.registry.get("acme")) == made


def test_another_request_for_a_taken_id_is_refused_at_every_step() -> None:
    world = World()
    world.onboard(_request())
    intruder = _request(request_id="r2", email="intruder@else.example")

    with pytest.raises(TenantAlreadyExists):
        world.steps.register(intruder)
    with pytest.raises(TenantAlreadyExists):
        world.steps.invite_admin(intruder)
    assert "intruder@else.example" not in world.identity.users
    with pytest.raises(TenantAlreadyExists):
        world.steps.issue_usage_key(intruder)


def test_compensation_after_the_usage_key_removes_it() -> None:
    world = World()
    request = _request()
    for step in (world.steps.register, world.steps.provision_encryption, world.steps.create_identity_group,
                 world.steps.invite_admin, world.steps.write_default_settings, world.steps.issue_usage_key):
        step(request)

    assert world.steps.compensate(request)

    assert world.usage_keys.keys == {}
    assert world.registry.get("acme") is None


def test_compensation_undoes_everything_the_request_made() -> None:
    world = World()
    world.identity.users["taken@x.example"] = "other"
    request = _request(email="taken@x.example")
    world.steps.register(request)
    world.steps.provision_encryption(request)
    world.steps.create_identity_group(request)
    with pytest.raises(AdminEmailInUse):
        world.steps.invite_admin(request)

    assert world.steps.compensate(request)

    assert world.registry.get("acme") is None
    assert "acme" not in world.encryption.keys
    assert "acme" not in world.identity.groups
    assert world.identity.users == {"taken@x.example": "other"}


def test_compensation_leaves_another_requests_tenant_and_an_active_one_alone() -> None:
    world = World()
    world.onboard(_request())

    assert not world.steps.compensate(_request(request_id="r2"))
    assert not world.steps.compensate(_request())

    assert "acme" in world.usage_keys.keys
    assert "acme" in world.encryption.keys
    assert "acme" in world.identity.groups
    tenant = world.registry.get("acme")
    assert tenant is not None
    assert tenant.status is TenantStatus.ACTIVE


def test_registration_and_activation_are_audited_in_the_tenants_trail() -> None:
    world = World()
    world.onboard(_request())
    assert [(context.tenant_id, event.subtype) for context, event in world.events] == [
        ("acme", "onboarding-register"), ("acme", "status-change")]
