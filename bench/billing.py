"""Benchmark: the Stripe webhook's verify + record + dispatch per event, in the embedded runtime
`cairn dev` uses, beside its floors, with AWS calls per event.

    .venv/bin/python -m bench.billing [--events 300]

Rows (each over --events events signed with the stripe library's scheme, run in this process
through the webhook function's own use case, `BillingRuntime.receiver.receive`):
1. floor A: signature verification alone (`stripe.WebhookSignature.verify_header`);
2. floor B: the DynamoDB writes no webhook can avoid: one conditional PutItem that stores the
   event before acting and one write that marks it handled, straight through boto3;
3. an event type Cairn does not act on: verified, placed (platform key), sealed, recorded, acknowledged;
4. invoice.paid for an active clinic: placed through its customer, sealed under its data key,
   recorded, applied (the invoice's outcome, the clinic's subscription read, no status change), done;
5. a replay of an event already handled: verified, sealed, found done, acknowledged.

AWS calls are counted on the runtime's clients (bench.measure.CallCounter). The emulator is moto
over HTTP on 127.0.0.1, so every call is a loopback round trip: the calls per event carry over to
AWS, the milliseconds do not.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import stripe

from bench.measure import HEADER, CallCounter, Figures, measure
from cairn.aws import AwsClients, AwsSettings
from cairn.billing.accounts import Subscription
from cairn.billing.plans import PLANS
from cairn.billing.services import BillingRuntime
from devkit import emulator
from devkit.provision import ProvisionTarget, provision
from devkit.stripe_fake import FakeStripeServer
from multitenant.lifecycle import TenantStatus
from multitenant.registry import Tenant
from multitenant.tiers import Tier

TENANT = "bench-billing"
CUSTOMER = "cus_bench"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def event(kind: str, obj: dict[str, Any]) -> bytes:
    """An event in Stripe's format with a fresh id."""
    return json.dumps(
        {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "type": kind,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        }
    ).encode()


def invoice_paid() -> bytes:
    return event(
        "invoice.paid",
        {
            "id": f"in_{secrets.token_hex(8)}",
            "object": "invoice",
            "customer": CUSTOMER,
            "subscription": "sub_bench",
            "status": "paid",
            "amount_due": 29_700,
            "subscription_details": {"metadata": {"tenant_id": TENANT}},
        },
    )


def unknown_type() -> bytes:
    return event("customer.tax_id.created", {"id": f"txi_{secrets.token_hex(8)}", "object": "tax_id"})


def signed(bodies: list[bytes], secret: str) -> list[tuple[bytes, str]]:
    return [
        (body, stripe.WebhookSignature.generate_signature_header(body.decode(), secret)) for body in bodies
    ]


def set_up(runtime: BillingRuntime) -> None:
    """An active clinic with a subscription, its customer linked (as its signup left it)."""
    now = "2026-12-01T00:00:00.000Z"
    runtime.registry.add(
        Tenant(TENANT, "Bench Clinic", Tier.PRACTICE, TenantStatus.ACTIVE, now, now, seats=3)
    )
    runtime.accounts.link("customer", CUSTOMER, TENANT)
    runtime.accounts.save_subscription(
        Subscription(TENANT, "sub_bench", CUSTOMER, "active", Tier.PRACTICE, 3, 1), 0
    )


def figures(events: int, cache_dir: Path) -> list[Figures]:
    running = emulator.start_embedded(_free_port(), cache_dir)
    stripe_server = FakeStripeServer().start()
    try:
        clients = AwsClients(AwsSettings(region=emulator.REGION, endpoint_url=running.endpoint_url))
        deployment = provision(
            clients,
            ProvisionTarget(
                endpoint_url=running.endpoint_url, embedded=True, stripe_api_base=stripe_server.url
            ),
        )
        counter = CallCounter()
        counted = AwsClients(clients.settings, on_client=counter.attach)
        runtime = BillingRuntime(deployment.function_environments["stripe-webhook"], counted)
        for plan in PLANS.values():
            runtime.gateway.sync_plan(plan)
        set_up(runtime)
        secret = runtime.stripe_settings.webhook_secret
        receiver = runtime.receiver
        receiver.receive(*signed([unknown_type()], secret)[0])  # warm: clients, platform and tenant keys
        receiver.receive(*signed([invoice_paid()], secret)[0])

        def run(
            name: str, deliveries: list[tuple[bytes, str]], operation: Callable[[bytes, str], object]
        ) -> Figures:
            return measure(name, len(deliveries), lambda i: operation(*deliveries[i]), counter)

        rows = [
            run(
                "floor A: signature verification alone",
                signed([unknown_type() for _ in range(events)], secret),
                lambda body, header: stripe.WebhookSignature.verify_header(
                    body.decode(), header, secret, 300
                ),
            )
        ]
        dynamodb, table = counted.dynamodb(), runtime.settings.billing_table
        sealed = runtime.sealer.seal(None, "evt_floor", "payload", unknown_type().decode()).ciphertext

        def two_writes(body: bytes, _header: str) -> None:
            key = {"pk": {"S": f"event#{json.loads(body)['id']}"}, "sk": {"S": "event"}}
            dynamodb.put_item(
                TableName=table,
                Item={**key, "sealed": {"S": sealed}, "status": {"S": "received"}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET #s = :done",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":done": {"S": "processed"}},
            )

        rows.append(
            run(
                "floor B: the two DynamoDB writes (store, mark handled)",
                signed([unknown_type() for _ in range(events)], secret),
                two_writes,
            )
        )
        rows.append(
            run(
                "webhook: a type Cairn does not act on (verify, seal, record, acknowledge)",
                signed([unknown_type() for _ in range(events)], secret),
                receiver.receive,
            )
        )
        paid = signed([invoice_paid() for _ in range(events)], secret)
        rows.append(
            run(
                "webhook: invoice.paid of an active clinic (verify, place, seal, record, apply)",
                paid,
                receiver.receive,
            )
        )
        rows.append(
            run("webhook: a replay of a handled event (verify, seal, found done)", paid, receiver.receive)
        )
        return rows
    finally:
        stripe_server.stop()
        running.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300, help="events per row")
    args = parser.parse_args(argv)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    emulator.use_local_credentials()
    with tempfile.TemporaryDirectory(prefix="cairn-bench-billing-") as cache_dir:
        rows = figures(max(10, args.events), Path(cache_dir))
    print(HEADER.replace("| operation |", "| per event |"))
    for row in rows:
        print(row.row())
    print()
    print("| per event | events/s (1 / p50) |\n|---|---|")
    for row in rows:
        print(f"| {row.name} | {1000 / row.p50_ms:,.0f} |")


if __name__ == "__main__":
    main()
