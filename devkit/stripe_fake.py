"""A local fake of Stripe's API, for `cairn dev` and the tests: the stripe library talks to it as it
would to api.stripe.com (its base address points here), and it sends signed webhook events in
Stripe's own format to the endpoint it is given.

It speaks the REST shapes Cairn uses: form-encoded requests with Stripe's bracket notation, JSON
objects with `id` and `object`, lists as {"object": "list", "data": [...]}, errors as {"error":
{"type", "message", "code", "param"}}, idempotency keys (the same key answers the same object),
and the Stripe-Account header for connected accounts. What a real customer does in Stripe's
pages (paying a Checkout session, a card failing at renewal) is done through `/_fake/...`
control routes, or the pay button of its local checkout page.

Events are signed with the stripe library's own scheme (`WebhookSignature.generate_signature_header`)
and delivered like Stripe delivers them: POSTed to the endpoint, retried (a few times, quickly)
while the endpoint answers anything but 2xx. Only loopback addresses are served and called.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import stripe

LOGGER = logging.getLogger("cairn.stripe-fake")
LOOPBACK = "127.0.0.1"
API_VERSION = "2025-01-27.acacia"
DELIVERY_ATTEMPTS = 4
RETRY_SECONDS = 0.5
INTEGER_FIELDS = frozenset({"unit_amount", "quantity", "amount", "amount_total"})
LOCAL_WEBHOOK_SECRET = "whsec_cairn_local_development"  # noqa: S105 `cairn dev`'s documented default
LOCAL_API_KEY = "sk_test_cairn_local"  # a test-mode key shape; the fake accepts any sk_test_ key


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding ("a[b][0][c]=v") as nested dicts, and lists where the keys are indexes."""
    tree: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        target = tree
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        leaf = parts[-1]
        target[leaf if leaf else str(len(target))] = _coerce(
            parts[-2] if leaf.isdigit() and len(parts) > 1 else leaf, value
        )
    listed = _listed(tree)
    assert isinstance(listed, dict)
    return listed


def _listed(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if value and all(key.isdigit() for key in value):
        return [_listed(value[key]) for key in sorted(value, key=int)]
    return {key: _listed(item) for key, item in value.items()}


def _coerce(name: str, value: str) -> Any:
    if value in ("true", "false"):
        return value == "true"
    if name in INTEGER_FIELDS and value.lstrip("-").isdigit():
        return int(value)
    return value


class FakeStripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str = "resource_missing",
        param: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.kind = status, message, code, param, kind

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.kind, "message": self.message, "code": self.code, "param": self.param}}


@dataclass
class Delivery:
    event_id: str
    type: str
    statuses: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.event_id, "type": self.type, "statuses": self.statuses}


