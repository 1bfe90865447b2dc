"""S3 buckets declared in BUCKETS: how every data bucket is built, and the data stack's share.

A bucket whose new objects invoke a function (`BucketDeclaration.notifies`) is not built here but
beside its function (infra/components/notifying_buckets.py explains why); the data stack still
backs it up and receives its access logs, finding it by its stage name.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import names
from infra.declarations import BUCKETS, BucketDeclaration, access_log_bucket
from infra.nag import acknowledge
from infra.stage import StageConfig

# Buckets whose files are transient: each is moved into the clinic's encrypted store once
# processed, so a deleted or overwritten version is kept only long enough to recover a mistake.
NONCURRENT_VERSIONS_KEPT_DAYS: Mapping[str, int] = {"lab-inbox": 30, "clearinghouse-inbox": 30}


def bucket_name(stage: StageConfig, declared: BucketDeclaration) -> str:
    """`cairn-<stage>-<key>-<account>-<region>`: bucket names are global, so they carry both."""
    return names.bucket_name(stage.name, declared.key, Aws.ACCOUNT_ID, Aws.REGION)


def bucket_arn(stage: StageConfig, declared: BucketDeclaration) -> str:
    """The ARN of declared bucket `declared`, from its name: usable before and outside its stack."""
    return f"arn:{Aws.PARTITION}:s3:::{bucket_name(stage, declared)}"


def access_log_prefix(declared: BucketDeclaration) -> str:
    """Where the access-log bucket keeps the server access logs of `declared`."""
    return f"s3-access/{declared.key}/"


def built_in_data_stack(declared: BucketDeclaration) -> bool:
    """Whether the data stack builds `declared`: every bucket but those that invoke a function."""
    return declared.notifies is None


def data_bucket(
    scope: Construct,
    construct_id: str,
    *,
    stage: StageConfig,
    declared: BucketDeclaration,
    key: kms.IKey,
    access_logs: s3.IBucket,
) -> s3.Bucket:
    """A private, TLS-only, retained bucket, SSE-KMS with `key` and an S3 bucket key, logging its
    access into `access_logs`, versioned as declared; transient buckets expire old versions."""
    kept_days = NONCURRENT_VERSIONS_KEPT_DAYS.get(declared.key)
    lifecycle = s3.LifecycleRule(
        abort_incomplete_multipart_upload_after=Duration.days(7),
        noncurrent_version_expiration=Duration.days(kept_days) if kept_days else None,
        # A moved file leaves a delete marker; once its old versions expire, the marker goes too.
        expired_object_delete_marker=True if kept_days else None,
    )
    bucket = s3.Bucket(
        scope,
        construct_id,
        bucket_name=bucket_name(stage, declared),
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        versioned=declared.versioned,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_log_prefix(declared),
        lifecycle_rules=[lifecycle],
        removal_policy=RemovalPolicy.RETAIN,
    )
    acknowledge(
        bucket,
        "HIPAA.Security-S3BucketReplicationEnabled",
        "Versioned, retained and in the AWS Backup plan (DataProtection construct), which meets the "
        "contingency-plan backup requirement; cross-region replication needs a per-deployment "
        "destination region and is decided per environment, not in the shared template.",
    )
    return bucket


class Buckets(Construct):
    """The access-log bucket and the data buckets of the data stack.

    Data buckets use SSE-KMS with their declared key and an S3 bucket key, and log their access
    to the access-log bucket, which uses SSE-S3 because S3 server access log delivery does not
    support SSE-KMS on the target bucket. `elsewhere` holds the buckets other stacks build, by
    name, for the backup plan; their log delivery is allowed here by their name-built ARN.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, stage: StageConfig, keys: Mapping[str, kms.IKey]
    ) -> None:
        super().__init__(scope, construct_id)
        log_declaration = access_log_bucket()
        self.buckets: dict[str, s3.Bucket] = {}
        self.elsewhere: dict[str, s3.IBucket] = {}
        access_logs = self._access_log_bucket(stage, log_declaration)
        self.buckets[log_declaration.key] = access_logs
        for declared in BUCKETS:
            if declared.receives_access_logs:
                continue
            if declared.encryption_key is None:
                raise ValueError(f"bucket {declared.key!r} holds data and must name its encryption key")
            if built_in_data_stack(declared):
                self.buckets[declared.key] = data_bucket(
                    self, declared.key.capitalize(), stage=stage, declared=declared,
                    key=keys[declared.encryption_key], access_logs=access_logs,
                )
            else:
                self.elsewhere[declared.key] = s3.Bucket.from_bucket_name(
                    self, f"Elsewhere{declared.key.title().replace('-', '')}", bucket_name(stage, declared)
                )
                _allow_log_delivery(access_logs, stage, declared)

    def _access_log_bucket(self, stage: StageConfig, declared: BucketDeclaration) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            declared.key.capitalize(),
            bucket_name=bucket_name(stage, declared),
            # S3 server access log delivery only supports SSE-S3 on the target bucket.
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=declared.versioned,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            bucket,
            "HIPAA.Security-S3DefaultEncryptionKMS",
            "Target of S3 server access logs, which S3 can only deliver to SSE-S3 (AES-256) buckets; "
            "it is encrypted at rest with SSE-S3, private, versioned, TLS-only and retained.",
        )
        reason = (
            "This is the access-log bucket itself: logging it into itself would loop. Object-level "
            "access to it is for the account's CloudTrail data-event trail, which is outside this app."
        )
        acknowledge(bucket, "AwsSolutions-S1", reason)
        acknowledge(bucket, "HIPAA.Security-S3BucketLoggingEnabled", reason)
        acknowledge(
            bucket,
            "HIPAA.Security-S3BucketReplicationEnabled",
            "Versioned and retained; it holds access logs, whose cross-region copy is decided per "
            "environment together with the documents bucket's disaster-recovery region.",
        )
        return bucket


def _allow_log_delivery(access_logs: s3.Bucket, stage: StageConfig, declared: BucketDeclaration) -> None:
    """Let S3 deliver the access logs of `declared` (built in another stack) under its prefix:
    the statement CDK writes for a bucket of the same stack, with the source named by ARN."""
    access_logs.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[access_logs.arn_for_objects(f"{access_log_prefix(declared)}*")],
            conditions={
                "ArnLike": {"aws:SourceArn": bucket_arn(stage, declared)},
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            },
        )
    )
