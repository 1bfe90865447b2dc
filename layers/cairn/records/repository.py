"""The repository contract: one tenant's FHIR resources, whatever stores them."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from cairn.fhir.search import SearchQuery
from multitenant.context import TenantContext


@dataclass(frozen=True)
class SearchPage:
    """One page of matches; `total` is every match (None when counting would cost a scan)."""

    resources: list[dict[str, Any]]
    total: int | None


class BaseResourceRepository(abc.ABC):
    """FHIR resources of the tenant in `context`: it cannot be built without one, and every
    read and write stays inside that tenant."""

    def __init__(self, context: TenantContext) -> None:
        if not isinstance(context, TenantContext):
            raise TypeError("a repository needs a TenantContext")
        self.context = context

    @abc.abstractmethod
    def add(self, resource: dict[str, Any]) -> None:
        """Store a new resource whose id, meta.versionId (1) and meta.lastUpdated are set;
        ResourceExists (nothing written) if the tenant already has a resource with that id."""

    @abc.abstractmethod
    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """The current version of the resource, or None if this tenant has no such resource."""

    @abc.abstractmethod
    def search(self, query: SearchQuery) -> SearchPage:
        """Resources matching every criterion of `query` (none: the newest), at most query.count."""
