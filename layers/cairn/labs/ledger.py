"""The lab message ledger: one entry per message a lab sent a clinic, keyed by the lab and the
message's control id (MSH-10), so that a message sent twice is recognised and stored once.

An entry says where the raw message is, what became of it (received, processed, awaiting
reconciliation, quarantined), why (a reason without PHI) and which ACK the lab got. Items live in
the clinical table: pk "<tenant>#labmsg#<lab>", sk the control key.
"""

from __future__ import annotations

import abc
import hashlib
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from multitenant.context import TenantContext


class MessageStatus(StrEnum):
    RECEIVING = "receiving"  # claimed; the raw message is being stored
    RECEIVED = "received"  # stored raw; the workflow has it
    PROCESSED = "processed"  # results filed in the chart
    AWAITING_RECONCILIATION = "awaiting-reconciliation"  # stored, no patient matched: a Task asks a person
    QUARANTINED = "quarantined"  # cannot be processed as sent; `reason` says why


def control_key(control_id: str | None, text: str) -> str:
    """The ledger key of a message: its control id, or for a message whose header cannot be read,
    a digest of its content (the same unreadable message sent twice is still one entry)."""
    if control_id:
        return control_id
    return "sha256-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def message_id(lab_id: str, key: str) -> str:
    """A stable id for a message of a lab: names its raw object and its Tasks."""
    return hashlib.sha256(f"{lab_id}\n{key}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LabMessage:
    """What the ledger knows about one message (no PHI: ids, codes and reasons only)."""

    lab_id: str
    control_key: str
    received: str
    status: MessageStatus
    raw_key: str = ""
    message_type: str = ""
    version: str = ""
    reason: str = ""
    hl7_error: str = ""
    ack_code: str = ""
    references: tuple[str, ...] = field(default_factory=tuple)  # what it filed: DiagnosticReport/...
    task: str = ""  # the reconciliation Task, when one was opened

    @property
    def message_id(self) -> str:
        return message_id(self.lab_id, self.control_key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lab": self.lab_id, "controlId": self.control_key, "messageId": self.message_id,
            "received": self.received, "status": self.status.value, "rawKey": self.raw_key,
            "messageType": self.message_type,
            "version": self.version, "reason": self.reason, "hl7Error": self.hl7_error,
            "ack": self.ack_code, "references": list(self.references), "task": self.task,
        }


class MessageAlreadyReceived(Exception):
    """A message with this control id from this lab is in the ledger already."""

    def __init__(self, existing: LabMessage) -> None:
        super().__init__(f"message {existing.control_key} of lab {existing.lab_id} was received before")
        self.existing = existing


class BaseLabLedger(abc.ABC):
    """The ledger of one clinic (the context's tenant)."""

    def __init__(self, context: TenantContext) -> None:
        self.context = context

    @abc.abstractmethod
    def claim(self, entry: LabMessage) -> None:
        """Add `entry`, or raise MessageAlreadyReceived with the existing one. An entry left
        RECEIVING (a crash between claim and store) may be claimed again."""

    @abc.abstractmethod
    def get(self, lab_id: str, key: str) -> LabMessage | None: ...

    @abc.abstractmethod
    def put(self, entry: LabMessage) -> None:
        """Replace the entry (its status changes as the workflow goes)."""

    @abc.abstractmethod
    def entries(self, lab_id: str, status: MessageStatus | None = None, limit: int = 100) -> list[LabMessage]:
        """The lab's messages, optionally of one status, oldest control key first."""

    def update(self, lab_id: str, key: str, **changes: Any) -> LabMessage:
        current = self.get(lab_id, key)
        if current is None:
            raise KeyError(f"no message {key} of lab {lab_id} in the ledger")
        changed = replace(current, **changes)
        self.put(changed)
        return changed


class DynamoLabLedger(BaseLabLedger):
    """Entries as items of the clinical table."""

    def __init__(self, context: TenantContext, dynamodb: Any, table: str) -> None:
        super().__init__(context)
        self._dynamodb = dynamodb
        self._table = table

    def _pk(self, lab_id: str) -> str:
        return f"{self.context.tenant_id}#labmsg#{lab_id}"

    def _item(self, entry: LabMessage) -> dict[str, Any]:
        return {"pk": {"S": self._pk(entry.lab_id)}, "sk": {"S": entry.control_key},
                "status": {"S": entry.status.value}, "body": {"S": json.dumps(entry.as_dict())}}

    def claim(self, entry: LabMessage) -> None:
        try:
            self._dynamodb.put_item(
                TableName=self._table, Item=self._item(entry),
                ConditionExpression="attribute_not_exists(pk) OR #status = :receiving",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":receiving": {"S": MessageStatus.RECEIVING.value}})
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            existing = self.get(entry.lab_id, entry.control_key)
            if existing is None:  # deleted in between: claim again
                self.claim(entry)
                return
            raise MessageAlreadyReceived(existing) from None

    def get(self, lab_id: str, key: str) -> LabMessage | None:
        found = self._dynamodb.get_item(TableName=self._table, ConsistentRead=True,
                                        Key={"pk": {"S": self._pk(lab_id)}, "sk": {"S": key}})
        item = found.get("Item")
        return _entry(json.loads(item["body"]["S"])) if item else None

    def put(self, entry: LabMessage) -> None:
        self._dynamodb.put_item(TableName=self._table, Item=self._item(entry))

    def entries(self, lab_id: str, status: MessageStatus | None = None, limit: int = 100) -> list[LabMessage]:
        request: dict[str, Any] = {
            "TableName": self._table, "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": self._pk(lab_id)}},
        }
        if status is not None:
            request["FilterExpression"] = "#status = :status"
            request["ExpressionAttributeNames"] = {"#status": "status"}
            request["ExpressionAttributeValues"][":status"] = {"S": status.value}
        found: list[LabMessage] = []
        while len(found) < limit:
            page = self._dynamodb.query(**request)
            found += [_entry(json.loads(item["body"]["S"])) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]


def _entry(body: dict[str, Any]) -> LabMessage:
    return LabMessage(
        lab_id=body["lab"], control_key=body["controlId"], received=body["received"],
        status=MessageStatus(body["status"]), raw_key=body.get("rawKey", ""),
        message_type=body.get("messageType", ""), version=body.get("version", ""),
        reason=body.get("reason", ""), hl7_error=body.get("hl7Error", ""), ack_code=body.get("ack", ""),
        references=tuple(body.get("references", ())), task=body.get("task", ""),
    )
