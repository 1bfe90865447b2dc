"""The webhook endpoint's use case: verify, record, then act, for every Stripe delivery.

verify the signature over the raw body      (bad: InvalidWebhook, 400, nothing stored)
seal and store the event (claim)            (a replay of a handled event: 200, nothing done)
act through the handler of its type         (unknown type: 200, recorded as not acted on)
mark it processed with what was done        (a failure: marked failed, 5xx, Stripe retries)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cairn.billing.ledger import BaseEventLedger, Claim, EventRecord, received_now
from cairn.billing.sealing import Sealer
from cairn.billing.webhooks import StripeEvent, verify_event
from cairn.clock import Clock, utc_now
from cairn.errors import CairnError

Handler = Callable[[StripeEvent], str]
Placement = Callable[[StripeEvent], str | None]


class EventInProgress(CairnError):
    """Another delivery of the same event is being handled right now: Stripe retries later (409)."""


@dataclass(frozen=True)
class Receipt:
    """What the endpoint answers Stripe: the event and what happened to it."""

    event_id: str
    type: str
    result: str  # processed | duplicate | unhandled

    def as_dict(self) -> dict[str, str]:
        return {"received": self.event_id, "type": self.type, "result": self.result}


class StripeWebhookReceiver:
    """Verifies, records and dispatches Stripe events. `placement` names the event's tenant (whose
    data key seals it) or None (the platform key); `handlers` act on each type Cairn handles."""

    def __init__(
        self,
        secret: str,
        ledger: BaseEventLedger,
        sealer: Sealer,
        placement: Placement,
        handlers: Mapping[str, Handler],
        clock: Clock = utc_now,
    ) -> None:
        self._secret = secret
        self._ledger = ledger
        self._sealer = sealer
        self._placement = placement
        self._handlers = handlers
        self._clock = clock

    def receive(self, raw: bytes | None, signature: str | None) -> Receipt:
        """Handle one delivery; raises InvalidWebhook (400), EventInProgress (409), or whatever
        the handler raised (after recording the failure), for the edge to answer."""
        event = verify_event(raw, signature, self._secret)
        tenant = self._placement(event)
        sealed = self._sealer.seal(tenant, event.event_id, "payload", (raw or b"").decode("utf-8"))
        record = EventRecord(
            event_id=event.event_id,
            type=event.type,
            created=event.created,
            tenant_id=tenant,
            key_owner=sealed.owner,
            sealed=sealed.ciphertext,
            received=received_now(self._clock),
        )
        claim = self._ledger.claim(record)
        if claim is Claim.DONE:
            return Receipt(event.event_id, event.type, "duplicate")
        if claim is Claim.BUSY:
            raise EventInProgress(f"event {event.event_id} is being handled by another delivery; retry later")
        handler = self._handlers.get(event.type)
        if handler is None:
            self._ledger.finish(
                event.event_id, f"type {event.type} is not one Cairn acts on: kept, not acted on"
            )
            return Receipt(event.event_id, event.type, "unhandled")
        try:
            outcome = handler(event)
        except Exception as exc:
            self._ledger.fail(event.event_id, type(exc).__name__)
            raise
        self._ledger.finish(event.event_id, outcome)
        return Receipt(event.event_id, event.type, "processed")
