"""Find a stage the CDK app deployed (LocalStack or AWS) and describe it as a `Deployment`.

The stacks publish what the developer tools need as CloudFormation outputs (infra/names.py
names them); anything an output does not name is found by the stage's naming convention.
Only AWS_ENDPOINT_URL differs between LocalStack and AWS: the same calls, the same names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import ClientError

from cairn.aws import DEFAULT_REGION, AwsClients, AwsSettings
from devkit.deployment import Deployment, UserPoolOutput
from devkit.emulator import use_local_credentials
from devkit.resources import openid_issuer
from devkit.seed import DEMO_PASSWORD, ROLES, TENANTS, username
from infra import declarations, names

# API Gateway's own URL form, which CloudFormation outputs carry even in an emulator.
_EXECUTE_API = re.compile(r"^https://(?P<api>[^.]+)\.execute-api\.[^/]+\.amazonaws\.com(?:\.cn)?/(?P<stage>[^/]+)/?$")
LOCALSTACK_HOST = "localhost.localstack.cloud"


class DiscoveryError(RuntimeError):
    """The stage is not (fully) deployed where we looked; the message says what is missing."""


def stage_clients(environ: Mapping[str, str]) -> AwsClients:
    """Clients for a deployed stage: the emulator AWS_ENDPOINT_URL names (with fake credentials,
    so nothing meant for LocalStack reaches AWS), else AWS with the caller's own credentials."""
    endpoint_url = environ.get("AWS_ENDPOINT_URL") or None
    region = (environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
              or boto3.session.Session().region_name or DEFAULT_REGION)
    if endpoint_url:
        use_local_credentials(region)
    return AwsClients(AwsSettings(region=region, endpoint_url=endpoint_url))


def discover(clients: AwsClients, stage: str) -> Deployment:
    """The deployment of `stage` where `clients` point (AWS_ENDPOINT_URL, or AWS itself)."""
    identity = clients.client("sts").get_caller_identity()
    cloudformation = clients.client("cloudformation")
    outputs: dict[str, str] = {}
    endpoint_url = clients.settings.endpoint_url
    for unit in names.STACK_UNITS:
        outputs.update(stack_outputs(cloudformation, names.stack_name(stage, unit), endpoint_url))
    deployment = deployment_from_outputs(
        stage=stage,
        region=clients.settings.region,
        account_id=str(identity["Account"]),
        endpoint_url=endpoint_url,
        outputs=outputs,
    )
    if endpoint_url:
        # An emulator serves the pool under its own address and may name itself the issuer.
        for pool in deployment.user_pools.values():
            pool_base = f"{deployment.endpoint_url}/{pool.id}"
            pool.jwks_url = f"{pool_base}/.well-known/jwks.json"
            pool.issuer = openid_issuer(f"{pool_base}/.well-known/openid-configuration") or pool.issuer
    return deployment


def stack_outputs(cloudformation: Any, stack_name: str, endpoint_url: str | None) -> dict[str, str]:
    """OutputKey -> OutputValue of `stack_name`, or DiscoveryError saying how to deploy it."""
    where = endpoint_url or "AWS"
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
        raise DiscoveryError(
            f"stack {stack_name} is not deployed at {where}: deploy the stage first "
            "(LocalStack: `make deploy-localstack`; AWS: `make deploy-aws STAGE=<stage>`)"
        ) from error
    if not stack["StackStatus"].endswith("_COMPLETE") or "ROLLBACK" in stack["StackStatus"]:
        raise DiscoveryError(f"stack {stack_name} at {where} is {stack['StackStatus']}, not deployed")
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def deployment_from_outputs(*, stage: str, region: str, account_id: str, endpoint_url: str | None,
                            outputs: Mapping[str, str]) -> Deployment:
    """A `Deployment` of `stage` from its stacks' outputs, completed by the naming convention.

    Demo users are listed as `cairn seed --stage` creates them; a stage that was never seeded
    fails at sign-in with a message that says so.
    """
    def output(key: str) -> str:
        if key not in outputs:
            raise DiscoveryError(f"stage {stage} has no stack output {key}: redeploy it with the current "
                                 "CDK app, which publishes it")
        return outputs[key]

    (pool_declaration,) = declarations.USER_POOLS
    pool_id = output(names.USER_POOL_ID_OUTPUT)
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
    deployment = Deployment(
        stage=stage,
        region=region,
        account_id=account_id,
        endpoint_url=(endpoint_url or "").rstrip("/"),  # "" is AWS itself
        embedded=False,
        keys={k.key: outputs.get(names.key_output(k.key),
                                  f"arn:aws:kms:{region}:{account_id}:{names.key_alias(k.alias, stage)}")
              for k in declarations.KEYS},
        tables={t.key: outputs.get(names.table_output(t.key), names.resource_name(stage, t.key))
                for t in declarations.TABLES},
        buckets={b.key: outputs.get(names.bucket_output(b.key),
                                    names.bucket_name(stage, b.key, account_id, region))
                 for b in declarations.BUCKETS},
        user_pools={pool_declaration.key: UserPoolOutput(
            id=pool_id,
            arn=f"arn:aws:cognito-idp:{region}:{account_id}:userpool/{pool_id}",
            client_id=output(names.USER_POOL_CLIENT_ID_OUTPUT),
            issuer=issuer,
            jwks_url=f"{issuer}/.well-known/jwks.json",
        )},
        functions={
            f.name: f"arn:aws:lambda:{region}:{account_id}:function:{names.resource_name(stage, f.name)}"
            for f in declarations.FUNCTIONS
        },
        state_machines={
            m.name: outputs.get(
                names.state_machine_output(m.name),
                f"arn:aws:states:{region}:{account_id}:stateMachine:{names.resource_name(stage, m.name)}")
            for m in declarations.STATE_MACHINES
        },
        users={tenant.tenant_id: {role: username(tenant.tenant_id, role) for role in ROLES}
               for tenant in TENANTS},
        demo_password=DEMO_PASSWORD,
    )
    api = declarations.APIS[0]  # the Deployment has one API URL: the clinical API's
    deployment.api_url = reachable_api_url(output(names.api_url_output(api.function)), endpoint_url)
    return deployment


def reachable_api_url(api_url: str, endpoint_url: str | None) -> str:
    """The API's base URL without its trailing slash, as this machine can reach it.

    In AWS that is the output itself. An emulator's outputs still name execute-api.amazonaws.com;
    LocalStack serves the API at <api>.execute-api.localhost.localstack.cloud:<port>/<stage>, and,
    for any other endpoint host, at <endpoint>/restapis/<api>/<stage>/_user_request_.
    """
    match = _EXECUTE_API.match(api_url)
    if not endpoint_url or match is None:
        return api_url.rstrip("/")
    endpoint = urlsplit(endpoint_url)
    if endpoint.hostname == LOCALSTACK_HOST:
        return f"{endpoint.scheme}://{match['api']}.execute-api.{endpoint.netloc}/{match['stage']}"
    return f"{endpoint_url.rstrip('/')}/restapis/{match['api']}/{match['stage']}/_user_request_"
