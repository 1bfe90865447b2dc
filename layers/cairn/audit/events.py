"""What an audit event says: FHIR AuditEvent's action, outcome and entity, without PHI."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AuditAction(StrEnum):
    """FHIR AuditEvent.action."""

    CREATE = "C"
    READ = "R"
    UPDATE = "U"
    DELETE = "D"
    EXECUTE = "E"  # searches and operations


class AuditOutcome(StrEnum):
    """FHIR AuditEvent.outcome."""

    SUCCESS = "0"
    MINOR_FAILURE = "4"  # the request was refused: not found, invalid, denied
    SERIOUS_FAILURE = "8"  # Cairn failed while serving it
    MAJOR_FAILURE = "12"


@dataclass(frozen=True)
class AuditEvent:
    """One access. `detail` holds ids, search parameter names or a reason code; never values."""

    action: AuditAction
    subtype: str  # create, read, search-type, import
    outcome: AuditOutcome
    entity_type: str
    entity_id: str | None = None
    detail: str | None = None
