"""Tenant standing applied to the records: a suspended clinic reads and exports, never writes.

The runtime wraps a caller's repository with `guard_writes` when the authorizer said the tenant
may not write (multitenant.lifecycle.can_write), so every write path of every service is refused
in one place, and the service audits the refusal like any other denial.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from cairn.errors import AccessDenied
from cairn.fhir.search import SearchQuery
from cairn.records.repository import (
    BaseResourceRepository,
    Change,
    HistoryPage,
    Hold,
    SearchPage,
    StoredVersion,
)
from multitenant.standing import TenantStanding


class TenantReadOnly(AccessDenied):
    """The clinic is read-only (suspended); answered as 403 with a message that says why."""

    def __init__(self, status: str) -> None:
        super().__init__(
            f"this clinic's account is {status}: records can be read and exported but not changed "
            "until the account is reactivated (settle the subscription, or ask Cairn support)")
        self.status = status


class TierLimitReached(AccessDenied):
    """A create would take the tenant past its tier's limit; answered as 403, nothing stored."""

    def __init__(self, resource_type: str, limit: int) -> None:
        super().__init__(
            f"this clinic's tier allows {limit:,} {resource_type} resources and all are in use: "
            "move the clinic to a larger tier to register more")
        self.resource_type = resource_type
        self.limit = limit


class ReadOnlyRecords(BaseResourceRepository):
    """A repository that serves reads and refuses every write."""

    def __init__(self, records: BaseResourceRepository, standing: TenantStanding) -> None:
        super().__init__(records.context)
        self._records = records
        self._standing = standing

    def commit(self, changes: Sequence[Change], holds: Sequence[Hold] = ()) -> None:  # noqa: ARG002
        raise TenantReadOnly(self._standing.status.value)  # every write is refused

    def holds(self, scope: str, lower: str, upper: str) -> dict[str, str]:
        return self._records.holds(scope, lower, upper)

    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        return self._records.current(resource_type, resource_id)

    def get_many(self, references: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return self._records.get_many(references)

    def version(self, resource_type: str, resource_id: str, version_id: int) -> StoredVersion | None:
        return self._records.version(resource_type, resource_id, version_id)

    def history(self, resource_type: str, resource_id: str | None, count: int,
                cursor: str | None = None, since: str | None = None) -> HistoryPage:
        return self._records.history(resource_type, resource_id, count, cursor, since)

    def search(self, query: SearchQuery) -> SearchPage:
        return self._records.search(query)

    def iter_type(self, resource_type: str) -> Iterator[dict[str, Any]]:
        return self._records.iter_type(resource_type)

    def iter_compartment(self, patient_id: str) -> Iterator[dict[str, Any]]:
        return self._records.iter_compartment(patient_id)


def guard_writes(records: BaseResourceRepository, standing: TenantStanding | None) -> BaseResourceRepository:
    """`records`, read-only if `standing` allows no writes. No standing (a trusted caller such as
    a workflow, which the authorizer does not see) leaves the records as they are."""
    if standing is None or standing.writable:
        return records
    return ReadOnlyRecords(records, standing)
