"""Buckets whose new objects invoke a function (`BucketDeclaration.notifies`), built beside it.

Why in the API stack, not the data stack: S3 checks a notification's destination when the
configuration is set, so the function and its invoke permission must already exist; the data
stack deploys before any function (the functions need its keys). CloudFormation only sets a
notification on a bucket it creates, and CDK's `add_event_notification` works through a
custom-resource Lambda (with an AWS-managed-policy role cdk-nag rightly flags). Built in the
stack that holds its function, the notification is a plain property of the bucket, which
depends on the permission, whose source ARN is built from the bucket's stage name (a reference
to the bucket would make the two wait for each other). The bucket is built exactly like the
data stack's buckets and retained: deleting the API stack leaves it and its files in place. The
data stack backs it up and receives its access logs by its name (infra/components/buckets.py),
so no reference crosses stacks but the declared key.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Annotations, Aws
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.components.buckets import bucket_arn, bucket_name, built_in_data_stack, data_bucket
from infra.declarations import BUCKETS, access_log_bucket
from infra.stage import StageConfig

# Every way an object comes into being (PUT, POST, COPY, multipart upload).
OBJECT_CREATED = "s3:ObjectCreated:*"


class NotifyingBuckets(Construct):
    """Each declared bucket with `notifies`: its object-created notification (under its
    `notify_prefix`) invokes the declared function, which only S3 from this account and for
    this bucket may invoke. `buckets[key]` is the bucket declared as `key`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        keys: Mapping[str, kms.IKey],
        functions: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = s3.Bucket.from_bucket_name(
            self, "AccessLogs", bucket_name(stage, access_log_bucket())
        )
        self.buckets: dict[str, s3.Bucket] = {}
        for declared in BUCKETS:
            if built_in_data_stack(declared):
                continue
            if declared.notifies is None or declared.encryption_key is None:
                raise ValueError(f"bucket {declared.key!r} must name the function it notifies and its key")
            scope_of_bucket = Construct(self, declared.key)
            bucket = data_bucket(
                scope_of_bucket, "Bucket", stage=stage, declared=declared,
                key=keys[declared.encryption_key], access_logs=access_logs,
            )
            Annotations.of(bucket).acknowledge_warning(
                "@aws-cdk/aws-s3:accessLogsPolicyNotAdded",
                "the data stack's access-log bucket allows this bucket's log delivery by its ARN",
            )
            function = functions[declared.notifies]
            permission = lambda_.CfnPermission(
                scope_of_bucket,
                "InvokedByObjectCreated",
                action="lambda:InvokeFunction",
                function_name=function.function_arn,
                principal="s3.amazonaws.com",
                source_arn=bucket_arn(stage, declared),
                source_account=Aws.ACCOUNT_ID,
            )
            notified = bucket.node.default_child
            assert isinstance(notified, s3.CfnBucket)
            notified.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                lambda_configurations=[
                    s3.CfnBucket.LambdaConfigurationProperty(
                        event=OBJECT_CREATED,
                        function=function.function_arn,
                        filter=s3.CfnBucket.NotificationFilterProperty(
                            s3_key=s3.CfnBucket.S3KeyFilterProperty(
                                rules=[s3.CfnBucket.FilterRuleProperty(name="prefix",
                                                                       value=declared.notify_prefix)]
                            )
                        ),
                    )
                ]
            )
            notified.add_resource_dependency(permission, "S3 tests the destination's permission when set")
            self.buckets[declared.key] = bucket
