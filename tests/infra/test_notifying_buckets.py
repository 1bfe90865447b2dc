"""The inboxes (labs' HL7 v2, the clearinghouse's X12): buckets like the data buckets whose new
objects under tenants/ invoke their function, which only S3 for that bucket may invoke; the lab
inbox's function may only start the lab-ingestion workflow; failed events are kept, encrypted; no
custom resource sets any of it."""

from __future__ import annotations

import json

import pytest

from cairn import config
from infra.declarations import BUCKETS, FUNCTIONS

pytestmark = pytest.mark.infra

INBOX = next(bucket for bucket in BUCKETS if bucket.key == "lab-inbox")
NOTIFYING = [bucket for bucket in BUCKETS if bucket.notifies]
LAB_INGESTION_ARN_END = ':stateMachine:cairn-dev-lab-ingestion"]]}'  # the end of its Fn::Join, as JSON


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _only(synthesis, resource_type, predicate):
    (found,) = [(lid, stack, r) for lid, (stack, r) in synthesis.resources(resource_type).items()
                if predicate(r)]
    return found


def _inbox_bucket(synthesis, inbox=INBOX):
    return _only(synthesis, "AWS::S3::Bucket",
                 lambda r: f"cairn-dev-{inbox.key}-" in json.dumps(r["Properties"]["BucketName"]))


def _function(synthesis, name):
    return _only(synthesis, "AWS::Lambda::Function",
                 lambda r: r["Properties"]["FunctionName"] == f"cairn-dev-{name}")


def _role_statements(synthesis, name):
    _, _, resource = _function(synthesis, name)
    role = resource["Properties"]["Role"]["Fn::GetAtt"][0]
    return [statement
            for _, policy in synthesis.resources("AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]]


@pytest.mark.parametrize("inbox", NOTIFYING, ids=lambda b: b.key)
def test_the_inbox_is_kms_encrypted_versioned_logged_retained_and_drops_old_versions_after_30_days(
        synthesis, inbox):
    _, _, bucket = _inbox_bucket(synthesis, inbox)
    properties = bucket["Properties"]
    encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert f"Keys{inbox.encryption_key.capitalize()}" in json.dumps(
        encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    assert encryption["BucketKeyEnabled"] is True
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert properties["LoggingConfiguration"]["LogFilePrefix"] == f"s3-access/{inbox.key}/"
    assert "cairn-dev-audit-" in json.dumps(properties["LoggingConfiguration"]["DestinationBucketName"])
    assert bucket["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("inbox", NOTIFYING, ids=lambda b: b.key)
def test_objects_created_under_the_declared_prefix_invoke_the_declared_function(synthesis, inbox):
    _, bucket_stack, bucket = _inbox_bucket(synthesis, inbox)
    function_id, function_stack, _ = _function(synthesis, inbox.notifies)
    (notification,) = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    assert notification == {
        "Event": "s3:ObjectCreated:*",
        "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": inbox.notify_prefix}]}},
        "Function": {"Fn::GetAtt": [function_id, "Arn"]},
    }
    assert bucket_stack == function_stack  # a plain property, no cross-stack reference


@pytest.mark.parametrize("inbox", NOTIFYING, ids=lambda b: b.key)
def test_only_s3_for_the_inbox_of_this_account_may_invoke_the_inbox_function(synthesis, inbox):
    function_id, _, _ = _function(synthesis, inbox.notifies)
    permissions = [(lid, p["Properties"])
                   for lid, (_, p) in synthesis.resources("AWS::Lambda::Permission").items()
                   if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_id, "Arn"]}]
    ((permission_id, permission),) = permissions
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["Principal"] == "s3.amazonaws.com"
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}
    source = json.dumps(permission["SourceArn"])
    assert f":s3:::cairn-dev-{inbox.key}-" in source
    assert "*" not in source
    _, _, bucket = _inbox_bucket(synthesis, inbox)
    assert permission_id in bucket["DependsOn"]  # S3 checks the permission when the notification is set


def test_no_custom_resource_lambda_sets_bucket_notifications(synthesis):
    assert synthesis.resources("Custom::S3BucketNotifications") == {}
    functions = synthesis.resources("AWS::Lambda::Function").values()
    names = {resource["Properties"]["FunctionName"] for _, resource in functions}
    assert names == {f"cairn-dev-{declared.name}" for declared in FUNCTIONS}


