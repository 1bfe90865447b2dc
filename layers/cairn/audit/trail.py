"""Where audit events are written: one tenant's trail, append-only."""

from __future__ import annotations

import abc
import uuid
from typing import Any

from cairn.audit.events import AuditEvent
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.store.models import AuditItem
from multitenant.context import TenantContext


class BaseAuditTrail(abc.ABC):
    """The audit trail of one tenant context: records who (the context) did what."""

    def __init__(self, context: TenantContext) -> None:
        if not isinstance(context, TenantContext):
            raise TypeError("an audit trail needs a TenantContext")
        self.context = context

    @abc.abstractmethod
    def record(self, event: AuditEvent) -> None:
        """Append `event`; raises if it could not be stored (an unaudited access must fail)."""


class DynamoAuditTrail(BaseAuditTrail):
    """Audit events as AuditItems, each a conditional put that can never overwrite another."""

    def __init__(self, context: TenantContext, dynamodb: Any, table: str, clock: Clock = utc_now) -> None:
        super().__init__(context)
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock

    def record(self, event: AuditEvent) -> None:
        recorded = fhir_instant(self._clock())
        event_id = str(uuid.uuid4())
        tenant = self.context.tenant_id
        entity = f"{event.entity_type}/{event.entity_id}" if event.entity_id else event.entity_type
        item = AuditItem(
            pk=f"{tenant}#{entity}",
            sk=f"{recorded}#{event_id}",
            day_key=f"{tenant}#{recorded[:10]}",
            event_id=event_id,
            tenant_id=tenant,
            recorded=recorded,
            action=event.action.value,
            subtype=event.subtype,
            outcome=event.outcome.value,
            agent_user=self.context.user_id,
            agent_role=self.context.role.value,
            entity_type=event.entity_type,
            entity_id=event.entity_id,
            detail=event.detail,
        )
        self._dynamodb.put_item(
            TableName=self._table,
            Item=item.serialize(),
            ConditionExpression="attribute_not_exists(pk)",
        )