class FakeStripe:
    """Stripe's objects in memory, the routes over them, and webhook delivery."""

    def __init__(
        self, webhook_secret: str = LOCAL_WEBHOOK_SECRET, webhook_url: str | None = None, base_url: str = ""
    ) -> None:
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.base_url = base_url
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.deliveries: list[Delivery] = []
        self._idempotent: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self._lock = threading.RLock()
        self.requests = 0

    # --- storage -------------------------------------------------------------------------------
    def _new(
        self,
        kind: str,
        prefix: str,
        fields: Mapping[str, Any],
        account: str | None = None,
        object_id: str | None = None,
    ) -> dict[str, Any]:
        obj = {
            "id": object_id or f"{prefix}_{secrets.token_hex(12)}",
            "object": kind,
            "created": int(time.time()),
            "livemode": False,
            "metadata": {},
            **fields,
        }
        if account:
            obj["_account"] = account
        self.objects.setdefault(kind, {})[obj["id"]] = obj
        return obj

    def _get(self, kind: str, object_id: str, account: str | None = None) -> dict[str, Any]:
        obj = self.objects.get(kind, {}).get(object_id)
        if obj is None or obj.get("_account") != account:
            raise FakeStripeError(404, f"No such {kind}: '{object_id}'", param="id")
        return obj

    @staticmethod
    def public(obj: Mapping[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in obj.items() if not key.startswith("_")}

    # --- the API ---------------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, Any],
        form: dict[str, Any],
        account: str | None,
        idempotency_key: str | None,
    ) -> dict[str, Any]:
        """Answer one API request (the routes Cairn's gateway uses)."""
        with self._lock:
            self.requests += 1
            if method == "POST" and idempotency_key:
                cached = self._idempotent.get((path, account, idempotency_key))
                if cached is not None:
                    return cached
            answer = self._route(method, path.rstrip("/").split("/")[1:], query, form, account)
            if method == "POST" and idempotency_key:
                self._idempotent[(path, account, idempotency_key)] = answer
            return answer

    def _route(
        self, method: str, parts: list[str], query: dict[str, Any], form: dict[str, Any], account: str | None
    ) -> dict[str, Any]:
        if parts[:1] != ["v1"]:
            raise FakeStripeError(404, "Unrecognized request URL", code="url_invalid")
        route = parts[1:]
        if route == ["products"] and method == "POST":
            return self._create_product(form)
        if len(route) == 2 and route[0] == "products":
            product = self._get("product", route[1])
            if method == "POST":
                product.update({k: v for k, v in form.items() if k != "metadata"})
                product["metadata"] = {**product["metadata"], **form.get("metadata", {})}
            return self.public(product)
        if route == ["prices"] and method == "GET":
            return self._list_prices(query)
        if route == ["prices"] and method == "POST":
            return self._create_price(form)
        if route == ["checkout", "sessions"] and method == "POST":
            return self._create_session(form, account)
        if len(route) == 3 and route[:2] == ["checkout", "sessions"]:
            return self.public(self._get("checkout.session", route[2], account))
        if len(route) == 2 and route[0] == "subscriptions" and method == "GET":
            return self.public(self._get("subscription", route[1]))
        if len(route) == 2 and route[0] == "subscriptions" and method == "DELETE":
            return self.public(self.cancel_subscription(route[1]))
        if route == ["accounts"] and method == "POST":
            return self.public(
                self._new(
                    "account",
                    "acct",
                    {
                        "type": form.get("type", "express"),
                        "email": form.get("email"),
                        "metadata": form.get("metadata", {}),
                        "charges_enabled": True,
                    },
                )
            )
        if route == ["account_links"] and method == "POST":
            self._get("account", str(form.get("account")))
            return {
                "object": "account_link",
                "created": int(time.time()),
                "expires_at": int(time.time()) + 300,
                "url": f"{self.base_url}/connect/{form['account']}/onboarding",
            }
        if route == ["refunds"] and method == "POST":
            return self._create_refund(form, account)
        if len(route) == 2 and route[0] == "payment_intents":
            return self.public(self._get("payment_intent", route[1], account))
        raise FakeStripeError(
            404, f"Unrecognized request URL ({method}: /{'/'.join(parts)})", code="url_invalid"
        )

    def _create_product(self, form: dict[str, Any]) -> dict[str, Any]:
        if form.get("id") in self.objects.get("product", {}):
            raise FakeStripeError(
                400, f"Product already exists: {form['id']}", code="resource_already_exists"
            )
        if not form.get("name"):
            raise FakeStripeError(
                400, "Missing required param: name.", code="parameter_missing", param="name"
            )
        fields = {
            "name": form["name"],
            "description": form.get("description"),
            "active": True,
            "metadata": form.get("metadata", {}),
        }
        return self.public(self._new("product", "prod", fields, object_id=form.get("id")))

    def _list_prices(self, query: dict[str, Any]) -> dict[str, Any]:
        keys = set(query.get("lookup_keys") or [])
        prices = [
            self.public(price)
            for price in self.objects.get("price", {}).values()
            if (not keys or price.get("lookup_key") in keys)
            and ("active" not in query or price["active"] == query["active"])
        ]
        return {"object": "list", "data": prices, "has_more": False, "url": "/v1/prices"}

    def _create_price(self, form: dict[str, Any]) -> dict[str, Any]:
        self._get("product", str(form.get("product")))
        if not isinstance(form.get("unit_amount"), int) or form["unit_amount"] < 0:
            raise FakeStripeError(
                400, "Invalid integer: unit_amount", code="parameter_invalid_integer", param="unit_amount"
            )
        key = form.get("lookup_key")
        for price in self.objects.get("price", {}).values():
            if key and price.get("lookup_key") == key:
                if not form.get("transfer_lookup_key"):
                    raise FakeStripeError(
                        400,
                        f"A price with lookup_key {key} already exists",
                        code="lookup_key_exists",
                        param="lookup_key",
                    )
                price["lookup_key"] = None
        fields = {
            "product": form["product"],
            "currency": form.get("currency", "usd"),
            "unit_amount": form["unit_amount"],
            "recurring": form.get("recurring"),
            "lookup_key": key,
            "nickname": form.get("nickname"),
            "active": True,
            "type": "recurring" if form.get("recurring") else "one_time",
            "metadata": form.get("metadata", {}),
        }
        return self.public(self._new("price", "price", fields))

    def _create_session(self, form: dict[str, Any], account: str | None) -> dict[str, Any]:
        mode = form.get("mode")
        items = form.get("line_items") or []
        if mode not in ("subscription", "payment") or not items:
            raise FakeStripeError(400, "mode and line_items are required", code="parameter_missing")
        total = 0
        for item in items:
            if "price" in item:
                total += self._get("price", str(item["price"]))["unit_amount"] * int(item.get("quantity", 1))
            else:
                total += int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
        session_id = f"cs_test_{secrets.token_hex(16)}"
        fields = {
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": total,
            "currency": "usd",
            "customer": None,
            "customer_email": form.get("customer_email"),
            "client_reference_id": form.get("client_reference_id"),
            "metadata": form.get("metadata", {}),
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "subscription": None,
            "payment_intent": None,
            "url": f"{self.base_url}/checkout/{session_id}",
            "_line_items": items,
            "_subscription_data": form.get("subscription_data", {}),
            "_payment_intent_data": form.get("payment_intent_data", {}),
        }
        return self.public(self._new("checkout.session", "cs", fields, account, object_id=session_id))

    def _create_refund(self, form: dict[str, Any], account: str | None) -> dict[str, Any]:
        intent = self._get("payment_intent", str(form.get("payment_intent")), account)
        amount = int(form.get("amount") or intent["amount_received"])
        refunded = intent.get("_refunded", 0)
        if amount <= 0 or refunded + amount > intent["amount_received"]:
            raise FakeStripeError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({intent['amount_received'] - refunded})",
                code="amount_too_large",
                param="amount",
            )
        intent["_refunded"] = refunded + amount
        refund = self._new(
            "refund",
            "re",
            {
                "amount": amount,
                "payment_intent": intent["id"],
                "charge": intent["latest_charge"],
                "status": "succeeded",
                "currency": "usd",
            },
            account,
        )
        charge = {
            "id": intent["latest_charge"],
            "object": "charge",
            "amount": intent["amount_received"],
            "amount_refunded": intent["_refunded"],
            "payment_intent": intent["id"],
            "refunded": intent["_refunded"] == intent["amount_received"],
            "metadata": intent["metadata"],
            "refunds": {"object": "list", "data": [self.public(refund)]},
        }
        self.emit_later([("charge.refunded", charge, None)], account)
        return self.public(refund)

    # --- what customers do in Stripe's pages ---------------------------------------------------
    def complete_session(self, session_id: str, account: str | None = None) -> list[Delivery]:
        """The customer paid the Checkout session: make what Stripe makes and send its events."""
        with self._lock:
            session = self._find("checkout.session", session_id)
            account = session.get("_account")
            if session["status"] == "complete":
                raise FakeStripeError(
                    400, "This Checkout session is already complete", code="session_complete"
                )
            session.update(status="complete", payment_status="paid")
            if session["mode"] == "subscription":
                customer = self._new("customer", "cus", {"email": session["customer_email"]})
                item = session["_line_items"][0]
                subscription = self._new(
                    "subscription",
                    "sub",
                    {
                        "customer": customer["id"],
                        "status": "active",
                        "metadata": session["_subscription_data"].get("metadata", {}),
                        "items": {
                            "object": "list",
                            "data": [
                                {
                                    "id": f"si_{secrets.token_hex(8)}",
                                    "object": "subscription_item",
                                    "quantity": int(item.get("quantity", 1)),
                                    "price": self.public(self._get("price", item["price"])),
                                }
                            ],
                        },
                    },
                )
                session.update(customer=customer["id"], subscription=subscription["id"])
                invoice = self._invoice(subscription, "paid")
                events = [
                    ("checkout.session.completed", self.public(session), None),
                    ("customer.subscription.created", self.public(subscription), None),
                    ("invoice.paid", self.public(invoice), None),
                ]
            else:
                metadata = session["_payment_intent_data"].get("metadata", {})
                intent = self._new(
                    "payment_intent",
                    "pi",
                    {
                        "amount": session["amount_total"],
                        "amount_received": session["amount_total"],
                        "currency": "usd",
                        "status": "succeeded",
                        "metadata": metadata,
                        "latest_charge": f"ch_{secrets.token_hex(12)}",
                    },
                    account,
                )
                session["payment_intent"] = intent["id"]
                events = [
                    ("checkout.session.completed", self.public(session), None),
                    ("payment_intent.succeeded", self.public(intent), None),
                ]
        return self.emit(events, account)

    def _find(self, kind: str, object_id: str) -> dict[str, Any]:
        obj = self.objects.get(kind, {}).get(object_id)
        if obj is None:
            raise FakeStripeError(404, f"No such {kind}: '{object_id}'")
        return obj

    def _invoice(self, subscription: dict[str, Any], status: str) -> dict[str, Any]:
        item = subscription["items"]["data"][0]
        return self._new(
            "invoice",
            "in",
            {
                "customer": subscription["customer"],
                "subscription": subscription["id"],
                "status": status,
                "amount_due": item["price"]["unit_amount"] * item["quantity"],
                "currency": "usd",
                "subscription_details": {"metadata": subscription["metadata"]},
                "parent": {
                    "type": "subscription_details",
                    "subscription_details": {
                        "subscription": subscription["id"],
                        "metadata": subscription["metadata"],
                    },
                },
            },
        )

    def fail_renewal(self, subscription_id: str) -> list[Delivery]:
        """The card failed at renewal: an open invoice, the subscription past_due."""
        with self._lock:
            subscription = self._find("subscription", subscription_id)
            invoice = self._invoice(subscription, "open")
            previous = subscription["status"]
            subscription["status"] = "past_due"
            events = [
                ("invoice.payment_failed", self.public(invoice), None),
                ("customer.subscription.updated", self.public(subscription), {"status": previous}),
            ]
        return self.emit(events, None)

    def pay_invoice(self, invoice_id: str) -> list[Delivery]:
        """The clinic paid an open invoice (a new card): paid, the subscription active again."""
        with self._lock:
            invoice = self._find("invoice", invoice_id)
            invoice["status"] = "paid"
            subscription = self._find("subscription", invoice["subscription"])
            previous = subscription["status"]
            subscription["status"] = "active"
            events = [
                ("invoice.paid", self.public(invoice), None),
                ("customer.subscription.updated", self.public(subscription), {"status": previous}),
            ]
        return self.emit(events, None)

    def change_subscription(
        self, subscription_id: str, *, quantity: int | None = None, lookup_key: str | None = None
    ) -> list[Delivery]:
        """The clinic changed its seats or plan in the billing portal."""
        with self._lock:
            subscription = self._find("subscription", subscription_id)
            item = subscription["items"]["data"][0]
            previous = {"items": json.loads(json.dumps(subscription["items"]))}
            if quantity is not None:
                item["quantity"] = quantity
            if lookup_key is not None:
                (price,) = [
                    p for p in self.objects.get("price", {}).values() if p.get("lookup_key") == lookup_key
                ]
                item["price"] = self.public(price)
            events = [("customer.subscription.updated", self.public(subscription), previous)]
        return self.emit(events, None)

    def cancel_subscription(self, subscription_id: str) -> dict[str, Any]:
        """Cancel now; sends customer.subscription.deleted (later, as Stripe does)."""
        with self._lock:
            subscription = self._find("subscription", subscription_id)
            if subscription["status"] != "canceled":
                subscription["status"] = "canceled"
                self.emit_later([("customer.subscription.deleted", self.public(subscription), None)], None)
            return subscription

    # --- events ----------------------------------------------------------------------------------
    def event(
        self, kind: str, obj: Mapping[str, Any], previous: Mapping[str, Any] | None, account: str | None
    ) -> dict[str, Any]:
        """An event in Stripe's format, kept for redelivery."""
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": dict(obj), **({"previous_attributes": dict(previous)} if previous else {})},
        }
        if account:
            event["account"] = account
        self.events[event["id"]] = event
        return event

    def emit(
        self, events: list[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]], account: str | None
    ) -> list[Delivery]:
        """Create and deliver `events` in order, now."""
        made = [self.event(kind, obj, previous, account) for kind, obj, previous in events]
        return [self.deliver(event) for event in made]

    def emit_later(
        self, events: list[tuple[str, Mapping[str, Any], Mapping[str, Any] | None]], account: str | None
    ) -> None:
        """Create `events` now and deliver them from another thread (Stripe sends after answering)."""
        made = [self.event(kind, obj, previous, account) for kind, obj, previous in events]
        threading.Thread(target=lambda: [self.deliver(e) for e in made], daemon=True).start()

    def deliver(self, event: Mapping[str, Any], signer: Callable[[str], str] | None = None) -> Delivery:
        """POST `event`, signed, to the webhook URL; retried while it answers other than 2xx."""
        delivery = Delivery(str(event["id"]), str(event["type"]))
        self.deliveries.append(delivery)
        if not self.webhook_url:
            return delivery
        payload = json.dumps(event)
        for attempt in range(DELIVERY_ATTEMPTS):
            header = (signer or self._sign)(payload)
            try:
                response = requests.post(
                    self.webhook_url,
                    data=payload.encode(),
                    timeout=30,
                    headers={
                        "Content-Type": "application/json; charset=utf-8",
                        "Stripe-Signature": header,
                        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                    },
                )
                delivery.statuses.append(response.status_code)
                if response.ok:
                    break
            except requests.RequestException:
                delivery.statuses.append(0)
            if attempt < DELIVERY_ATTEMPTS - 1:
                time.sleep(RETRY_SECONDS * (attempt + 1))
        return delivery

    def _sign(self, payload: str) -> str:
        return stripe.WebhookSignature.generate_signature_header(payload, self.webhook_secret)

    def redeliver(self, event_id: str) -> Delivery:
        """Send a kept event again (Stripe's "resend")."""
        event = self.events.get(event_id)
        if event is None:
            raise FakeStripeError(404, f"No such event: '{event_id}'")
        return self.deliver(event)