def test_the_inbox_function_may_only_start_lab_ingestion_and_send_its_failed_events(synthesis):
    statements = _role_statements(synthesis, INBOX.notifies)
    services = {action.split(":")[0] for s in statements for action in _as_list(s["Action"])}
    assert services == {"logs", "xray", "states", "sqs", "kms"}
    (start,) = [s for s in statements if "states:StartExecution" in _as_list(s["Action"])]
    assert _as_list(start["Action"]) == ["states:StartExecution"]
    assert json.dumps(start["Resource"]).endswith(LAB_INGESTION_ARN_END)
    (send,) = [s for s in statements if any(a.startswith("sqs:") for a in _as_list(s["Action"]))]
    assert _as_list(send["Action"]) == ["sqs:SendMessage"]
    (key,) = [s for s in statements if any(a.startswith("kms:") for a in _as_list(s["Action"]))]
    assert set(_as_list(key["Action"])) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert "sqs." in json.dumps(key["Condition"]["StringEquals"]["kms:ViaService"])


@pytest.mark.parametrize("inbox", NOTIFYING, ids=lambda b: b.key)
def test_failed_inbox_events_go_to_a_kms_encrypted_dead_letter_queue(synthesis, inbox):
    _, _, inbox_function = _function(synthesis, inbox.notifies)
    queue_id = inbox_function["Properties"]["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
    queue = synthesis.templates["Api"]["Resources"][queue_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert "KeysStorage" in json.dumps(queue["Properties"]["KmsMasterKeyId"])
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    others = [r for _, r in synthesis.resources("AWS::Lambda::Function").values()
              if r["Properties"]["FunctionName"] not in {f"cairn-dev-{b.notifies}" for b in NOTIFYING}]
    assert all("DeadLetterConfig" not in r["Properties"] for r in others)  # invoked synchronously


def test_functions_reach_only_the_buckets_they_declare(synthesis):
    data_buckets = [b.key for b in BUCKETS if b.encryption_key is not None]
    for declared in FUNCTIONS:
        document = json.dumps(_role_statements(synthesis, declared.name))
        for key in data_buckets:
            assert (f":s3:::cairn-dev-{key}-" in document) == (key in declared.uses), (declared.name, key)


def test_lab_ingestion_may_read_and_delete_inbox_files(synthesis):
    statements = [s for s in _role_statements(synthesis, "lab-ingestion")
                  if ":s3:::cairn-dev-lab-inbox-" in json.dumps(s["Resource"])]
    actions = {action for s in statements for action in _as_list(s["Action"])}
    assert {"s3:GetObject*", "s3:DeleteObject*", "s3:List*"} <= actions


def test_workflow_functions_get_the_inbox_name_and_the_lab_ingestion_arn(synthesis):
    _, _, bucket = _inbox_bucket(synthesis)
    _, _, ingestion = _function(synthesis, "lab-ingestion")
    assert ingestion["Properties"]["Environment"]["Variables"][config.LAB_INBOX_BUCKET] == (
        bucket["Properties"]["BucketName"])
    for name in ("lab-inbox", "lab-api"):
        _, _, starter = _function(synthesis, name)
        arn = starter["Properties"]["Environment"]["Variables"][config.LAB_INGESTION_STATE_MACHINE_ARN]
        assert json.dumps(arn).endswith(LAB_INGESTION_ARN_END)


def test_the_data_stack_backs_up_the_inbox_and_takes_only_its_access_logs(synthesis):
    (selection,) = [r for _, r in synthesis.resources("AWS::Backup::BackupSelection").values()]
    assert ":s3:::cairn-dev-lab-inbox-" in json.dumps(selection["Properties"]["BackupSelection"]["Resources"])
    statements = [s for _, (_, p) in synthesis.resources("AWS::S3::BucketPolicy").items()
                  for s in p["Properties"]["PolicyDocument"]["Statement"]
                  if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
                  and "lab-inbox" in json.dumps(s["Resource"])]
    (delivery,) = statements
    assert delivery["Action"] == "s3:PutObject"
    assert "/s3-access/lab-inbox/*" in json.dumps(delivery["Resource"])
    assert ":s3:::cairn-dev-lab-inbox-" in json.dumps(delivery["Condition"]["ArnLike"]["aws:SourceArn"])
    assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
