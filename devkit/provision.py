"""Provision Cairn into an emulator from infra/declarations.py, the same source CDK builds from.

Every resource here comes from a declaration (KEYS, TABLES, BUCKETS and their notifications,
USER_POOLS, FUNCTIONS, STATE_MACHINES, and the tier usage plans of APIS); nothing is listed twice. Names are
"cairn-<stage>-<key>". The result is a `Deployment`, which `cairn dev` writes to deployment.json
for the other tools.

Provisioning is idempotent: whatever already exists under its name (a second `cairn dev`
against the same LocalStack) is reused, and functions and state machines are updated to the
current code and definitions. Into an external emulator, functions also get Cairn's two layers
(devkit/layers.py), because they run in the emulator's Lambda containers, not in this process.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn import config
from cairn.aws import AwsClients
from cairn.billing.dunning import DEFAULT_TIMINGS
from cairn.billing.settings import STRIPE_API
from cairn.store.schema import table_shape
from devkit.deployment import Deployment, UserPoolOutput
from devkit.layers import LAMBDA_RUNTIME, layer_sources, publish_layers
from devkit.packaging import function_zip
from devkit.resources import (
    existing_key_arn,
    existing_role_arn,
    existing_user_pool,
    existing_user_pool_client,
    function_exists,
    openid_issuer,
    state_machine_exists,
    table_exists,
    wait_until_function_updated,
)
from devkit.stripe_fake import LOCAL_API_KEY, LOCAL_WEBHOOK_SECRET
from infra import declarations, names
from infra.declarations import (
    PROJECT_ROOT,
    BucketDeclaration,
    FunctionDeclaration,
    StateMachineDeclaration,
    UserPoolDeclaration,
)
from infra.layer_contents import DEPENDENCIES_DIR, lambda_architecture_name
from multitenant.tiers import Tier, limits
from multitenant.usage_keys import usage_plan_name

PASSWORD_POLICY = {
    "MinimumLength": 12,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 7,
}
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
# Every way an object comes into being (PUT, POST, COPY, multipart upload).
OBJECT_CREATED = "s3:ObjectCreated:*"
LOCAL_DELIVERY = "outbox"
LOCAL_SENDER = "reminders@cairn.invalid"  # .invalid: a name that can never receive mail (RFC 2606)


@dataclass(frozen=True)
class ProvisionTarget:
    """Where and under which stage name to provision, and where the code comes from."""

    endpoint_url: str
    embedded: bool
    stage: str = "dev"
    functions_root: Path = PROJECT_ROOT / "functions"
    definitions_root: Path = PROJECT_ROOT / "stepfunctions"
    dependencies_dir: Path = DEPENDENCIES_DIR  # the dependency layer's content (external targets)
    # Where billing's functions send Stripe calls: the local fake (devkit/stripe_fake.py) in `cairn dev`
    # and the tests; Stripe itself otherwise (unreachable offline: its calls fail saying so).
    stripe_api_base: str = STRIPE_API
    billing_return_url: str = "http://127.0.0.1:8080/billing"
    dunning_timings: str = DEFAULT_TIMINGS

    def name(self, key: str) -> str:
        """The resource name of declaration `key` in this stage."""
        return names.resource_name(self.stage, key)


def provision(clients: AwsClients, target: ProvisionTarget) -> Deployment:
    """Create every declared resource in the emulator `clients` talks to."""
    identity = clients.client("sts").get_caller_identity()
    deployment = Deployment(
        stage=target.stage,
        region=clients.settings.region,
        account_id=identity["Account"],
        endpoint_url=target.endpoint_url,
        embedded=target.embedded,
    )
    create_keys(clients, target, deployment)
    create_tables(clients, target, deployment)
    create_buckets(clients, target, deployment)
    create_user_pools(clients, target, deployment)
    layers = [] if target.embedded else create_layers(clients, target, deployment)
    # Machine ARNs are known before the machines exist, so functions get them in their
    # environment while the machines reference the functions: one pass, no cycle.
    for machine in declarations.STATE_MACHINES:
        deployment.state_machines[machine.name] = _state_machine_arn(deployment, target.name(machine.name))
    create_tenant_data_role(clients, target, deployment)
    create_functions(clients, target, deployment, layers)
    create_state_machines(clients, target, deployment)
    create_bucket_notifications(clients, deployment)
    create_usage_plans(clients, target)
    return deployment


def create_usage_plans(clients: AwsClients, target: ProvisionTarget) -> dict[str, str]:
    """The per-tier usage plans of every tenant-facing API, named and throttled as CDK makes them
    (infra/components/rest_api.py), so onboarding's API-key step finds them; answers plan name -> id.

    Each API gets a REST API of its stage name for the plans to belong to. The embedded API front
    (devkit) calls the functions directly and enforces neither API keys nor throttling: the plans
    exist so that onboarding runs end to end, not to limit a laptop."""
    apigateway = clients.client("apigateway")
    existing = {plan["name"]: plan["id"] for plan in apigateway.get_usage_plans(limit=500).get("items", [])}
    apis = {api["name"]: api["id"] for api in apigateway.get_rest_apis(limit=500).get("items", [])}
    plans: dict[str, str] = {}
    for api in declarations.APIS:
        if not api.tier_usage_plans:
            continue
        if target.name(api.function) not in apis:
            apis[target.name(api.function)] = apigateway.create_rest_api(
                name=target.name(api.function), description=f"Cairn {target.stage} {api.function}")["id"]
        for tier in Tier:
            name = usage_plan_name(target.stage, api.function, tier)
            if name not in existing:
                tier_limits = limits(tier)
                existing[name] = apigateway.create_usage_plan(
                    name=name, description=f"Cairn {target.stage} {tier.value} tier, per tenant",
                    throttle={"rateLimit": float(tier_limits.api_rate_per_second),
                              "burstLimit": tier_limits.api_burst})["id"]
            plans[name] = existing[name]
    return plans


def create_keys(clients: AwsClients, target: ProvisionTarget, deployment: Deployment) -> None:
    """Customer-managed KMS keys with rotation on, under their stage's aliases (as CDK names them)."""
    kms = clients.kms()
    for declared in declarations.KEYS:
        alias = names.key_alias(declared.alias, target.stage)
        arn = existing_key_arn(kms, alias)
        if arn is None:
            key = kms.create_key(Description=declared.description, KeyUsage="ENCRYPT_DECRYPT",
                                 KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]
            kms.enable_key_rotation(KeyId=key["KeyId"])
            kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
            arn = key["Arn"]
        deployment.keys[declared.key] = arn


