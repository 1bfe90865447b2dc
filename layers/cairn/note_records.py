"""The record service as clinical notes use it (cairn.notes.Records): one caller's chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cairn.fhir.search import MAX_COUNT, parse_search
from cairn.records.service import RecordService

MAX_PAGES = 10  # a note's amendments or a clinic's templates: a few pages at most


class NoteRecords:
    """Adapts RecordService to cairn.notes.Records (resource-first create, list searches)."""

    def __init__(self, service: RecordService) -> None:
        self.context = service.context
        self._service = service

    def create(self, resource: object) -> dict[str, Any]:
        resource_type = str(resource.get("resourceType", "")) if isinstance(resource, dict) else ""
        return self._service.create(resource_type, resource).resource

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        return self._service.read(resource_type, resource_id)

    def update(self, resource_type: str, resource_id: str, resource: object, *,
               if_match: str | None = None, signing: bool = False) -> dict[str, Any]:
        return self._service.update(resource_type, resource_id, resource, if_match=if_match, signing=signing)

    def search(self, resource_type: str, params: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
        """Every match, following the pages (strict parsing: an unknown parameter raises)."""
        query = parse_search(resource_type, {**params, "_count": [str(MAX_COUNT)]})
        found: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            page = self._service.search(query)
            found += page.resources
            if page.next_cursor is None:
                break
            query = query.with_cursor(page.next_cursor)
        return found
