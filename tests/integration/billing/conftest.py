"""Billing's integration tests: the embedded runtime of tests/integration/conftest.py provisioned
with the local fake Stripe (devkit/stripe_fake.py) as the stripe library's base address, and the
local API front serving the declared APIs, so the fake's signed deliveries reach the deployed
webhook function over HTTP as API Gateway would hand them over. Dunning waits follow the
embedded runtime's virtual clock (devkit.clock), which the tests advance."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cairn.aws import AwsClients
from cairn.billing.plans import PLANS
from cairn.billing.services import BillingRuntime
from devkit import clock as virtual_clock
from devkit.api_front import ApiBackend, ApiFront, load_apps
from devkit.clock import VirtualClock
from devkit.deployment import Deployment
from devkit.provision import ProvisionTarget, provision
from devkit.stripe_fake import FakeStripe, FakeStripeServer


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[FakeStripeServer]:
    server = FakeStripeServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fake_stripe(stripe_server: FakeStripeServer) -> FakeStripe:
    return stripe_server.stripe


@pytest.fixture(scope="module")
def deployment(clients: AwsClients, endpoint: str, stripe_server: FakeStripeServer) -> Deployment:
    """Cairn provisioned as `cairn dev` provisions it, talking to the fake Stripe."""
    return provision(
        clients, ProvisionTarget(endpoint_url=endpoint, embedded=True, stripe_api_base=stripe_server.url)
    )


@pytest.fixture(scope="module")
def front(clients: AwsClients, deployment: Deployment, fake_stripe: FakeStripe) -> Iterator[ApiFront]:
    """The local API front; the fake Stripe delivers its events to its /webhooks/stripe."""
    served = ApiFront(port=0)
    served.backend = ApiBackend(clients, deployment, load_apps(deployment))
    served.start()
    served.ready.set()
    fake_stripe.webhook_url = f"{served.url}/webhooks/stripe"
    yield served
    served.stop()


@pytest.fixture(scope="module")
def runtime(clients: AwsClients, deployment: Deployment, front: ApiFront) -> BillingRuntime:
    """Billing as the webhook function builds it (its environment), for setting up and reading back."""
    billing = BillingRuntime(deployment.function_environments["stripe-webhook"], clients)
    for plan in PLANS.values():
        billing.gateway.sync_plan(plan)
    return billing


@pytest.fixture(scope="module")
def clock(endpoint: str) -> VirtualClock:
    return virtual_clock.current()