def create_tables(clients: AwsClients, target: ProvisionTarget, deployment: Deployment) -> None:
    """Tables shaped by their PynamoDB models, encrypted with their declared key, with PITR on."""
    dynamodb = clients.dynamodb()
    for declared in declarations.TABLES:
        name = target.name(declared.key)
        deployment.tables[declared.key] = name
        if table_exists(dynamodb, name):
            continue
        request = table_shape(declared.model).create_table_request(name)
        request["SSESpecification"] = {
            "Enabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": deployment.keys[declared.encryption_key],
        }
        dynamodb.create_table(**request)
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        dynamodb.update_continuous_backups(
            TableName=name,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
        )


def create_buckets(clients: AwsClients, target: ProvisionTarget, deployment: Deployment) -> None:
    """Private, versioned buckets encrypted as declared, refusing plain HTTP where TLS exists."""
    s3 = clients.s3()
    for declared in declarations.BUCKETS:
        name = target.name(declared.key)
        _ensure_bucket(s3, name, deployment.region)
        # The settings below are idempotent puts: applied again to a reused bucket.
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True,
            "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        })
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            _bucket_encryption(declared, deployment)]})
        if declared.versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if target.endpoint_url.startswith("https://"):
            # A plain-HTTP emulator is not TLS, so this policy would rightly refuse every request.
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps(_tls_only_policy(name)))
        deployment.buckets[declared.key] = name


def create_bucket_notifications(clients: AwsClients, deployment: Deployment) -> None:
    """For each bucket that `notifies` a function: S3 may invoke it for that bucket, and every object
    created under `notify_prefix` does (as infra/components/notifying_buckets.py sets it up in AWS).

    Run once the functions and the state machines exist, so the first notification finds both.
    Idempotent: the permission is added once, and a notification configuration is replaced whole.
    """
    s3 = clients.s3()
    aws_lambda = clients.lambda_()
    for declared in declarations.BUCKETS:
        if declared.notifies is None:
            continue
        name = deployment.buckets[declared.key]
        function_arn = deployment.functions[declared.notifies]
        _allow_invocation_by_bucket(aws_lambda, function_arn, f"{declared.key}-object-created",
                                    bucket_arn=f"arn:aws:s3:::{name}", account_id=deployment.account_id)
        s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{
                "Id": f"{declared.key}-object-created",
                "LambdaFunctionArn": function_arn,
                "Events": [OBJECT_CREATED],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": declared.notify_prefix}]}},
            }],
        })


