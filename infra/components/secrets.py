"""Secrets Manager secrets from SECRETS: created (with placeholder values) in the data stack,
encrypted with their declared customer-managed key, retained; operators put the real values
(docs/billing.md). Other stacks import them by name for grants (infra/components/catalog.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.declarations import SECRETS
from infra.nag import acknowledge
from infra.stage import StageConfig

ROTATION_REASON = (
    "Stripe's secret key and webhook signing secret are issued and rolled in Stripe's dashboard, not "
    "by an AWS rotation function; rolling them means putting the new values here (docs/billing.md)."
)


def secret_name(stage: StageConfig, key: str) -> str:
    """The secret's name, which the functions receive (GetSecretValue takes a name)."""
    return stage.resource_name(key)


class Secrets(Construct):
    """One secret per SECRETS entry, its fields set to a placeholder until an operator fills them."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig,
                 keys: Mapping[str, kms.IKey]) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.Secret] = {}
        for declared in SECRETS:
            placeholder = json.dumps({field: "put-the-real-value-here" for field in declared.fields})
            secret = secretsmanager.Secret(
                self, declared.key.capitalize(), secret_name=secret_name(stage, declared.key),
                description=f"Cairn {stage.name}: {declared.description} "
                            f"(JSON: {', '.join(declared.fields)})",
                encryption_key=keys[declared.encryption_key],
                secret_string_value=SecretValue.unsafe_plain_text(placeholder),  # no secret: a placeholder
                removal_policy=RemovalPolicy.RETAIN)
            acknowledge(secret, "AwsSolutions-SMG4", ROTATION_REASON)
            acknowledge(secret, "HIPAA.Security-SecretsManagerRotationEnabled", ROTATION_REASON)
            self.secrets[declared.key] = secret
