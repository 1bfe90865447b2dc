"""S3 buckets declared in BUCKETS: the documents bucket and the audit (access log) bucket."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import names
from infra.declarations import BUCKETS, BucketDeclaration, access_log_bucket
from infra.nag import acknowledge
from infra.stage import StageConfig


def bucket_name(stage: StageConfig, declared: BucketDeclaration) -> str:
    """`cairn-<stage>-<key>-<account>-<region>`: bucket names are global, so they carry both."""
    return names.bucket_name(stage.name, declared.key, Aws.ACCOUNT_ID, Aws.REGION)


class Buckets(Construct):
    """Private, versioned, TLS-only, retained buckets.

    Data buckets use SSE-KMS with their declared key and an S3 bucket key, and log their access
    to the access-log bucket, which uses SSE-S3 because S3 server access log delivery does not
    support SSE-KMS on the target bucket.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, stage: StageConfig, keys: Mapping[str, kms.IKey]
    ) -> None:
        super().__init__(scope, construct_id)
        log_declaration = access_log_bucket()
        self.buckets: dict[str, s3.Bucket] = {}
        access_logs = self._access_log_bucket(stage, log_declaration)
        self.buckets[log_declaration.key] = access_logs
        for declared in BUCKETS:
            if declared.receives_access_logs:
                continue
            self.buckets[declared.key] = s3.Bucket(
                self,
                declared.key.capitalize(),
                bucket_name=bucket_name(stage, declared),
                encryption=s3.BucketEncryption.KMS,
                encryption_key=keys[declared.encryption_key],
                bucket_key_enabled=True,
                versioned=declared.versioned,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                enforce_ssl=True,
                minimum_tls_version=1.2,
                server_access_logs_bucket=access_logs,
                server_access_logs_prefix=f"s3-access/{declared.key}/",
                lifecycle_rules=[s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(7))],
                removal_policy=RemovalPolicy.RETAIN,
            )
            acknowledge(
                self.buckets[declared.key],
                "HIPAA.Security-S3BucketReplicationEnabled",
                "Versioned, retained and in the AWS Backup plan (DataProtection construct), which meets the "
                "contingency-plan backup requirement; cross-region replication needs a per-deployment "
                "destination region and is decided per environment, not in the shared template.",
            )

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
