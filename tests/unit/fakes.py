"""Fakes that subclass Cairn's abstract bases, so they cannot drift from the contracts."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from cairn.audit.events import AuditEvent
from cairn.audit.trail import BaseAuditTrail
from cairn.break_glass import BaseBreakGlassLedger, BreakGlassGrant
from cairn.crypto.keyring import BaseKeyring
from cairn.errors import HoldTaken, ResourceExists, VersionConflict
from cairn.fhir.search import SearchQuery
from cairn.records.repository import (
    BaseResourceRepository,
    Change,
    ChangeKind,
    HistoryPage,
    Hold,
    SearchPage,
    StoredVersion,
)
from multitenant.context import TenantContext


class FakeKeyring(BaseKeyring):
    """A deterministic 256-bit key per tenant."""

    def data_key(self, tenant_id: str) -> bytes:
        return hashlib.sha256(f"fake-key:{tenant_id}".encode()).digest()


class FakeRecords(BaseResourceRepository):
    """Resources in a dict shared by every tenant (like the one table), keyed by tenant; every
    version kept. Searches check each criterion in memory (the DynamoDB repository checks them
    the same way after its index narrows the candidates); the cursor is an offset."""

    def __init__(
        self,
        context: TenantContext,
        store: dict[tuple[str, str, str], list[StoredVersion]] | None = None,
        held: dict[tuple[str, str, str], str] | None = None,
    ) -> None:
        super().__init__(context)
        self.store = {} if store is None else store
        self.held = {} if held is None else held  # (tenant, scope, key) -> holder

    def commit(self, changes: Sequence[Change], holds: Sequence[Hold] = ()) -> None:
        for hold in holds:
            holder = self.held.get((self.context.tenant_id, hold.scope, hold.key))
            if (hold.take and holder is not None) or (not hold.take and holder != hold.holder):
                raise HoldTaken(hold.scope, hold.key)
        for change in changes:  # check every condition first: all or nothing
            versions = self.store.get(self._key(change.resource_type, change.resource_id), [])
            if change.previous is None and versions:
                raise ResourceExists(change.resource_type, change.resource_id)
            if change.previous is not None and (
                not versions or versions[-1].version_id != int(change.previous["meta"]["versionId"])
            ):
                raise VersionConflict(change.resource_type, change.resource_id)
        for change in changes:
            content = None if change.kind is ChangeKind.DELETE else copy.deepcopy(change.resource)
            version = StoredVersion(
                change.resource_type,
                change.resource_id,
                change.version_id,
                change.resource["meta"]["lastUpdated"],
                content,
            )
            self.store.setdefault(self._key(change.resource_type, change.resource_id), []).append(version)
        for hold in holds:
            key = (self.context.tenant_id, hold.scope, hold.key)
            if hold.take:
                self.held[key] = hold.holder
            else:
                del self.held[key]

    def holds(self, scope: str, lower: str, upper: str) -> dict[str, str]:
        return {
            key: holder
            for (tenant, held_scope, key), holder in sorted(self.held.items())
            if (tenant, held_scope) == (self.context.tenant_id, scope) and lower <= key < upper
        }

    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        versions = self.store.get(self._key(resource_type, resource_id))
        return copy.deepcopy(versions[-1]) if versions else None

    def get_many(self, references: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {ref: resource for ref in references if (resource := self.get(*ref)) is not None}

    def version(self, resource_type: str, resource_id: str, version_id: int) -> StoredVersion | None:
        for version in self.store.get(self._key(resource_type, resource_id), []):
            if version.version_id == version_id:
                return copy.deepcopy(version)
        return None

    def history(
        self,
        resource_type: str,
        resource_id: str | None,
        count: int,
        cursor: str | None = None,
        since: str | None = None,
    ) -> HistoryPage:
        versions = [
            v
            for (tenant, kind, rid), vs in self.store.items()
            for v in vs
            if tenant == self.context.tenant_id
            and kind == resource_type
            and (resource_id is None or rid == resource_id)
            and (since is None or v.last_updated >= since)
        ]
        versions.sort(key=lambda v: (v.last_updated, v.version_id), reverse=True)
        start = int(cursor or 0)
        more = start + count < len(versions)
        return HistoryPage(
            copy.deepcopy(versions[start : start + count]), str(start + count) if more else None
        )

    def search(self, query: SearchQuery) -> SearchPage:
        matches = [
            resource
            for resource in self.iter_type(query.resource_type)
            if all(criterion.matches(resource) for criterion in query.criteria)
        ]
        matches.sort(key=lambda r: r["meta"]["lastUpdated"], reverse=True)
        start = int(query.cursor or 0)
        page = matches[start : start + query.count]
        more = start + query.count < len(matches)
        return SearchPage(
            page,
            len(matches) if not more and start == 0 else None,
            str(start + query.count) if more else None,
        )

    def iter_type(self, resource_type: str) -> Iterator[dict[str, Any]]:
        for (tenant, kind, _), versions in sorted(self.store.items()):
            if (tenant, kind) == (self.context.tenant_id, resource_type) and versions[
                -1
            ].resource is not None:
                yield copy.deepcopy(versions[-1].resource)

    def _key(self, resource_type: str, resource_id: str) -> tuple[str, str, str]:
        return self.context.tenant_id, resource_type, resource_id


def current_resources(store: dict[tuple[str, str, str], list[StoredVersion]]) -> dict[Any, Any]:
    """The current content of every resource in a FakeRecords store (None: deleted)."""
    return {key: versions[-1].resource for key, versions in store.items()}


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
