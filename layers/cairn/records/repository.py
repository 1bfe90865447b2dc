"""The repository contract: one tenant's FHIR resources, whatever stores them.

Every write is a `commit` of Changes, atomic as a whole: a create, an update or a (soft) delete of
one resource each. Versions are kept forever: `version` and `history` read them back; a delete
is a version without a resource. Searches page with an opaque cursor (stable under concurrent
writes: a page starts strictly after the last key of the one before).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cairn.fhir.resource_types import COMPARTMENT_TYPES
from cairn.fhir.search import MAX_COUNT, SearchQuery, compartment_criterion
from multitenant.context import TenantContext


class ChangeKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class Change:
    """One resource's new version.

    `resource` carries id, meta.versionId and meta.lastUpdated of the new version (for a delete:
    the deleted resource's last content with the delete's meta; it is not stored). `previous` is
    the version being replaced (update, delete): the commit fails with VersionConflict if it is
    no longer current, and its index entries are replaced.
    """

    kind: ChangeKind
    resource: dict[str, Any]
    previous: dict[str, Any] | None = None

    @property
    def resource_type(self) -> str:
        return str(self.resource["resourceType"])

    @property
    def resource_id(self) -> str:
        return str(self.resource["id"])

    @property
    def version_id(self) -> int:
        return int(self.resource["meta"]["versionId"])


@dataclass(frozen=True)
class Hold:
    """A claim on a unique key, written in the same atomic commit as the changes it belongs to:
    the appointment book holds a practitioner's time in 5-minute steps, so two bookings of
    overlapping time cannot both commit. A take succeeds only while nobody holds (scope, key);
    a release removes the hold only if `holder` holds it."""

    scope: str
    key: str
    holder: str
    take: bool = True


@dataclass(frozen=True)
class StoredVersion:
    """One version of a resource: its content, or None for a delete."""

    resource_type: str
    resource_id: str
    version_id: int
    last_updated: str
    resource: dict[str, Any] | None

    @property
    def deleted(self) -> bool:
        return self.resource is None


@dataclass(frozen=True)
class SearchPage:
    """One page of matches; `total` is every match when known without extra reads (None
    otherwise); `next_cursor` continues the search, None on the last page; `included` are
    the resources _include and _revinclude added."""

    resources: list[dict[str, Any]]
    total: int | None
    next_cursor: str | None = None
    included: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryPage:
    """Versions, newest first, and the cursor of the next page (None on the last)."""

    versions: list[StoredVersion]
    next_cursor: str | None = None


class BaseResourceRepository(abc.ABC):
    """FHIR resources of the tenant in `context`: it cannot be built without one, and every
    read and write stays inside that tenant."""

    def __init__(self, context: TenantContext) -> None:
        if not isinstance(context, TenantContext):
            raise TypeError("a repository needs a TenantContext")
        self.context = context

    def add(self, resource: dict[str, Any]) -> None:
        """Store a new resource whose id, meta.versionId (1) and meta.lastUpdated are set;
        ResourceExists (nothing written) if the tenant already has a resource with that id."""
        self.commit([Change(ChangeKind.CREATE, resource)])

    @abc.abstractmethod
    def commit(self, changes: Sequence[Change], holds: Sequence[Hold] = ()) -> None:
        """Write every change and hold or none: ResourceExists if a create's id is taken,
        VersionConflict if an update's or delete's `previous` is no longer the current version,
        HoldTaken if a hold to take is held (or one to release is not the holder's),
        TransactionTooLarge if they do not fit one atomic write."""

    @abc.abstractmethod
    def holds(self, scope: str, lower: str, upper: str) -> dict[str, str]:
        """The holds of `scope` whose keys lie in [lower, upper), key -> holder."""

    @abc.abstractmethod
    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        """The latest version (a delete included), or None if the resource never existed."""

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """The current resource, or None if it does not exist or was deleted."""
        latest = self.current(resource_type, resource_id)
        return None if latest is None else latest.resource

    @abc.abstractmethod
    def get_many(self, references: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The current resources of (type, id) pairs that exist and are not deleted."""

    @abc.abstractmethod
    def version(self, resource_type: str, resource_id: str, version_id: int) -> StoredVersion | None:
        """One version of a resource, or None if it has no such version."""

    @abc.abstractmethod
    def history(self, resource_type: str, resource_id: str | None, count: int,
                cursor: str | None = None, since: str | None = None) -> HistoryPage:
        """Versions of one resource (or, with no id, of every resource of the type), newest
        first; `since` (a FHIR instant) keeps those changed at or after it."""

    @abc.abstractmethod
    def search(self, query: SearchQuery) -> SearchPage:
        """Resources matching every criterion of `query`, one page of at most query.count."""

    @abc.abstractmethod
    def iter_type(self, resource_type: str) -> Iterator[dict[str, Any]]:
        """Every current resource of the type (bulk export), without a Scan."""

    def iter_compartment(self, patient_id: str) -> Iterator[dict[str, Any]]:
        """Every current resource in Patient `patient_id`'s compartment (the Patient itself
        not included), by type. This default pages a compartment search per type; a store
        with a compartment index answers from it."""
        for resource_type in COMPARTMENT_TYPES:
            query: SearchQuery | None = SearchQuery(
                resource_type, (compartment_criterion(resource_type, patient_id),), count=MAX_COUNT)
            while query is not None:
                page = self.search(query)
                yield from page.resources
                query = query.with_cursor(page.next_cursor) if page.next_cursor else None
