"""Billing accounts: what Cairn knows of each clinic's Stripe side, in the billing table.

- a clinic's subscription (Stripe ids, Stripe's status, tier, seats, and the creation time of the
  last event applied to it: events older than that never change it);
- the maps from Stripe's customer and connected-account ids to the tenant (events are placed
  through these, never through metadata a connected account could write);
- pending signups (the clinic's name and admin email sealed under the platform key);
- subscription invoices' outcome (paid is final: a late payment_failed cannot undo it);
- notices sent to a clinic's admins (dunning).
"""

from __future__ import annotations

import abc
import json
import threading
from dataclasses import asdict, dataclass
from typing import Any

from cairn.billing.models import BillingItem
from cairn.errors import CairnError
from multitenant.tiers import Tier, parse_tier


class ConcurrentBillingChange(CairnError):
    """Two deliveries changed the same billing record at once; the loser's event is retried."""


class AccountClaimed(CairnError):
    """A Stripe id already belongs to another clinic."""


@dataclass(frozen=True)
class Subscription:
    tenant_id: str
    subscription_id: str
    customer_id: str
    status: str  # Stripe's subscription status: active, past_due, unpaid, canceled, ...
    tier: Tier
    seats: int
    event_created: int  # `created` of the last event applied (seconds)
    dunning: str | None = None  # the unpaid invoice whose dunning run is going on
    version: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "tier": self.tier.value}


@dataclass(frozen=True)
class Signup:
    """A clinic's Checkout session before its tenant exists. `sealed` holds name and admin email."""

    session_id: str
    tenant_id: str
    tier: Tier
    seats: int
    sealed: str
    created: str


@dataclass(frozen=True)
class InvoiceOutcome:
    """A subscription invoice's last known outcome: "paid" (final) or "failed"."""

    invoice_id: str
    tenant_id: str
    outcome: str
    event_created: int


@dataclass(frozen=True)
class Notice:
    """A notice to a clinic's admins, in words without personal data."""

    tenant_id: str
    sent: str
    kind: str  # payment-failed, payment-reminder, suspended, cancelled, export-offered, deleted
    text: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class BaseBillingAccounts(abc.ABC):
    """The billing records of every clinic (control plane: not built from a TenantContext)."""

    @abc.abstractmethod
    def subscription(self, tenant_id: str) -> Subscription | None: ...

    @abc.abstractmethod
    def save_subscription(self, subscription: Subscription, expected_version: int) -> None:
        """Store it at expected_version + 1 if the stored one is still at `expected_version` (0:
        none); ConcurrentBillingChange otherwise."""

    @abc.abstractmethod
    def tenant_for(self, kind: str, stripe_id: str) -> str | None:
        """The tenant a Stripe id (kind "customer" or "account") belongs to."""

    @abc.abstractmethod
    def link(self, kind: str, stripe_id: str, tenant_id: str) -> None:
        """Map a Stripe id to `tenant_id` (again is fine); AccountClaimed if another tenant has it."""

    @abc.abstractmethod
    def account_of(self, tenant_id: str) -> str | None:
        """The clinic's connected account for patient payments, or None."""

    @abc.abstractmethod
    def signup(self, session_id: str) -> Signup | None: ...

    @abc.abstractmethod
    def save_signup(self, signup: Signup) -> None: ...

    @abc.abstractmethod
    def invoice_outcome(self, invoice_id: str) -> InvoiceOutcome | None: ...

    @abc.abstractmethod
    def save_invoice_outcome(self, outcome: InvoiceOutcome) -> bool:
        """Store it unless the invoice is already paid or has a newer outcome; True if stored."""

    @abc.abstractmethod
    def add_notice(self, notice: Notice) -> None: ...

    @abc.abstractmethod
    def notices(self, tenant_id: str) -> list[Notice]:
        """The clinic's notices, newest first."""