def _allow_invocation_by_bucket(
    aws_lambda: Any, function_arn: str, statement_id: str, *, bucket_arn: str, account_id: str
) -> None:
    """Let S3 invoke `function_arn` for `bucket_arn` of `account_id` only, unless already allowed
    (Lambda refuses a duplicate statement id; moto would keep both)."""
    try:
        policy = json.loads(aws_lambda.get_policy(FunctionName=function_arn)["Policy"])
    except aws_lambda.exceptions.ResourceNotFoundException:
        policy = {"Statement": []}
    if any(statement.get("Sid") == statement_id for statement in policy["Statement"]):
        return
    aws_lambda.add_permission(FunctionName=function_arn, StatementId=statement_id,
                              Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                              SourceArn=bucket_arn, SourceAccount=account_id)


def _ensure_bucket(s3: Any, name: str, region: str) -> None:
    """Create bucket `name` unless this account already owns it."""
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass


def _bucket_encryption(declared: BucketDeclaration, deployment: Deployment) -> dict[str, Any]:
    """SSE-KMS with the declared key and a bucket key, or SSE-S3 where none is declared."""
    if declared.encryption_key is None:
        return {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    return {
        "ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": deployment.keys[declared.encryption_key],
        },
        "BucketKeyEnabled": True,
    }


def _tls_only_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }


def create_user_pools(clients: AwsClients, target: ProvisionTarget, deployment: Deployment) -> None:
    """User pools with the declared custom attributes, MFA and an admin-auth app client."""
    cognito = clients.cognito()
    for declared in declarations.USER_POOLS:
        pool = existing_user_pool(cognito, target.name(declared.key))
        if pool is None:
            pool = _create_user_pool(cognito, target, declared)
        client = existing_user_pool_client(cognito, pool["Id"], declared.client_name)
        if client is None:
            client = _create_user_pool_client(cognito, pool["Id"], declared)
        deployment.user_pools[declared.key] = UserPoolOutput(
            id=pool["Id"],
            arn=pool["Arn"],
            client_id=client["ClientId"],
            issuer=_issuer(target, deployment.region, pool["Id"]),
            jwks_url=f"{target.endpoint_url}/{pool['Id']}/.well-known/jwks.json",
        )


def _issuer(target: ProvisionTarget, region: str, pool_id: str) -> str:
    """The `iss` of the pool's tokens: what the emulator's discovery document says where it has
    one (LocalStack names its own host there), else Cognito's form, which moto uses too."""
    cognito_form = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
    if target.embedded:
        return cognito_form
    return openid_issuer(f"{target.endpoint_url}/{pool_id}/.well-known/openid-configuration") or cognito_form


def _create_user_pool(cognito: Any, target: ProvisionTarget, declared: UserPoolDeclaration) -> dict[str, Any]:
    pool: dict[str, Any] = cognito.create_user_pool(
        PoolName=target.name(declared.key),
        Policies={"PasswordPolicy": PASSWORD_POLICY},
        AutoVerifiedAttributes=["email"],
        # Clinics invite their staff and patients; nobody signs themselves up.
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        Schema=[
            {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
            *({"Name": name, "AttributeDataType": "String", "Mutable": True,
               "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "128"}}
              for name in declared.custom_attributes),
        ],
    )["UserPool"]
    if declared.mfa_required:
        cognito.set_user_pool_mfa_config(
            UserPoolId=pool["Id"],
            SoftwareTokenMfaConfiguration={"Enabled": True},
            MfaConfiguration="ON",
        )
    return pool


def _create_user_pool_client(cognito: Any, pool_id: str, declared: UserPoolDeclaration) -> dict[str, Any]:
    custom = [f"custom:{name}" for name in declared.custom_attributes]
    client: dict[str, Any] = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=declared.client_name,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=["email", "email_verified", *custom],
        # Tenant, role and patient link are set by Cairn only: users must not write them.
        WriteAttributes=["email"],
        PreventUserExistenceErrors="ENABLED",
        # The same session limits as the CDK app's client (declarations.SessionLimits).
        IdTokenValidity=declared.sessions.id_token_minutes,
        AccessTokenValidity=declared.sessions.access_token_minutes,
        RefreshTokenValidity=declared.sessions.refresh_token_hours,
        TokenValidityUnits={"IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "hours"},
        AuthSessionValidity=declared.sessions.auth_session_minutes,
        EnableTokenRevocation=declared.sessions.revocable,
    )["UserPoolClient"]
    return client


def create_layers(clients: AwsClients, target: ProvisionTarget, deployment: Deployment) -> list[str]:
    """Publish (or reuse) the Cairn and dependency layers through an artifacts bucket."""
    bucket = target.name("artifacts")
    _ensure_bucket(clients.s3(), bucket, deployment.region)
    return publish_layers(clients, lambda key: target.name(f"layer-{key}"), bucket,
                          layer_sources(target.dependencies_dir))


def create_tenant_data_role(clients: AwsClients, target: ProvisionTarget, deployment: Deployment) -> None:
    """The role tenant-scoped credentials are assumed from, trusting exactly the declared
    functions' roles (created here first, reused by create_functions), with the declared data
    resources as its maximum permissions. moto's STS issues sessions from it but enforces neither
    the trust nor either policy (docs/isolation.md): the documents are the CDK app's, in substance."""
    declared = declarations.TENANT_DATA_ACCESS
    trusted = [_create_role(clients, target.name(f"{name}-fn"), "lambda.amazonaws.com")
               for name in declared.assumed_by]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}],
    }
    iam = clients.client("iam")
    name = target.name(declared.name)
    arn = existing_role_arn(iam, name)
    if arn is None:
        arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                                  Description=declared.description)["Role"]["Arn"])
    else:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=name, PolicyName="tenant-data",
                        PolicyDocument=json.dumps(_tenant_data_policy(declared, deployment)))
    deployment.roles[declared.name] = arn


