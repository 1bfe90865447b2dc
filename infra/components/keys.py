"""The customer-managed KMS keys declared in KEYS."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra import names
from infra.declarations import KEYS
from infra.stage import StageConfig

# The declared key that also encrypts log groups and backups (infrastructure-only uses).
STORAGE_ENCRYPTION_KEY = "storage"

# What CloudWatch Logs needs to encrypt a log group with a key, per the CloudWatch Logs guide;
# listed one by one so the key policy grants no wildcard actions.
_LOGS_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)
_LOG_GROUPS_OF_THIS_ACCOUNT = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"


class EncryptionKeys(Construct):
    """One rotating, retained key per KEYS entry, aliased per stage.

    The storage key also lets CloudWatch Logs encrypt this account's log groups in this region,
    so every log group of every stack can use it without a cross-stack key policy edit.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.keys: dict[str, kms.Key] = {}
        for declared in KEYS:
            key = kms.Key(
                self,
                declared.key.capitalize(),
                description=f"Cairn {stage.name}: {declared.description}",
                # Stage-suffixed so that two stages can share an account without alias clashes.
                alias=names.key_alias(declared.alias, stage.name),
                enable_key_rotation=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.keys[declared.key] = key
        self.keys[STORAGE_ENCRYPTION_KEY].add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=list(_LOGS_KEY_ACTIONS),
                resources=["*"],  # in a key policy "*" means this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": _LOG_GROUPS_OF_THIS_ACCOUNT,
                    }
                },
            )
        )

    def key(self, declared_key: str) -> kms.Key:
        """The key declared as `declared_key`."""
        return self.keys[declared_key]
