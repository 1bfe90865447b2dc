"""CloudWatch log groups as Cairn keeps them: KMS-encrypted, with the stage's retention."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.stage import StageConfig


def encrypted_log_group(
    scope: Construct, construct_id: str, *, stage: StageConfig, key: kms.IKey, name: str | None = None
) -> logs.LogGroup:
    """A log group encrypted with `key`, kept `stage.log_retention`, retained with its stack.

    The storage key's policy lets CloudWatch Logs use it for any log group of the account
    (infra/components/keys.py), so no per-group key policy is needed.
    """
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        encryption_key=key,
        retention=_retention(stage.log_retention),
        removal_policy=RemovalPolicy.RETAIN,
    )


def _retention(name: str) -> logs.RetentionDays:
    try:
        return logs.RetentionDays[name]
    except KeyError:
        allowed = ", ".join(r.name for r in logs.RetentionDays if r is not logs.RetentionDays.INFINITE)
        raise ValueError(f"log retention {name!r} is not one CloudWatch offers: {allowed}") from None
