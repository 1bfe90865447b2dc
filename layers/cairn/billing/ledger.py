"""The event ledger: every verified Stripe event, stored (sealed) before Cairn acts on it, and
the one place that decides whether a delivery is new, a retry, a replay, or already in hand.

Idempotency is a conditional put on the event's own record rather than Powertools Idempotency:
the ledger must store every event anyway, and its record already says whether the event was
handled, so one item gives both (a put to claim, an update to finish) where Powertools would add
a second table and two more writes per event. Like Powertools' in-progress record, a claim holds
a lease: a concurrent delivery of the same event is told to come back later (Stripe retries),
and a claim whose handler died lapses after LEASE_SECONDS so a retry can take it over.
"""

from __future__ import annotations

import abc
import json
import threading
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from cairn.billing.models import BillingItem
from cairn.clock import Clock, fhir_instant, utc_now

LEASE_SECONDS = 60  # longer than the webhook function's timeout: a live handler never loses its claim
EVENT_SK = "event"


class EventStatus(StrEnum):
    RECEIVED = "received"  # claimed: being handled now, or a handler died (its lease lapses)
    PROCESSED = "processed"  # acted on (or deliberately not: stale, unknown type); final
    FAILED = "failed"  # the last attempt failed; Stripe retries it and the next delivery takes it


class Claim(StrEnum):
    NEW = "new"  # first delivery: stored, handle it
    RETRY = "retry"  # delivered before and not finished: handle it again
    DONE = "done"  # handled already: acknowledge, do nothing
    BUSY = "busy"  # another delivery is handling it right now: ask Stripe to retry later


@dataclass(frozen=True)
class EventRecord:
    """What the ledger holds of one event. `sealed` is the raw event under `key_owner`'s key."""

    event_id: str
    type: str
    created: int
    tenant_id: str | None
    key_owner: str
    sealed: str
    received: str
    status: EventStatus = EventStatus.RECEIVED
    attempts: int = 1
    outcome: str = ""  # what handling did, in words without personal data ("tenant acme: past_due")
    error: str = ""  # the error type of the last failed attempt

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the sealed payload."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "created": self.created,
            "tenant_id": self.tenant_id,
            "status": self.status.value,
            "attempts": self.attempts,
            "received": self.received,
            "outcome": self.outcome,
            "error": self.error,
        }


def event_pk(event_id: str) -> str:
    return f"event#{event_id}"


class BaseEventLedger(abc.ABC):
    """Where verified events are kept."""

    @abc.abstractmethod
    def claim(self, record: EventRecord) -> Claim:
        """Store `record` if the event is new; otherwise say whether to handle it again."""

    @abc.abstractmethod
    def finish(self, event_id: str, outcome: str) -> None:
        """Mark the event processed with what handling did."""

    @abc.abstractmethod
    def fail(self, event_id: str, error: str) -> None:
        """Mark the last attempt failed (error type only) and free the claim for Stripe's retry."""

    @abc.abstractmethod
    def get(self, event_id: str) -> EventRecord | None:
        """The record of `event_id`, or None."""

    @abc.abstractmethod
    def with_status(self, status: EventStatus, limit: int = 100) -> list[EventRecord]:
        """Events of one status, oldest first (what failed, for a person to look at)."""


def _to_item(record: EventRecord, lease_until: int) -> BillingItem:
    body = json.dumps(
        {
            "type": record.type,
            "created": record.created,
            "received": record.received,
        }
    )
    return BillingItem(
        pk=event_pk(record.event_id),
        sk=EVENT_SK,
        tenant_id=record.tenant_id,
        status=record.status.value,
        body=body,
        sealed=record.sealed,
        key_owner=record.key_owner,
        lease_until=lease_until,
        attempts=record.attempts,
        status_key=f"event-status#{record.status.value}",
        status_sort=f"{record.received}#{record.event_id}",
        outcome=record.outcome or None,
        error=record.error or None,
    )


def _from_item(item: BillingItem) -> EventRecord:
    body = json.loads(item.body or "{}")
    return EventRecord(
        event_id=item.pk.removeprefix("event#"),
        type=body.get("type", ""),
        created=int(body.get("created", 0)),
        tenant_id=item.tenant_id,
        key_owner=item.key_owner or "",
        sealed=item.sealed or "",
        received=body.get("received", ""),
        status=EventStatus(item.status or EventStatus.RECEIVED),
        attempts=int(item.attempts or 1),
        outcome=item.outcome or "",
        error=item.error or "",
    )


