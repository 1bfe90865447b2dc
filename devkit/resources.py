"""Look-ups of what already exists in an emulator (or account), by the names Cairn gives it.

Provisioning reuses what these find instead of dying on "already exists"; each returns None
(or False) for "not there" and lets every other error through.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from botocore.exceptions import ClientError

FUNCTION_UPDATE_TIMEOUT_SECONDS = 120.0


def existing_key_arn(kms: Any, alias: str) -> str | None:
    """The ARN of the key behind `alias`, or None."""
    try:
        return str(kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"])
    except kms.exceptions.NotFoundException:
        return None


def table_exists(dynamodb: Any, name: str) -> bool:
    try:
        dynamodb.describe_table(TableName=name)
    except dynamodb.exceptions.ResourceNotFoundException:
        return False
    return True


def existing_user_pool(cognito: Any, name: str) -> dict[str, Any] | None:
    """The user pool named `name` (DescribeUserPool's shape, with Id and Arn), or None."""
    for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == name:
                described: dict[str, Any] = cognito.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
                return described
    return None


def existing_user_pool_client(cognito: Any, pool_id: str, name: str) -> dict[str, Any] | None:
    """The app client named `name` in pool `pool_id` (with ClientId), or None."""
    for page in cognito.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60):
        for client in page["UserPoolClients"]:
            if client["ClientName"] == name:
                return dict(client)
    return None


def existing_role_arn(iam: Any, name: str) -> str | None:
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        return None


def function_exists(aws_lambda: Any, name: str) -> bool:
    try:
        aws_lambda.get_function_configuration(FunctionName=name)
    except aws_lambda.exceptions.ResourceNotFoundException:
        return False
    return True


def wait_until_function_updated(aws_lambda: Any, name: str,
                                timeout_seconds: float = FUNCTION_UPDATE_TIMEOUT_SECONDS) -> None:
    """Block while an update of `name` is in progress: Lambda refuses the next one meanwhile."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        configuration = aws_lambda.get_function_configuration(FunctionName=name)
        status = configuration.get("LastUpdateStatus", "Successful")
        if status == "Failed":
            reason = configuration.get("LastUpdateStatusReason")
            raise RuntimeError(f"updating function {name} failed: {reason}")
        if status != "InProgress":
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"function {name} is still updating after {timeout_seconds:.0f} s")
        time.sleep(0.5)


def state_machine_exists(sfn: Any, arn: str) -> bool:
    try:
        sfn.describe_state_machine(stateMachineArn=arn)
    except sfn.exceptions.StateMachineDoesNotExist:
        return False
    except ClientError as error:  # some emulators answer a missing machine with a generic code
        if "does not exist" in str(error).lower():
            return False
        raise
    return True


def openid_issuer(discovery_url: str, timeout: float = 5.0) -> str | None:
    """The `issuer` of an OpenID discovery document, or None where none is served."""
    try:
        with urllib.request.urlopen(discovery_url, timeout=timeout) as response:  # noqa: S310 (emulator URL)
            document = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    issuer = document.get("issuer") if isinstance(document, dict) else None
    return issuer if isinstance(issuer, str) and issuer else None