def _tenant_data_policy(
    declared: declarations.TenantDataAccessDeclaration, deployment: Deployment
) -> dict[str, Any]:
    """The role's maximum permissions: the declared tables, keys and buckets, by ARN."""
    resources: list[str] = []
    for key in declared.uses:
        if key in deployment.tables:
            table = f"arn:aws:dynamodb:{deployment.region}:{deployment.account_id}:table/"
            resources += [table + deployment.tables[key], f"{table}{deployment.tables[key]}/index/*"]
        elif key in deployment.keys:
            resources.append(deployment.keys[key])
        elif key in deployment.buckets:
            bucket = f"arn:aws:s3:::{deployment.buckets[key]}"
            resources += [bucket, f"{bucket}/*"]
    actions = ["dynamodb:*", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "s3:*"]
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": actions,
        "Resource": resources,
    }]}


def create_functions(clients: AwsClients, target: ProvisionTarget, deployment: Deployment,
                     layers: list[str]) -> None:
    """One role and one zip-packaged python3.11 function per declaration, fully configured.

    `layers` (external targets only) are attached to every function. An existing function is
    brought up to date: configuration first, then code, each waited for as Lambda requires.
    """
    aws_lambda = clients.lambda_()
    for declared in declarations.FUNCTIONS:
        role_arn = _create_role(clients, target.name(f"{declared.name}-fn"), "lambda.amazonaws.com")
        environment = function_environment(declared, target, deployment)
        name = target.name(declared.name)
        configuration: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": LAMBDA_RUNTIME,
            "Role": role_arn,
            "Handler": declared.handler,
            "Description": declared.description,
            "Timeout": declared.timeout_seconds,
            "MemorySize": declared.memory_mb,
            "Environment": {"Variables": environment},
        }
        if layers:
            configuration["Layers"] = layers
        code = function_zip(target.functions_root / declared.source)
        if function_exists(aws_lambda, name):
            aws_lambda.update_function_configuration(**configuration)
            wait_until_function_updated(aws_lambda, name)
            result = aws_lambda.update_function_code(FunctionName=name, ZipFile=code)
            wait_until_function_updated(aws_lambda, name)
        else:
            if not target.embedded:
                # The dependency layer's wheels are built for this machine's architecture.
                configuration["Architectures"] = [lambda_architecture_name()]
            result = aws_lambda.create_function(**configuration, Code={"ZipFile": code})
        deployment.functions[declared.name] = result["FunctionArn"]
        deployment.function_environments[declared.name] = environment


