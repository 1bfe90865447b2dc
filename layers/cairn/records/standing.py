"""Tenant standing applied to the records: a suspended clinic reads and exports, never writes.

The runtime wraps a caller's repository with `guard_writes` when the authorizer said the tenant
may not write (multitenant.lifecycle.can_write), so every write path of every service is refused
in one place, and the service audits the refusal like any other denial.
"""

from __future__ import annotations

from typing import Any

from cairn.errors import AccessDenied
from cairn.fhir.search import SearchQuery
from cairn.records.repository import BaseResourceRepository, SearchPage
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

    def add(self, resource: dict[str, Any]) -> None:  # noqa: ARG002 (every write is refused)
        raise TenantReadOnly(self._standing.status.value)

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        return self._records.get(resource_type, resource_id)

    def search(self, query: SearchQuery) -> SearchPage:
        return self._records.search(query)


def guard_writes(records: BaseResourceRepository, standing: TenantStanding | None) -> BaseResourceRepository:
    """`records`, read-only if `standing` allows no writes. No standing (a trusted caller such as
    a workflow, which the authorizer does not see) leaves the records as they are."""
    if standing is None or standing.writable:
        return records
    return ReadOnlyRecords(records, standing)