class DynamoEventLedger(BaseEventLedger):
    """The ledger in the billing table, through the injected client."""

    def __init__(self, dynamodb: Any, table: str, clock: Clock = utc_now) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock().timestamp())

    def claim(self, record: EventRecord) -> Claim:
        now = self._now()
        errors = self._dynamodb.exceptions
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=_to_item(record, now + LEASE_SECONDS).serialize(),
                ConditionExpression="attribute_not_exists(pk)",
            )
            return Claim.NEW
        except errors.ConditionalCheckFailedException:
            pass
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=self._key(record.event_id),
                UpdateExpression="SET lease_until = :lease, attempts = attempts + :one",
                ConditionExpression="#s <> :processed AND lease_until < :now",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":lease": {"N": str(now + LEASE_SECONDS)},
                    ":one": {"N": "1"},
                    ":processed": {"S": EventStatus.PROCESSED.value},
                    ":now": {"N": str(now)},
                },
            )
            return Claim.RETRY
        except errors.ConditionalCheckFailedException:
            stored = self.get(record.event_id)
            return Claim.DONE if stored is not None and stored.status is EventStatus.PROCESSED else Claim.BUSY

    def finish(self, event_id: str, outcome: str) -> None:
        self._settle(event_id, EventStatus.PROCESSED, outcome=outcome, lease_until=0)

    def fail(self, event_id: str, error: str) -> None:
        self._settle(event_id, EventStatus.FAILED, error=error, lease_until=0)

    def _settle(
        self, event_id: str, status: EventStatus, *, lease_until: int, outcome: str = "", error: str = ""
    ) -> None:
        """One UpdateItem: the status (and its index key), what handling did, the claim released."""
        names = {"#s": "status", "#k": "status_key", "#l": "lease_until", "#e": "error"}
        values: dict[str, Any] = {
            ":s": {"S": status.value},
            ":k": {"S": f"event-status#{status.value}"},
            ":l": {"N": str(lease_until)},
        }
        assignments = "#s = :s, #k = :k, #l = :l"
        if outcome:
            names["#o"] = "outcome"
            values[":o"] = {"S": outcome}
            assignments += ", #o = :o"
        if error:
            values[":e"] = {"S": error}
            update = f"SET {assignments}, #e = :e"
        else:
            update = f"SET {assignments} REMOVE #e"
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key=self._key(event_id),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise KeyError(f"event {event_id} was never claimed") from None

    def get(self, event_id: str) -> EventRecord | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key=self._key(event_id), ConsistentRead=True
        )
        return _from_item(BillingItem.from_raw_data(response["Item"])) if "Item" in response else None

    def with_status(self, status: EventStatus, limit: int = 100) -> list[EventRecord]:
        response = self._dynamodb.query(
            TableName=self._table,
            IndexName="by_status",
            Limit=limit,
            KeyConditionExpression="status_key = :k",
            ExpressionAttributeValues={":k": {"S": f"event-status#{status.value}"}},
        )
        return [_from_item(BillingItem.from_raw_data(item)) for item in response.get("Items", [])]

    @staticmethod
    def _key(event_id: str) -> dict[str, Any]:
        return {"pk": {"S": event_pk(event_id)}, "sk": {"S": EVENT_SK}}


class InMemoryEventLedger(BaseEventLedger):
    """The ledger in a dict, with the same claim rules: for unit tests."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self.records: dict[str, tuple[EventRecord, int]] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def claim(self, record: EventRecord) -> Claim:
        now = int(self._clock().timestamp())
        with self._lock:
            stored = self.records.get(record.event_id)
            if stored is None:
                self.records[record.event_id] = (record, now + LEASE_SECONDS)
                return Claim.NEW
            existing, lease = stored
            if existing.status is EventStatus.PROCESSED:
                return Claim.DONE
            if lease >= now:
                return Claim.BUSY
            self.records[record.event_id] = (
                replace(existing, attempts=existing.attempts + 1),
                now + LEASE_SECONDS,
            )
            return Claim.RETRY

    def finish(self, event_id: str, outcome: str) -> None:
        with self._lock:
            existing, _ = self.records[event_id]
            self.records[event_id] = (replace(existing, status=EventStatus.PROCESSED, outcome=outcome), 0)

    def fail(self, event_id: str, error: str) -> None:
        with self._lock:
            existing, _ = self.records[event_id]
            self.records[event_id] = (replace(existing, status=EventStatus.FAILED, error=error), 0)

    def get(self, event_id: str) -> EventRecord | None:
        stored = self.records.get(event_id)
        return stored[0] if stored else None

    def with_status(self, status: EventStatus, limit: int = 100) -> list[EventRecord]:
        chosen = [record for record, _ in self.records.values() if record.status is status]
        return sorted(chosen, key=lambda record: (record.received, record.event_id))[:limit]


def received_now(clock: Clock = utc_now) -> str:
    """The ledger's received stamp: a FHIR instant, so records sort by arrival."""
    return fhir_instant(clock())
