"""PHI at rest: tables, buckets, log groups, queues and backups are encrypted, retained, private."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from cairn.store.schema import table_shape
from infra.declarations import BUCKETS, KEYS, TABLES, access_log_bucket

pytestmark = pytest.mark.infra

ACCESS_LOG_BUCKET = access_log_bucket().key


def _is_key_reference(value) -> bool:
    """A reference to a KMS key of this app (a GetAtt of a key, or an import of one), not an alias."""
    text = str(value)
    return "Keys" in text and ("Fn::GetAtt" in text or "Fn::ImportValue" in text)


def test_every_table_is_declared_shaped_by_its_model_and_encrypted_with_its_declared_key(synthesis):
    tables = synthesis.resources("AWS::DynamoDB::Table")
    assert {resource["Properties"]["TableName"] for _, resource in tables.values()} == {
        f"cairn-dev-{declared.key}" for declared in TABLES
    }
    for declared in TABLES:
        shape = table_shape(declared.model)
        synthesis.template("Data").has_resource_properties(
            "AWS::DynamoDB::Table",
            {
                "TableName": f"cairn-dev-{declared.key}",
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": Match.array_with([{"AttributeName": shape.hash_key, "KeyType": "HASH"}]),
                "SSESpecification": {
                    "SSEEnabled": True,
                    "SSEType": "KMS",
                    "KMSMasterKeyId": {"Fn::GetAtt": [
                        Match.string_like_regexp(f"^Keys{declared.encryption_key.capitalize()}"), "Arn"]},
                },
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "DeletionProtectionEnabled": True,
            },
        )
        index_names = [index.name for index in shape.global_indexes]
        if index_names:
            synthesis.template("Data").has_resource_properties(
                "AWS::DynamoDB::Table",
                {
                    "TableName": f"cairn-dev-{declared.key}",
                    "GlobalSecondaryIndexes": [
                        Match.object_like({"IndexName": name}) for name in index_names
                    ],
                },
            )


def test_keys_tables_buckets_and_log_groups_survive_stack_deletion(synthesis):
    for resource_type in ("AWS::KMS::Key", "AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Logs::LogGroup"):
        for logical_id, (_, resource) in synthesis.resources(resource_type).items():
            assert resource.get("DeletionPolicy") == "Retain", logical_id


def test_every_declared_key_exists_and_rotates(synthesis):
    keys = synthesis.resources("AWS::KMS::Key")
    assert len(keys) == len(KEYS)
    assert all(resource["Properties"]["EnableKeyRotation"] for _, resource in keys.values())


def test_data_buckets_use_the_storage_key_and_only_the_access_log_bucket_uses_sse_s3(synthesis):
    buckets = synthesis.resources("AWS::S3::Bucket")
    assert len(buckets) == len(BUCKETS)
    for logical_id, (_, resource) in buckets.items():
        encryption = resource["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        default = encryption["ServerSideEncryptionByDefault"]
        if "LoggingConfiguration" in resource["Properties"] or default["SSEAlgorithm"] == "aws:kms":
            assert default["SSEAlgorithm"] == "aws:kms", logical_id
            assert _is_key_reference(default["KMSMasterKeyID"]), logical_id
            assert encryption["BucketKeyEnabled"] is True
        else:
            # S3 server access logs can only be delivered to an SSE-S3 bucket.
            assert logical_id.startswith(f"Buckets{ACCESS_LOG_BUCKET.capitalize()}"), logical_id
            assert default["SSEAlgorithm"] == "AES256"


def test_data_buckets_log_access_into_the_audit_bucket(synthesis):
    buckets = synthesis.resources("AWS::S3::Bucket")
    log_bucket = next(lid for lid in buckets if lid.startswith(f"Buckets{ACCESS_LOG_BUCKET.capitalize()}"))
    log_stack = buckets[log_bucket][0]
    for logical_id, (stack, resource) in buckets.items():
        if logical_id != log_bucket:
            destination = resource["Properties"]["LoggingConfiguration"]["DestinationBucketName"]
            if stack == log_stack:
                assert destination == {"Ref": log_bucket}, logical_id
            else:  # a bucket built beside its function names the access-log bucket by its stage name
                assert f'"cairn-dev-{ACCESS_LOG_BUCKET}-"' in json.dumps(destination), logical_id


def test_buckets_are_private_versioned_and_refuse_plain_http(synthesis):
    buckets = synthesis.resources("AWS::S3::Bucket")
    policies = synthesis.resources("AWS::S3::BucketPolicy")
    for logical_id, (_, resource) in buckets.items():
        properties = resource["Properties"]
        assert properties["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
        policy = next(p for _, p in policies.values() if p["Properties"]["Bucket"] == {"Ref": logical_id})
        denies_http = [
            s
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
        ]
        assert denies_http, f"{logical_id} accepts plain HTTP"


def test_every_log_group_is_kms_encrypted_and_expires(synthesis):
    log_groups = synthesis.resources("AWS::Logs::LogGroup")
    assert log_groups
    for logical_id, (_, resource) in log_groups.items():
        assert _is_key_reference(resource["Properties"].get("KmsKeyId")), logical_id
        assert resource["Properties"].get("RetentionInDays"), logical_id


def test_every_queue_and_backup_vault_is_kms_encrypted(synthesis):
    for logical_id, (_, resource) in synthesis.resources("AWS::SQS::Queue").items():
        assert _is_key_reference(resource["Properties"].get("KmsMasterKeyId")), logical_id
    vaults = synthesis.resources("AWS::Backup::BackupVault")
    assert vaults
    for logical_id, (_, resource) in vaults.items():
        assert _is_key_reference(resource["Properties"].get("EncryptionKeyArn")), logical_id


def test_tables_and_data_buckets_are_in_the_backup_plan(synthesis):
    (selection,) = [r for _, r in synthesis.resources("AWS::Backup::BackupSelection").values()]
    selected = str(selection["Properties"]["BackupSelection"]["Resources"])
    for logical_id in synthesis.resources("AWS::DynamoDB::Table"):
        assert logical_id in selected
    assert "BucketsDocuments" in selected
