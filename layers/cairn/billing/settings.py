"""Billing's settings, validated once at cold start: the billing table, Stripe's key and signing
secret (from Secrets Manager in AWS, from the environment in the embedded runtime), where the
stripe library sends its requests, and where Checkout returns the browser to."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cairn import config
from cairn.config import require
from cairn.errors import ConfigurationError

STRIPE_API = "https://api.stripe.com"  # the stripe library's own default base address
SECRET_API_KEY = "api_key"  # noqa: S105 (the secret's field names, not secrets)
SECRET_WEBHOOK_SECRET = "webhook_secret"  # noqa: S105


@dataclass(frozen=True)
class StripeSettings:
    """How Cairn talks to Stripe. `api_base` None: Stripe itself (the fake only in dev and tests)."""

    api_key: str
    webhook_secret: str
    api_base: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], secrets: Any = None) -> StripeSettings:
        """From STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET where set (the embedded runtime), else from
        the Secrets Manager secret CAIRN_STRIPE_SECRET_ID names, read with `secrets` (a client)."""
        api_base = environ.get(config.STRIPE_API_BASE, "").strip() or None
        key, signing = (
            environ.get(config.STRIPE_API_KEY, "").strip(),
            environ.get(config.STRIPE_WEBHOOK_SECRET, "").strip(),
        )
        if key and signing:
            return cls(key, signing, api_base)
        arn = require(environ, config.STRIPE_SECRET_ID)
        if secrets is None:
            raise ConfigurationError(
                f"{config.STRIPE_SECRET_ID} is set but no Secrets Manager client was given"
            )
        try:
            stored = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
            return cls(str(stored[SECRET_API_KEY]), str(stored[SECRET_WEBHOOK_SECRET]), api_base)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"the Stripe secret must be JSON with {SECRET_API_KEY} and {SECRET_WEBHOOK_SECRET}; "
                "put the account's secret key and the webhook endpoint's signing secret there"
            ) from exc


@dataclass(frozen=True)
class BillingSettings:
    """Where billing's state lives and where Checkout returns to."""

    billing_table: str
    tenant_table: str
    return_url: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> BillingSettings:
        return cls(
            billing_table=require(environ, config.BILLING_TABLE),
            tenant_table=require(environ, config.TENANT_TABLE),
            return_url=require(environ, config.BILLING_RETURN_URL).rstrip("/"),
        )