class FakeStripeServer:
    """FakeStripe on a loopback port, in a thread: started and stopped by `cairn dev` and tests."""

    def __init__(
        self, port: int = 0, webhook_secret: str = LOCAL_WEBHOOK_SECRET, webhook_url: str | None = None
    ) -> None:
        self.stripe = FakeStripe(webhook_secret, webhook_url)
        self._server = ThreadingHTTPServer((LOOPBACK, port), _handler(self.stripe))
        self._server.daemon_threads = True
        self.stripe.base_url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeStripeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _control(fake: FakeStripe, method: str, parts: list[str], form: dict[str, Any]) -> Any:
    """The `/_fake/...` routes: what customers do in Stripe's pages, and the events sent."""
    if method == "GET" and parts == ["events"]:
        return {"events": list(fake.events.values()), "deliveries": [d.as_dict() for d in fake.deliveries]}
    if method == "POST" and len(parts) == 3 and parts[0] == "events" and parts[2] == "redeliver":
        return fake.redeliver(parts[1]).as_dict()
    if (
        method == "POST"
        and len(parts) == 4
        and parts[:2] == ["checkout", "sessions"]
        and parts[3] == "complete"
    ):
        return [d.as_dict() for d in fake.complete_session(parts[2])]
    if method == "POST" and len(parts) == 3 and parts[0] == "subscriptions" and parts[2] == "fail_renewal":
        return [d.as_dict() for d in fake.fail_renewal(parts[1])]
    if method == "POST" and len(parts) == 3 and parts[0] == "subscriptions" and parts[2] == "change":
        quantity = form.get("quantity")
        return [
            d.as_dict()
            for d in fake.change_subscription(
                parts[1], quantity=int(quantity) if quantity else None, lookup_key=form.get("lookup_key")
            )
        ]
    if method == "POST" and len(parts) == 3 and parts[0] == "invoices" and parts[2] == "pay":
        return [d.as_dict() for d in fake.pay_invoice(parts[1])]
    raise FakeStripeError(404, f"no fake control route {method} /_fake/{'/'.join(parts)}", code="url_invalid")


