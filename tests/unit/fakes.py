"""Fakes that subclass Cairn's abstract bases, so they cannot drift from the contracts."""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime
from typing import Any

from cairn.audit.events import AuditEvent
from cairn.audit.trail import BaseAuditTrail
from cairn.break_glass import BaseBreakGlassLedger, BreakGlassGrant
from cairn.crypto.blind_index import normalize
from cairn.crypto.keyring import BaseKeyring
from cairn.errors import ResourceExists
from cairn.fhir.search import SearchQuery, index_values
from cairn.records.repository import BaseResourceRepository, SearchPage
from multitenant.context import TenantContext


class FakeKeyring(BaseKeyring):
    """A deterministic 256-bit key per tenant."""

    def data_key(self, tenant_id: str) -> bytes:
        return hashlib.sha256(f"fake-key:{tenant_id}".encode()).digest()


class FakeRecords(BaseResourceRepository):
    """Resources in a dict shared by every tenant (like the one table), keyed by tenant."""

    def __init__(self, context: TenantContext, store: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        super().__init__(context)
        self.store = store

    def add(self, resource: dict[str, Any]) -> None:
        key = (self.context.tenant_id, resource["resourceType"], resource["id"])
        if key in self.store:
            raise ResourceExists(resource["resourceType"], resource["id"])
        self.store[key] = copy.deepcopy(resource)

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        found = self.store.get((self.context.tenant_id, resource_type, resource_id))
        return copy.deepcopy(found) if found else None

    def search(self, query: SearchQuery) -> SearchPage:
        matches = [
            resource
            for (tenant, kind, _), resource in sorted(self.store.items())
            if tenant == self.context.tenant_id
            and kind == query.resource_type
            and all(
                normalize(c.value) in {normalize(v) for v in index_values(kind, resource)[c.parameter]}
                for c in query.criteria
            )
        ]
        # Like the DynamoDB repository: a search without criteria lists, it does not count.
        total = len(matches) if query.criteria else None
        return SearchPage(copy.deepcopy(matches[: query.count]), total=total)


class FakeAuditTrail(BaseAuditTrail):
    def __init__(self, context: TenantContext, events: list[tuple[TenantContext, AuditEvent]]) -> None:
        super().__init__(context)
        self.events = events

    def record(self, event: AuditEvent) -> None:
        self.events.append((self.context, event))


class FakeBreakGlassLedger(BaseBreakGlassLedger):
    """Grants in a list shared by every tenant (like the one table), filtered by tenant."""

    def __init__(self, context: TenantContext, grants: list[tuple[str, BreakGlassGrant]]) -> None:
        super().__init__(context)
        self.grants = grants

    def add(self, grant: BreakGlassGrant) -> None:
        self.grants.append((self.context.tenant_id, grant))

    def opened_since(self, since: datetime) -> list[BreakGlassGrant]:
        mine = [g for tenant, g in self.grants if tenant == self.context.tenant_id and g.opened >= since]
        return sorted(mine, key=lambda g: g.opened, reverse=True)