def _subscription_from(body: dict[str, Any], version: int) -> Subscription:
    return Subscription(
        tenant_id=body["tenant_id"],
        subscription_id=body["subscription_id"],
        customer_id=body["customer_id"],
        status=body["status"],
        tier=parse_tier(body["tier"]),
        seats=int(body["seats"]),
        event_created=int(body["event_created"]),
        dunning=body.get("dunning"),
        version=version,
    )


class DynamoBillingAccounts(BaseBillingAccounts):
    """Billing records in the billing table, through the injected client."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def _get(self, pk: str, sk: str) -> BillingItem | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        return BillingItem.from_raw_data(response["Item"]) if "Item" in response else None

    def subscription(self, tenant_id: str) -> Subscription | None:
        item = self._get(f"subscription#{tenant_id}", "current")
        return _subscription_from(json.loads(item.body or "{}"), int(item.version or 0)) if item else None

    def save_subscription(self, subscription: Subscription, expected_version: int) -> None:
        item = BillingItem(
            pk=f"subscription#{subscription.tenant_id}",
            sk="current",
            tenant_id=subscription.tenant_id,
            status=subscription.status,
            body=json.dumps({k: v for k, v in subscription.as_dict().items() if k != "version"}),
            version=expected_version + 1,
        )
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if expected_version == 0
            else {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
            }
        )
        try:
            self._dynamodb.put_item(TableName=self._table, Item=item.serialize(), **condition)
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise ConcurrentBillingChange(
                f"subscription of {subscription.tenant_id} changed meanwhile"
            ) from None

    def tenant_for(self, kind: str, stripe_id: str) -> str | None:
        item = self._get(f"{kind}#{stripe_id}", "tenant")
        return item.tenant_id if item else None

    def link(self, kind: str, stripe_id: str, tenant_id: str) -> None:
        item = BillingItem(pk=f"{kind}#{stripe_id}", sk="tenant", tenant_id=tenant_id)
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=item.serialize(),
                ConditionExpression="attribute_not_exists(pk) OR tenant_id = :t",
                ExpressionAttributeValues={":t": {"S": tenant_id}},
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise AccountClaimed(f"that Stripe {kind} belongs to another clinic") from None
        if kind == "account":
            reverse = BillingItem(
                pk=f"connect#{tenant_id}", sk="account", tenant_id=tenant_id, body=stripe_id
            )
            self._dynamodb.put_item(TableName=self._table, Item=reverse.serialize())

    def account_of(self, tenant_id: str) -> str | None:
        item = self._get(f"connect#{tenant_id}", "account")
        return item.body if item else None

    def signup(self, session_id: str) -> Signup | None:
        item = self._get(f"signup#{session_id}", "signup")
        if item is None:
            return None
        body = json.loads(item.body or "{}")
        return Signup(
            session_id=session_id,
            tenant_id=body["tenant_id"],
            tier=parse_tier(body["tier"]),
            seats=int(body["seats"]),
            sealed=item.sealed or "",
            created=body["created"],
        )

    def save_signup(self, signup: Signup) -> None:
        body = {
            "tenant_id": signup.tenant_id,
            "tier": signup.tier.value,
            "seats": signup.seats,
            "created": signup.created,
        }
        item = BillingItem(
            pk=f"signup#{signup.session_id}",
            sk="signup",
            tenant_id=signup.tenant_id,
            body=json.dumps(body),
            sealed=signup.sealed,
            key_owner="platform",
        )
        self._dynamodb.put_item(TableName=self._table, Item=item.serialize())

    def invoice_outcome(self, invoice_id: str) -> InvoiceOutcome | None:
        item = self._get(f"invoice#{invoice_id}", "outcome")
        if item is None:
            return None
        body = json.loads(item.body or "{}")
        return InvoiceOutcome(invoice_id, item.tenant_id or "", item.status or "", int(body["event_created"]))

    def save_invoice_outcome(self, outcome: InvoiceOutcome) -> bool:
        item = BillingItem(
            pk=f"invoice#{outcome.invoice_id}",
            sk="outcome",
            tenant_id=outcome.tenant_id,
            status=outcome.outcome,
            body=json.dumps({"event_created": outcome.event_created}),
            version=outcome.event_created,
        )
        # "paid" is final; otherwise the newer event wins (version holds the event's created time).
        condition = (
            "attribute_not_exists(pk) OR (#s <> :paid AND version <= :created)"
            if outcome.outcome != "paid"
            else "attribute_not_exists(pk) OR #s <> :paid"
        )
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=item.serialize(),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":paid": {"S": "paid"},
                    **({":created": {"N": str(outcome.event_created)}} if outcome.outcome != "paid" else {}),
                },
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def add_notice(self, notice: Notice) -> None:
        item = BillingItem(
            pk=f"notice#{notice.tenant_id}",
            sk=f"{notice.sent}#{notice.kind}",
            tenant_id=notice.tenant_id,
            status=notice.kind,
            body=notice.text,
        )
        self._dynamodb.put_item(TableName=self._table, Item=item.serialize())

    def notices(self, tenant_id: str) -> list[Notice]:
        response = self._dynamodb.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"notice#{tenant_id}"}},
            ScanIndexForward=False,
            Limit=100,
        )
        items = [BillingItem.from_raw_data(raw) for raw in response.get("Items", [])]
        return [
            Notice(tenant_id, item.sk.split("#", 1)[0], item.status or "", item.body or "") for item in items
        ]


class InMemoryBillingAccounts(BaseBillingAccounts):
    """Billing records in dicts, with the same rules: for unit tests."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.links: dict[tuple[str, str], str] = {}
        self.signups: dict[str, Signup] = {}
        self.invoices: dict[str, InvoiceOutcome] = {}
        self.sent: list[Notice] = []
        self._lock = threading.Lock()

    def subscription(self, tenant_id: str) -> Subscription | None:
        return self.subscriptions.get(tenant_id)

    def save_subscription(self, subscription: Subscription, expected_version: int) -> None:
        with self._lock:
            stored = self.subscriptions.get(subscription.tenant_id)
            if (stored.version if stored else 0) != expected_version:
                raise ConcurrentBillingChange(f"subscription of {subscription.tenant_id} changed meanwhile")
            self.subscriptions[subscription.tenant_id] = Subscription(
                **{**asdict(subscription), "tier": subscription.tier, "version": expected_version + 1}
            )

    def tenant_for(self, kind: str, stripe_id: str) -> str | None:
        return self.links.get((kind, stripe_id))

    def link(self, kind: str, stripe_id: str, tenant_id: str) -> None:
        with self._lock:
            if self.links.get((kind, stripe_id), tenant_id) != tenant_id:
                raise AccountClaimed(f"that Stripe {kind} belongs to another clinic")
            self.links[(kind, stripe_id)] = tenant_id

    def account_of(self, tenant_id: str) -> str | None:
        return next(
            (sid for (kind, sid), tenant in self.links.items() if kind == "account" and tenant == tenant_id),
            None,
        )

    def signup(self, session_id: str) -> Signup | None:
        return self.signups.get(session_id)

    def save_signup(self, signup: Signup) -> None:
        self.signups[signup.session_id] = signup

    def invoice_outcome(self, invoice_id: str) -> InvoiceOutcome | None:
        return self.invoices.get(invoice_id)

    def save_invoice_outcome(self, outcome: InvoiceOutcome) -> bool:
        with self._lock:
            stored = self.invoices.get(outcome.invoice_id)
            if stored is not None and (
                stored.outcome == "paid"
                or (outcome.outcome != "paid" and stored.event_created > outcome.event_created)
            ):
                return False
            self.invoices[outcome.invoice_id] = outcome
            return True

    def add_notice(self, notice: Notice) -> None:
        self.sent.append(notice)

    def notices(self, tenant_id: str) -> list[Notice]:
        return sorted((n for n in self.sent if n.tenant_id == tenant_id), key=lambda n: n.sent, reverse=True)