def function_environment(
    declared: FunctionDeclaration, target: ProvisionTarget, deployment: Deployment
) -> dict[str, str]:
    """Every variable environment_names() promises `declared`, filled from the deployment."""
    values: dict[str, str] = {config.STAGE: target.stage}
    values.update({table.env: deployment.tables[table.key] for table in declarations.TABLES})
    values.update({key.env: deployment.keys[key.key] for key in declarations.KEYS if key.env})
    values.update({b.env: deployment.buckets[b.key] for b in declarations.BUCKETS if b.env})
    values.update({m.env: deployment.state_machines[m.name] for m in declarations.STATE_MACHINES})
    # Messages to patients go to the visible outbox (the documents bucket), never to SES or SNS.
    values.update({config.MESSAGE_DELIVERY: LOCAL_DELIVERY, config.MESSAGE_SENDER: LOCAL_SENDER})
    # The stage's secret name, never read locally: Stripe's key and signing secret are the documented
    # local defaults, set directly below for the functions that use Stripe (they win over the secret).
    values.update({config.STRIPE_SECRET_ID: target.name(declarations.STRIPE),
                   config.STRIPE_API_BASE: target.stripe_api_base,
                   config.BILLING_RETURN_URL: target.billing_return_url,
                   config.DUNNING_TIMINGS: target.dunning_timings})
    if declarations.TENANT_DATA_ACCESS.name in deployment.roles:
        values[declarations.TENANT_DATA_ACCESS.env] = deployment.roles[declarations.TENANT_DATA_ACCESS.name]
    pool = next(iter(deployment.user_pools.values()))
    values[config.USER_POOL_ID] = pool.id
    if declared.identity:
        values.update({
            config.USER_POOL_ID: pool.id,
            config.USER_POOL_CLIENT_IDS: pool.client_id,
            config.JWT_ISSUER: pool.issuer,
            config.JWKS_URL: pool.jwks_url,
        })
    names = declarations.environment_names(declared)
    missing = [name for name in names if name not in values]
    if missing:
        raise ValueError(f"function {declared.name} needs {missing}, which nothing provisions")
    environment = {name: values[name] for name in names}
    if declarations.STRIPE in declared.uses:
        environment.update({config.STRIPE_API_KEY: LOCAL_API_KEY,
                            config.STRIPE_WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET})
    environment.update({
        "POWERTOOLS_SERVICE_NAME": f"cairn-{declared.name}",
        "POWERTOOLS_METRICS_NAMESPACE": "Cairn",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon on a laptop
    })
    if target.embedded:
        # In-process functions reach the emulator here; LocalStack and moto's Docker runtime
        # inject the address their containers can reach instead (localhost is not it).
        environment["AWS_ENDPOINT_URL"] = target.endpoint_url
    return environment


def create_state_machines(clients: AwsClients, target: ProvisionTarget, deployment: Deployment) -> None:
    """State machines from stepfunctions/*.asl.json with their ${Placeholders} filled."""
    sfn = clients.stepfunctions()
    for declared in declarations.STATE_MACHINES:
        role_arn = _create_role(clients, target.name(f"{declared.name}-sfn"), "states.amazonaws.com")
        template = (target.definitions_root / declared.definition).read_text(encoding="utf-8")
        definition = fill_definition(template, declared, deployment)
        arn = deployment.state_machines[declared.name]
        if state_machine_exists(sfn, arn):
            sfn.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role_arn)
            continue
        created = sfn.create_state_machine(
            name=target.name(declared.name),
            definition=definition,
            roleArn=role_arn,
            type="STANDARD",
        )
        if created["stateMachineArn"] != arn:
            raise RuntimeError(f"state machine {declared.name} got ARN {created['stateMachineArn']}")


def fill_definition(template: str, declared: StateMachineDeclaration, deployment: Deployment) -> str:
    """The ASL text with each ${Placeholder} replaced as the declaration's substitutions say."""
    kinds: Mapping[str, Mapping[str, str]] = {
        "function": deployment.functions,
        "bucket": deployment.buckets,
        "table": deployment.tables,
    }

    def replace(match: re.Match[str]) -> str:
        reference = declared.substitutions.get(match.group(1))
        if reference is None:
            raise ValueError(f"{declared.definition}: no substitution declared for ${{{match.group(1)}}}")
        kind, _, key = reference.partition(":")
        return kinds[kind][key]

    filled = PLACEHOLDER.sub(replace, template)
    json.loads(filled)  # a substitution must never break the JSON
    return filled


def _create_role(clients: AwsClients, name: str, service: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    iam = clients.client("iam")
    existing = existing_role_arn(iam, name)
    if existing is not None:
        return existing
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    return str(role["Role"]["Arn"])


def _state_machine_arn(deployment: Deployment, name: str) -> str:
    return f"arn:aws:states:{deployment.region}:{deployment.account_id}:stateMachine:{name}"
