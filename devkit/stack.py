"""The embedded stack behind `cairn dev`: emulator, provisioned resources, API front, demo data."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cairn.aws import AwsClients, AwsSettings
from cairn.billing.gateway import StripeGateway
from cairn.billing.settings import StripeSettings
from devkit import emulator, seed
from devkit.api_front import ApiBackend, ApiFront, load_apps
from devkit.deployment import DEPLOYMENT_FILE, Deployment
from devkit.provision import ProvisionTarget, provision
from devkit.stripe_commands import sync_plans
from devkit.stripe_fake import LOCAL_API_KEY, LOCAL_WEBHOOK_SECRET, FakeStripeServer
from infra.declarations import PROJECT_ROOT

LOGGER = logging.getLogger("cairn.dev")


@dataclass(frozen=True)
class DevOptions:
    api_port: int
    emulator_port: int
    state_dir: Path
    functions_root: Path = PROJECT_ROOT / "functions"
    synthea_dir: Path = seed.SYNTHEA_DIR


@dataclass(frozen=True)
class RunningStack:
    deployment: Deployment
    seeded: seed.SeedReport
    startup_seconds: float


class DevStack:
    """Starts and stops everything `cairn dev` runs, in order, and records the deployment."""

    def __init__(self, options: DevOptions) -> None:
        self._options = options
        self._emulator: emulator.Emulator | None = None
        self._front: ApiFront | None = None
        self._stripe: FakeStripeServer | None = None

    def start(self) -> RunningStack:
        """Start the emulator and the API front, provision, seed; health turns 200 at the end."""
        started = time.perf_counter()
        # Listen first, so whoever waits for /health sees 503 rather than a refused connection.
        emulator.require_free_port(self._options.api_port, "--api-port")
        self._front = ApiFront(self._options.api_port)
        self._front.start()
        self._emulator = emulator.start(self._options.emulator_port, self._options.state_dir / "lambda")
        clients = AwsClients(AwsSettings.from_environ(os.environ))
        # Billing talks to a local fake Stripe, which delivers its signed events to the front.
        self._stripe = FakeStripeServer(webhook_url=f"{self._front.url}/webhooks/stripe").start()
        target = ProvisionTarget(self._emulator.endpoint_url, self._emulator.embedded,
                                 functions_root=self._options.functions_root,
                                 stripe_api_base=self._stripe.url,
                                 billing_return_url=f"{self._front.url}/billing")
        LOGGER.info("provisioning into %s", self._emulator.endpoint_url)
        deployment = provision(clients, target)
        deployment.api_url = self._front.url
        deployment.stripe_url = self._stripe.url
        sync_plans(StripeGateway(StripeSettings(LOCAL_API_KEY, LOCAL_WEBHOOK_SECRET, self._stripe.url)))
        self._front.backend = ApiBackend(clients, deployment, load_apps(deployment))
        LOGGER.info("seeding the demo clinics")
        report = seed.seed(clients, deployment, self._options.synthea_dir)
        deployment.write(self._options.state_dir)
        self._front.ready.set()
        return RunningStack(deployment, report, time.perf_counter() - started)

    def stop(self) -> None:
        """Stop serving, stop the emulator, and remove deployment.json (its state is gone)."""
        if self._front is not None:
            self._front.stop()
            self._front = None
        if self._stripe is not None:
            self._stripe.stop()
            self._stripe = None
        if self._emulator is not None:
            if self._emulator.embedded:
                (self._options.state_dir / DEPLOYMENT_FILE).unlink(missing_ok=True)
            self._emulator.stop()
            self._emulator = None