def _checkout_page(fake: FakeStripe, session_id: str) -> bytes:
    session = fake._find("checkout.session", session_id)
    amount = f"${session['amount_total'] / 100:,.2f}"
    return (
        f"<!doctype html><title>Fake Stripe Checkout</title><h1>Fake Stripe Checkout</h1>"
        f"<p>{html.escape(session['mode'])}: {amount} (test mode, no card needed)</p>"
        f"<form method=post action='/_fake/checkout/sessions/{session_id}/complete?redirect=1'>"
        f"<button>Pay {amount}</button></form>"
    ).encode()


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            form = decode_form(body) if body else {}
            query = decode_form(url.query) if url.query else {}
            parts = [part for part in url.path.split("/") if part]
            try:
                if parts[:1] == ["checkout"] and len(parts) == 2 and self.command == "GET":
                    self._send(200, _checkout_page(fake, parts[1]), "text/html; charset=utf-8")
                    return
                if parts[:1] == ["_fake"]:
                    answer = _control(fake, self.command, parts[1:], form)
                    if query.get("redirect") and parts[1:3] == ["checkout", "sessions"]:
                        target = fake._find("checkout.session", parts[3])["success_url"] or "/"
                        self.send_response(303)
                        self.send_header("Location", target.replace("{CHECKOUT_SESSION_ID}", parts[3]))
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                else:
                    self._authenticate()
                    answer = fake.handle(
                        self.command,
                        url.path,
                        query,
                        form,
                        self.headers.get("Stripe-Account"),
                        self.headers.get("Idempotency-Key"),
                    )
                self._send(200, json.dumps(answer).encode(), "application/json")
            except FakeStripeError as exc:
                self._send(exc.status, json.dumps(exc.body()).encode(), "application/json")

        def _authenticate(self) -> None:
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
            if not token.startswith("sk_test_"):
                raise FakeStripeError(
                    401, "Invalid API Key provided", code="api_key_invalid", kind="invalid_request_error"
                )

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Request-Id", f"req_{secrets.token_hex(8)}")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            LOGGER.debug(format, *args)

    return Handler
