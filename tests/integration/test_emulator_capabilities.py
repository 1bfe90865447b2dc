"""Every emulator capability Cairn relies on, exercised against the embedded runtime.

The embedded runtime (`cairn dev`) is moto's server with Lambda functions run in-process by
devkit.lambda_executor. If a moto upgrade breaks KMS encryption context, SSE-KMS, DynamoDB
conditions/transactions/GSIs, Cognito's tokens and JWKS, Step Functions execution, or the
executor patch, a test here fails and names the capability.

The stack is provisioned by devkit.provision from infra/declarations.py, and the Lambda and
Step Functions tests run the real functions/ code and the real stepfunctions/ definitions.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest
import requests
from botocore.exceptions import ClientError
from moto.awslambda.models import LambdaFunction

from cairn.aws import AwsClients
from cairn.clock import utc_now
from cairn.store.models import ClinicalItem
from devkit import clock, lambda_executor, seed
from devkit.demo_data import demo_patient_bundle
from devkit.deployment import Deployment
from multitenant.lifecycle import TenantStatus
from multitenant.registry import DynamoTenantRegistry, Tenant
from multitenant.tiers import Tier

TENANT = "capability-clinic"
OTHER_TENANT = "other-clinic"


def test_embedded_runtime_patches_are_in_place(endpoint: str) -> None:
    # A moto upgrade that moves the seam makes install() raise, failing every test here.
    assert LambdaFunction.invoke.__module__ == lambda_executor.__name__
    assert endpoint.startswith("http://127.0.0.1:")


def test_kms_enforces_encryption_context(clients: AwsClients, deployment: Deployment) -> None:
    kms = clients.kms()
    sealed = kms.encrypt(KeyId=deployment.keys["data"], Plaintext=b"wrapped key",
                         EncryptionContext={"tenant": TENANT})["CiphertextBlob"]

    with pytest.raises(ClientError) as refused:
        kms.decrypt(CiphertextBlob=sealed, EncryptionContext={"tenant": OTHER_TENANT})

    assert refused.value.response["Error"]["Code"] == "InvalidCiphertextException"
    opened = kms.decrypt(CiphertextBlob=sealed, EncryptionContext={"tenant": TENANT})
    assert opened["Plaintext"] == b"wrapped key"


def test_kms_data_key_decrypts_to_its_plaintext(clients: AwsClients, deployment: Deployment) -> None:
    kms = clients.kms()
    context = {"tenant": TENANT, "purpose": "phi"}
    generated = kms.generate_data_key(KeyId=deployment.keys["data"], KeySpec="AES_256",
                                      EncryptionContext=context)

    opened = kms.decrypt(CiphertextBlob=generated["CiphertextBlob"], EncryptionContext=context)

    assert len(generated["Plaintext"]) == 32
    assert opened["Plaintext"] == generated["Plaintext"]


def test_s3_encrypts_with_the_bucket_kms_key_and_serves_presigned_urls(
    clients: AwsClients, deployment: Deployment
) -> None:
    s3 = clients.s3()
    bucket = deployment.buckets["documents"]
    key = f"tenants/{TENANT}/documents/{uuid.uuid4()}.txt"

    s3.put_object(Bucket=bucket, Key=key, Body=b"referral letter")
    head = s3.head_object(Bucket=bucket, Key=key)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
    fetched = requests.get(url, timeout=10)

    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == deployment.keys["storage"]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"referral letter"
    assert fetched.status_code == 200
    assert fetched.content == b"referral letter"


def _clinical_item(pk: str, sk: str = "current", **attributes: Any) -> dict[str, Any]:
    return ClinicalItem(pk=pk, sk=sk, **attributes).serialize()  # type: ignore[no-any-return]


def test_dynamodb_conditional_write_refuses_an_existing_item(
    clients: AwsClients, deployment: Deployment
) -> None:
    dynamodb = clients.dynamodb()
    table = deployment.tables["clinical"]
    item = _clinical_item(f"{TENANT}#Patient#{uuid.uuid4()}")
    dynamodb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    with pytest.raises(ClientError) as refused:
        dynamodb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_dynamodb_transaction_writes_nothing_when_one_condition_fails(
    clients: AwsClients, deployment: Deployment
) -> None:
    dynamodb = clients.dynamodb()
    table = deployment.tables["clinical"]
    existing = _clinical_item(f"{TENANT}#Patient#{uuid.uuid4()}")
    dynamodb.put_item(TableName=table, Item=existing)
    new_pk = f"{TENANT}#Patient#{uuid.uuid4()}"

    with pytest.raises(ClientError) as cancelled:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": _clinical_item(new_pk)}},
            {"Put": {"TableName": table, "Item": existing,
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])

    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": new_pk}, "sk": {"S": "current"}})


def test_dynamodb_queries_the_by_type_index(clients: AwsClients, deployment: Deployment) -> None:
    dynamodb = clients.dynamodb()
    table = deployment.tables["clinical"]
    tenant = f"gsi-{uuid.uuid4().hex[:8]}"
    for index in range(3):
        dynamodb.put_item(TableName=table, Item=_clinical_item(
            f"{tenant}#Patient#{index}",
            type_key=f"{tenant}#Patient",
            type_sort=f"2026-01-0{index + 1}#{index}",
        ))

    found = dynamodb.query(
        TableName=table, IndexName="by_type",
        KeyConditionExpression="type_key = :type",
        ExpressionAttributeValues={":type": {"S": f"{tenant}#Patient"}},
    )["Items"]

    assert [item["type_sort"]["S"] for item in found] == ["2026-01-01#0", "2026-01-02#1", "2026-01-03#2"]


@pytest.fixture(scope="module")
def id_tokens(clients: AwsClients, deployment: Deployment) -> dict[str, str]:
    """Role -> ID token of the users seeding creates for TENANT (registered as an active clinic,
    so the authorizer admits it)."""
    DynamoTenantRegistry(clients.dynamodb(), deployment.tables["tenants"]).add(Tenant(
        tenant_id=TENANT, name="Capability Clinic", tier=Tier.STARTER, status=TenantStatus.ACTIVE,
        created="2026-11-22T00:00:00.000Z", updated="2026-11-22T00:00:00.000Z"))
    pool = deployment.user_pools["clinic"]
    tokens: dict[str, str] = {}
    for role, username in seed.create_users(clients, deployment, TENANT).items():
        result = clients.cognito().admin_initiate_auth(
            UserPoolId=pool.id, ClientId=pool.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": seed.DEMO_PASSWORD},
        )
        tokens[role] = result["AuthenticationResult"]["IdToken"]
    return tokens


def test_cognito_id_token_carries_custom_claims_and_verifies_against_served_jwks(
    deployment: Deployment, id_tokens: dict[str, str]
) -> None:
    pool = deployment.user_pools["clinic"]
    token = id_tokens["nurse"]

    jwks = requests.get(pool.jwks_url, timeout=10)
    key = jwt.PyJWKSet.from_dict(jwks.json())[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=pool.client_id, issuer=pool.issuer)

    assert jwks.status_code == 200
    assert claims["token_use"] == "id"
    assert claims["custom:tenant_id"] == TENANT
    assert claims["custom:role"] == "nurse"


def _invoke(clients: AwsClients, deployment: Deployment, function: str,
            event: dict[str, Any]) -> dict[str, Any]:
    response = clients.lambda_().invoke(FunctionName=deployment.functions[function],
                                        Payload=json.dumps(event))
    return {"error": response.get("FunctionError"), "payload": json.loads(response["Payload"].read())}


def test_lambda_invoke_runs_the_real_authorizer(
    clients: AwsClients, deployment: Deployment, id_tokens: dict[str, str]
) -> None:
    token = id_tokens["physician"]
    method_arn = "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/fhir/R4/Patient"

    result = _invoke(clients, deployment, "authorizer",
                     {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": method_arn})

    assert result["error"] is None
    assert result["payload"]["context"]["tenant_id"] == TENANT
    assert result["payload"]["context"]["role"] == "physician"
    assert result["payload"]["context"]["tenant_status"] == "active"
    assert result["payload"]["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_lambda_failure_is_reported_like_lambda(clients: AwsClients, deployment: Deployment) -> None:
    method_arn = "arn:aws:execute-api:us-east-1:123456789012:api/dev/GET/fhir/R4/Patient"

    result = _invoke(clients, deployment, "authorizer",
                     {"type": "TOKEN", "authorizationToken": "Bearer not-a-jwt", "methodArn": method_arn})

    assert result["error"] == "Unhandled"
    assert result["payload"]["errorMessage"] == "Unauthorized"
    assert result["payload"]["errorType"] == "Exception"
    assert isinstance(result["payload"]["stackTrace"], list)


def _run_import(clients: AwsClients, deployment: Deployment, tenant: str, bundle_key: str) -> dict[str, Any]:
    execution = clients.stepfunctions().start_execution(
        stateMachineArn=deployment.state_machines["bundle-import"],
        name=f"capability-{uuid.uuid4().hex[:12]}",
        input=json.dumps({"tenant_id": tenant, "bundle_key": bundle_key}),
    )
    return seed.wait_for_execution(clients, execution["executionArn"], time.monotonic() + 120)


def test_step_functions_lambda_task_runs_the_real_bundle_import(
    clients: AwsClients, deployment: Deployment
) -> None:
    bundle = demo_patient_bundle(seed=7)
    key = f"tenants/{TENANT}/imports/capability.json"
    clients.s3().put_object(Bucket=deployment.buckets["documents"], Key=key, Body=json.dumps(bundle))

    result = _run_import(clients, deployment, TENANT, key)

    assert result["status"] == "SUCCEEDED", result
    created = json.loads(result["output"])["created"]
    assert [entry["fullUrl"] for entry in created] == [bundle["entry"][0]["fullUrl"]]
    stored = clients.dynamodb().get_item(
        TableName=deployment.tables["clinical"],
        Key={"pk": {"S": f"{TENANT}#Patient#{created[0]['id']}"}, "sk": {"S": "current"}},
    )
    assert "Item" in stored


def test_step_functions_catches_a_failing_lambda_and_records_it_through_aws_sdk_s3(
    clients: AwsClients, deployment: Deployment
) -> None:
    missing = f"tenants/{TENANT}/imports/{uuid.uuid4()}.json"

    result = _run_import(clients, deployment, TENANT, missing)

    assert result["status"] == "FAILED"
    assert result["error"] == "BundleImportFailed"
    execution_name = result["executionArn"].rsplit(":", 1)[-1]
    record = clients.s3().get_object(Bucket=deployment.buckets["documents"],
                                     Key=f"tenants/{TENANT}/imports/failed/{execution_name}.json")
    reason = json.loads(record["Body"].read())
    assert reason["Error"]
    assert "Cause" in reason


# The virtual clock and StopExecution (devkit/clock.py, devkit/step_functions_stop.py). Last in
# this module: they move the clock forward, which the tests above must not see.

WAITING_MAP = {
    "StartAt": "Each",
    "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.times", "MaxConcurrency": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Until",
                          "States": {"Until": {"Type": "Wait", "TimestampPath": "$", "End": True}}},
        "End": True,
    }},
}


def _waiting_execution(clients: AwsClients, name: str, times: list[str]) -> str:
    sfn = clients.stepfunctions()
    machine = sfn.create_state_machine(name=name, definition=json.dumps(WAITING_MAP), type="STANDARD",
                                       roleArn="arn:aws:iam::123456789012:role/capability-sfn")["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"times": times}))
    return str(started["executionArn"])


def _status_once_settled(clients: AwsClients, execution_arn: str) -> str:
    described = seed.wait_for_execution(clients, execution_arn, time.monotonic() + 30)
    return str(described["status"])


def test_wait_states_end_when_the_virtual_clock_passes_them_and_cairn_reads_the_same_clock(
    clients: AwsClients, endpoint: str
) -> None:
    virtual = clock.current()
    due = virtual.now() + timedelta(days=30)
    execution = _waiting_execution(clients, "capability-wait", [due.strftime("%Y-%m-%dT%H:%M:%SZ")])

    assert clients.stepfunctions().describe_execution(executionArn=execution)["status"] == "RUNNING"
    virtual.advance_to(due + timedelta(seconds=1))

    assert _status_once_settled(clients, execution) == "SUCCEEDED"
    assert utc_now() >= due


def test_stop_execution_aborts_an_execution_waiting_inside_a_map(clients: AwsClients, endpoint: str) -> None:
    far = (clock.current().now() + timedelta(days=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
    execution = _waiting_execution(clients, "capability-stop", [far, far])
    deadline = time.monotonic() + 30
    while not any(e["type"] == "WaitStateEntered" for e in clients.stepfunctions().get_execution_history(
            executionArn=execution)["events"]):
        assert time.monotonic() < deadline, "the execution never reached its Wait state"
        time.sleep(0.05)

    clients.stepfunctions().stop_execution(executionArn=execution, cause="capability test")

    assert _status_once_settled(clients, execution) == "ABORTED"
