"""`cairn stripe ...`: Cairn's plans in a Stripe account.

  cairn stripe sync-plans                 the fake Stripe of the running `cairn dev`
  cairn stripe sync-plans --stage S       the Stripe account of deployed stage S (its Secrets
                                          Manager secret; AWS_ENDPOINT_URL picks LocalStack)
  STRIPE_API_KEY=sk_test_... cairn stripe sync-plans --stage S
                                          that key instead of the stage's secret

Idempotent: products are found by Cairn's own ids and prices by lookup key, so running it again
changes nothing; a changed price creates a new price that takes over the lookup key.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from cairn import config
from cairn.billing.gateway import PlanSync, StripeGateway, StripeUnavailable
from cairn.billing.plans import PLANS
from cairn.billing.settings import StripeSettings
from cairn.errors import ConfigurationError
from devkit.deployment import Deployment, state_dir
from devkit.discovery import DiscoveryError, stage_clients
from devkit.stripe_fake import LOCAL_API_KEY, LOCAL_WEBHOOK_SECRET
from infra import names
from infra.declarations import STRIPE


def sync_plans(gateway: StripeGateway) -> list[PlanSync]:
    """Every plan of cairn.billing.plans made to hold in the gateway's Stripe account."""
    return [gateway.sync_plan(plan) for plan in PLANS.values()]


def add_parser(commands: Any, state_help: str, stage_help: str) -> None:
    stripe = commands.add_parser("stripe", help="Cairn's plans in a Stripe account (docs/billing.md)")
    actions = stripe.add_subparsers(dest="stripe_command", required=True)
    sync = actions.add_parser("sync-plans", help="create or update the tiers' products and per-seat prices")
    sync.add_argument("--stage", help=stage_help + "; default: the fake Stripe of `cairn dev` in --state-dir")
    sync.add_argument("--state-dir", help=state_help)


def gateway_for(args: argparse.Namespace) -> StripeGateway:
    """The Stripe account the command works on (see the module's docstring)."""
    if not args.stage:
        deployment = Deployment.read(state_dir(args.state_dir))
        if not deployment.stripe_url:
            raise ConfigurationError("this `cairn dev` runs no fake Stripe; restart it")
        return StripeGateway(StripeSettings(LOCAL_API_KEY, LOCAL_WEBHOOK_SECRET, deployment.stripe_url))
    key = os.environ.get(config.STRIPE_API_KEY, "").strip()
    if key:
        return StripeGateway(StripeSettings(key, "", None))
    secrets = stage_clients(os.environ).client("secretsmanager")
    environ = {config.STRIPE_SECRET_ID: names.resource_name(args.stage, STRIPE)}
    return StripeGateway(StripeSettings.from_environ(environ, secrets))


def run(args: argparse.Namespace) -> int:
    """`cairn stripe sync-plans`: one line per plan saying what changed."""
    try:
        for synced in sync_plans(gateway_for(args)):
            print(f"{synced.tier}: product {synced.product}, price {synced.price} ({synced.price_id})")
    except (FileNotFoundError, ConfigurationError, StripeUnavailable, DiscoveryError) as exc:
        print(f"cairn stripe: {exc}", file=sys.stderr)
        return 1
    return 0
