"""The tenant registry: one record per clinic in the tenants table (control plane).

The registry is Cairn's own, not a tenant's data, so it is not built from a TenantContext; only
control-plane code (the authorizer's status lookup, onboarding, the operator API) uses it.
"""

from __future__ import annotations

import abc
import copy
from dataclasses import dataclass
from typing import Any

from cairn.store.models import TenantItem
from multitenant.errors import ConcurrentTenantChange, TenantAlreadyExists
from multitenant.lifecycle import TenantStatus, parse_status
from multitenant.tiers import Tier, parse_tier


@dataclass(frozen=True)
class Tenant:
    """A clinic as the control plane knows it."""

    tenant_id: str
    name: str
    tier: Tier
    status: TenantStatus
    created: str
    updated: str
    admin_email: str | None = None
    onboarding_request_id: str | None = None
    version: int = 1
    status_reason: str | None = None
    seats: int | None = None  # staff seats the clinic's subscription pays for; None: its tier's limit

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: what the operator API and `cairn tenant show` print."""
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "tier": self.tier.value,
            "status": self.status.value,
            "created": self.created,
            "updated": self.updated,
            "admin_email": self.admin_email,
            "onboarding_request_id": self.onboarding_request_id,
            "version": self.version,
            "status_reason": self.status_reason,
            "seats": self.seats,
        }


def to_item(tenant: Tenant) -> TenantItem:
    return TenantItem(
        tenant_id=tenant.tenant_id,
        name=tenant.name,
        tier=tenant.tier.value,
        status=tenant.status.value,
        created=tenant.created,
        updated=tenant.updated,
        admin_email=tenant.admin_email,
        onboarding_request_id=tenant.onboarding_request_id,
        version=tenant.version,
        status_reason=tenant.status_reason,
        seats=tenant.seats,
    )


def from_item(item: TenantItem) -> Tenant:
    """A registry record; items written before versions existed read as version 1."""
    return Tenant(
        tenant_id=item.tenant_id,
        name=item.name,
        tier=parse_tier(item.tier),
        status=parse_status(item.status),
        created=item.created,
        updated=item.updated or item.created,
        admin_email=item.admin_email,
        onboarding_request_id=item.onboarding_request_id,
        version=int(item.version or 1),
        status_reason=item.status_reason,
        seats=int(item.seats) if item.seats is not None else None,
    )


class BaseTenantRegistry(abc.ABC):
    """Where tenants are registered."""

    @abc.abstractmethod
    def get(self, tenant_id: str) -> Tenant | None:
        """The tenant `tenant_id`, or None."""

    @abc.abstractmethod
    def add(self, tenant: Tenant) -> None:
        """Register a new tenant; TenantAlreadyExists if the id is taken."""

    @abc.abstractmethod
    def replace(self, tenant: Tenant, expected_version: int) -> None:
        """Store `tenant` over the stored one if that is still at `expected_version`;
        ConcurrentTenantChange otherwise."""

    @abc.abstractmethod
    def remove_unfinished(self, tenant_id: str, request_id: str) -> bool:
        """Remove a tenant that onboarding request `request_id` registered and never finished
        (still pending); True if removed. Anything else is left alone (compensation)."""

    @abc.abstractmethod
    def list(self) -> list[Tenant]:
        """Every tenant, by id."""


class DynamoTenantRegistry(BaseTenantRegistry):
    """The registry in the tenants table, through the injected client."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def get(self, tenant_id: str) -> Tenant | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key={"tenant_id": {"S": tenant_id}}, ConsistentRead=True
        )
        return from_item(TenantItem.from_raw_data(response["Item"])) if "Item" in response else None

    def add(self, tenant: Tenant) -> None:
        try:
            self._dynamodb.put_item(TableName=self._table, Item=to_item(tenant).serialize(),
                                    ConditionExpression="attribute_not_exists(tenant_id)")
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise TenantAlreadyExists(tenant.tenant_id) from None

    def replace(self, tenant: Tenant, expected_version: int) -> None:
        # Items from before versions existed have none: they count as version 1.
        condition = "attribute_exists(tenant_id) AND (#v = :v OR (attribute_not_exists(#v) AND :v = :one))"
        try:
            self._dynamodb.put_item(
                TableName=self._table, Item=to_item(tenant).serialize(), ConditionExpression=condition,
                ExpressionAttributeNames={"#v": "version"},
                ExpressionAttributeValues={":v": {"N": str(expected_version)}, ":one": {"N": "1"}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise ConcurrentTenantChange(tenant.tenant_id) from None

    def remove_unfinished(self, tenant_id: str, request_id: str) -> bool:
        try:
            self._dynamodb.delete_item(
                TableName=self._table, Key={"tenant_id": {"S": tenant_id}},
                ConditionExpression="onboarding_request_id = :request AND #s = :pending",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":request": {"S": request_id},
                                           ":pending": {"S": TenantStatus.PENDING.value}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def list(self) -> list[Tenant]:
        # A Scan, on the operator's path only: the registry holds one small item per clinic.
        tenants: list[Tenant] = []
        for page in self._dynamodb.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True):
            tenants += [from_item(TenantItem.from_raw_data(raw)) for raw in page.get("Items", [])]
        return sorted(tenants, key=lambda tenant: tenant.tenant_id)


class InMemoryTenantRegistry(BaseTenantRegistry):
    """A registry in a dict: for tests, and for tools that need no table."""

    def __init__(self) -> None:
        self.tenants: dict[str, Tenant] = {}

    def get(self, tenant_id: str) -> Tenant | None:
        return copy.copy(self.tenants.get(tenant_id))

    def add(self, tenant: Tenant) -> None:
        if tenant.tenant_id in self.tenants:
            raise TenantAlreadyExists(tenant.tenant_id)
        self.tenants[tenant.tenant_id] = tenant

    def replace(self, tenant: Tenant, expected_version: int) -> None:
        stored = self.tenants.get(tenant.tenant_id)
        if stored is None or stored.version != expected_version:
            raise ConcurrentTenantChange(tenant.tenant_id)
        self.tenants[tenant.tenant_id] = tenant

    def remove_unfinished(self, tenant_id: str, request_id: str) -> bool:
        stored = self.tenants.get(tenant_id)
        unfinished = stored is not None and stored.status is TenantStatus.PENDING
        if not unfinished or stored is None or stored.onboarding_request_id != request_id:
            return False
        del self.tenants[tenant_id]
        return True

    def list(self) -> list[Tenant]:
        return [self.tenants[key] for key in sorted(self.tenants)]
