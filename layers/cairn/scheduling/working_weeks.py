"""Where each Schedule's working week is kept: one item per schedule under the clinic's prefix.

A working week names staff hours, never a patient, so it is stored as plain JSON (under the
table's KMS encryption at rest) and read with one GetItem when slots are searched or booked.
"""

from __future__ import annotations

import abc
import json
from typing import Any

from cairn.records import keys
from cairn.store.models import ClinicalItem
from multitenant.context import TenantContext

CURRENT = "current"


class BaseWorkingWeeks(abc.ABC):
    """One clinic's working weeks, by Schedule id; it cannot be built without the clinic."""

    def __init__(self, context: TenantContext) -> None:
        if not isinstance(context, TenantContext):
            raise TypeError("working weeks need a TenantContext")
        self.context = context

    @abc.abstractmethod
    def get(self, schedule_id: str) -> dict[str, Any] | None:
        """The schedule's working-week document (cairn.scheduling.working_week), or None."""

    @abc.abstractmethod
    def put(self, schedule_id: str, document: dict[str, Any]) -> None:
        """Replace the schedule's working week."""


class DynamoWorkingWeeks(BaseWorkingWeeks):
    def __init__(self, context: TenantContext, dynamodb: Any, table: str) -> None:
        super().__init__(context)
        self._dynamodb = dynamodb
        self._table = table

    def get(self, schedule_id: str) -> dict[str, Any] | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key=self._key(schedule_id), ConsistentRead=True)
        if "Item" not in response:
            return None
        document: dict[str, Any] = json.loads(ClinicalItem.from_raw_data(response["Item"]).body or "{}")
        return document

    def put(self, schedule_id: str, document: dict[str, Any]) -> None:
        item = ClinicalItem(pk=keys.working_week_pk(self.context.tenant_id, schedule_id), sk=CURRENT,
                            body=json.dumps(document, sort_keys=True))
        self._dynamodb.put_item(TableName=self._table, Item=item.serialize())

    def _key(self, schedule_id: str) -> dict[str, Any]:
        return {"pk": {"S": keys.working_week_pk(self.context.tenant_id, schedule_id)}, "sk": {"S": CURRENT}}


__all__ = ["BaseWorkingWeeks", "DynamoWorkingWeeks"]
