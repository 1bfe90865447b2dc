"""Per-stage settings for the CDK app, read from cdk.json context (`-c stage=<name>`).

Everything that differs between dev, local (LocalStack), staging and prod lives in cdk.json under
`stages`, so the stacks never branch on a stage's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from cairn.billing.dunning import DEFAULT_TIMINGS
from cairn.messaging.config import Delivery
from infra import names

DEFAULT_STAGE = "dev"
MESSAGE_DELIVERIES = tuple(delivery.value for delivery in Delivery)


@dataclass(frozen=True)
class StageConfig:
    """What one stage looks like: retention, throttling, capacity and optional protections."""

    name: str
    log_retention: str = "ONE_YEAR"  # an aws_logs.RetentionDays name
    api_throttle_rate: int = 50  # steady-state requests per second across the stage
    api_throttle_burst: int = 100
    api_execution_log_level: str = "ERROR"  # execution logs never carry bodies (data trace is off)
    authorizer_cache_seconds: int = 300
    waf_enabled: bool = True
    waf_rate_limit_per_5_min: int = 2000  # per client IP
    # function name -> reserved concurrency; a function missing here is acknowledged in nag
    reserved_concurrency: dict[str, int] = field(default_factory=dict)
    termination_protection: bool = False
    daily_backup_retention_days: int = 35
    monthly_backup_retention_days: int = 0  # 0: no monthly backups (dev); prod keeps them for years
    # Lets `cairn token --stage` sign demo users in with ADMIN_USER_PASSWORD_AUTH (a server-side
    # flow that needs IAM credentials allowed cognito-idp:AdminInitiateAuth); off: SRP only.
    admin_password_auth: bool = False
    # Where an emulator serves the user pool (LocalStack: http://localhost.localstack.cloud:4566):
    # its tokens' issuer and JWKS live under <identity_endpoint>/<pool id>, not at Cognito's URL.
    identity_endpoint: str | None = None
    # How messages to patients leave (cairn.messaging): "outbox" puts them in the documents bucket
    # (nothing is emailed or texted); "aws" sends email with SES from `message_sender`, a verified
    # SES identity, and SMS with SNS. The functions get ses:SendEmail and sns:Publish only then.
    message_delivery: str = Delivery.OUTBOX.value
    message_sender: str = "reminders@cairn.invalid"
    # Billing (docs/billing.md): where Stripe Checkout returns the browser to (the clinic console),
    # and the dunning timings (cairn.billing.dunning.DunningPolicy.parse).
    billing_return_url: str = "https://console.cairn.invalid/billing"
    dunning_timings: str = DEFAULT_TIMINGS

    @classmethod
    def from_context(cls, name: str, stages: dict[str, Any] | None) -> StageConfig:
        """The config of stage `name` from the `stages` context map, failing on unknown keys."""
        stages = stages or {}
        if name not in stages:
            known = ", ".join(sorted(stages)) or "none"
            raise ValueError(
                f"stage {name!r} is not configured in cdk.json context 'stages' (known: {known})"
            )
        settings = dict(stages[name])
        allowed = {f.name for f in fields(cls)} - {"name"}
        unknown = set(settings) - allowed
        if unknown:
            raise ValueError(f"stage {name!r} has unknown settings: {', '.join(sorted(unknown))}")
        config = cls(name=name, **settings)
        if config.message_delivery not in MESSAGE_DELIVERIES or "@" not in config.message_sender:
            raise ValueError(f"stage {name!r}: message_delivery is one of {', '.join(MESSAGE_DELIVERIES)} "
                             "and message_sender an email address")
        return config

    def resource_name(self, key: str) -> str:
        """The physical name of declared resource `key` in this stage: `cairn-<stage>-<key>`.

        The embedded runtime (devkit/provision.py) names resources the same way.
        """
        return names.resource_name(self.name, key)
