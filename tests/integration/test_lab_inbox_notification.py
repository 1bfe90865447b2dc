"""The lab inbox in the embedded runtime, provisioned as `cairn dev` provisions it: a file a lab
drops under tenants/<clinic>/<lab>/ invokes the lab-inbox function through the bucket's
notification (moto runs the real handler in-process), which starts the lab-ingestion workflow;
a file outside tenants/ invokes nothing; provisioning again adds no second notification or
permission."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from cairn.aws import AwsClients
from devkit.deployment import Deployment
from devkit.provision import ProvisionTarget, provision

# A synthetic header only: what the workflow makes of the file is not under test here.
DROPPED_FILE = b"MSH|^~\\&|ACME|ACME-LAB|CAIRN|CLINIC|20260101120000||ORU^R01|TEST-1|P|2.5.1\r"
EXECUTION_WAIT_SECONDS = 30


def _notifications(clients: AwsClients, deployment: Deployment) -> list[dict[str, Any]]:
    found = clients.s3().get_bucket_notification_configuration(Bucket=deployment.buckets["lab-inbox"])
    return list(found.get("LambdaFunctionConfigurations", []))


def _invoke_statements(clients: AwsClients, deployment: Deployment) -> list[dict[str, Any]]:
    policy = clients.lambda_().get_policy(FunctionName=deployment.functions["lab-inbox"])["Policy"]
    return [s for s in json.loads(policy)["Statement"] if s["Principal"] == {"Service": "s3.amazonaws.com"}]


def _executions(clients: AwsClients, deployment: Deployment) -> dict[str, str]:
    """executionArn -> input of every lab-ingestion execution so far."""
    sfn = clients.stepfunctions()
    listed = sfn.list_executions(stateMachineArn=deployment.state_machines["lab-ingestion"])["executions"]
    return {e["executionArn"]: sfn.describe_execution(executionArn=e["executionArn"])["input"]
            for e in listed}


def _executions_after(clients: AwsClients, deployment: Deployment, known: dict[str, str]) -> dict[str, str]:
    """The executions started since `known`, waiting a little for the first (S3 notifies after the put)."""
    deadline = time.monotonic() + EXECUTION_WAIT_SECONDS
    while True:
        new = {arn: given for arn, given in _executions(clients, deployment).items() if arn not in known}
        if new or time.monotonic() > deadline:
            return new
        time.sleep(0.2)


def test_the_lab_inbox_bucket_invokes_the_lab_inbox_function_for_objects_created_under_tenants(
    clients: AwsClients, deployment: Deployment
) -> None:
    (notification,) = _notifications(clients, deployment)
    assert notification["LambdaFunctionArn"] == deployment.functions["lab-inbox"]
    assert notification["Events"] == ["s3:ObjectCreated:*"]
    rules = notification["Filter"]["Key"]["FilterRules"]
    assert [(rule["Name"].lower(), rule["Value"]) for rule in rules] == [("prefix", "tenants/")]


def test_s3_may_invoke_the_lab_inbox_function_for_the_lab_inbox_bucket_of_this_account_only(
    clients: AwsClients, deployment: Deployment
) -> None:
    (statement,) = _invoke_statements(clients, deployment)
    assert statement["Action"] == "lambda:InvokeFunction"
    conditions = json.dumps(statement["Condition"])
    assert f"arn:aws:s3:::{deployment.buckets['lab-inbox']}" in conditions
    assert deployment.account_id in conditions


def test_a_file_dropped_for_a_clinic_and_lab_starts_one_lab_ingestion_workflow_for_it(
    clients: AwsClients, deployment: Deployment
) -> None:
    tenant_id = f"inbox-{uuid.uuid4().hex[:8]}"
    key = f"tenants/{tenant_id}/acme-lab/results-{uuid.uuid4().hex[:6]}.hl7"
    known = _executions(clients, deployment)

    clients.s3().put_object(Bucket=deployment.buckets["lab-inbox"], Key=key, Body=DROPPED_FILE)

    (started,) = _executions_after(clients, deployment, known).values()
    workflow_input = json.loads(started)
    assert workflow_input["tenant_id"] == tenant_id
    assert workflow_input["inbox"] == {"bucket": deployment.buckets["lab-inbox"], "key": key}


def test_a_file_outside_the_tenants_prefix_starts_no_workflow(
    clients: AwsClients, deployment: Deployment
) -> None:
    known = _executions(clients, deployment)

    clients.s3().put_object(Bucket=deployment.buckets["lab-inbox"], Key=f"operators/{uuid.uuid4().hex}.hl7",
                            Body=DROPPED_FILE)

    assert {arn for arn in _executions(clients, deployment) if arn not in known} == set()


def test_provisioning_again_keeps_one_notification_and_one_invoke_permission(
    clients: AwsClients, deployment: Deployment, endpoint: str
) -> None:
    provision(clients, ProvisionTarget(endpoint_url=endpoint, embedded=True))

    assert len(_notifications(clients, deployment)) == 1
    assert len(_invoke_statements(clients, deployment)) == 1
