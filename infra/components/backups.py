"""AWS Backup for the declared tables and data buckets (HIPAA contingency plan: data backup)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge_managed_policies
from infra.stage import StageConfig

# AWS Backup's service-role policies: back up and restore DynamoDB tables, and S3 buckets.
BACKUP_POLICIES = (
    "AWSBackupServiceRolePolicyForBackup",
    "AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)


class DataProtection(Construct):
    """A KMS-encrypted, retained vault and a plan that backs up every table and data bucket daily
    (and monthly where the stage keeps long-term copies), on top of PITR and versioning."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        key: kms.IKey,
        tables: list[dynamodb.Table],
        buckets: list[s3.IBucket],
    ) -> None:
        super().__init__(scope, construct_id)
        vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=stage.resource_name("backups"),
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        rules = [
            backup.BackupPlanRule(
                rule_name="Daily",
                schedule_expression=events.Schedule.cron(hour="5", minute="0"),
                delete_after=Duration.days(stage.daily_backup_retention_days),
            )
        ]
        if stage.monthly_backup_retention_days:
            rules.append(
                backup.BackupPlanRule(
                    rule_name="Monthly",
                    schedule_expression=events.Schedule.cron(day="1", hour="5", minute="0"),
                    delete_after=Duration.days(stage.monthly_backup_retention_days),
                )
            )
        plan = backup.BackupPlan(
            self,
            "Plan",
            backup_plan_name=stage.resource_name("data"),
            backup_vault=vault,
            backup_plan_rules=rules,
        )
        # CDK's selection role only knows DynamoDB-style resources; S3 needs its own service policies.
        role = iam.Role(
            self,
            "ServiceRole",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(f"service-role/{name}")
                for name in BACKUP_POLICIES
            ],
        )
        plan.add_selection(
            "DeclaredData",
            role=role,
            resources=[backup.BackupResource.from_dynamo_db_table(table) for table in tables]
            + [backup.BackupResource.from_arn(bucket.bucket_arn) for bucket in buckets],
        )
        acknowledge_managed_policies(
            role,
            "AWS Backup's own service-role policies, maintained by AWS for exactly this role: they let the "
            "backup service back up and restore the selected tables and buckets; nothing else is attached.",
        )
