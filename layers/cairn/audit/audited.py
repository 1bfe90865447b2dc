"""One AuditEvent for one use case's call, whatever its outcome: success, a refusal (a
CairnError: what the caller must fix) or a failure. Details are error types, never values."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.errors import CairnError

T = TypeVar("T")


def audited(
    trail: BaseAuditTrail,
    action: AuditAction,
    subtype: str,
    entity_type: str,
    entity_id: str | None,
    operation: Callable[[], T],
) -> T:
    """Run `operation` and leave one AuditEvent in `trail` with its outcome."""
    try:
        result = operation()
    except Exception as error:
        outcome = (
            AuditOutcome.MINOR_FAILURE if isinstance(error, CairnError) else AuditOutcome.SERIOUS_FAILURE
        )
        trail.record(AuditEvent(action, subtype, outcome, entity_type, entity_id, type(error).__name__))
        raise
    trail.record(AuditEvent(action, subtype, AuditOutcome.SUCCESS, entity_type, entity_id))
    return result
