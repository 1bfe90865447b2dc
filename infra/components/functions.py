"""Lambda functions from FUNCTIONS, each with its own role, log group and least-privilege grants,
sharing two layers: Cairn's code and its runtime dependencies. Functions a bucket's events invoke
asynchronously also get an encrypted dead-letter queue."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import LAMBDA_RUNTIME, cairn_layer_code, dependency_layer_code, lambda_architecture
from infra.components.catalog import DataCatalog
from infra.components.logs import encrypted_log_group
from infra.components.tenant_access import TenantDataAccessRole
from infra.declarations import (
    BUCKETS,
    FUNCTIONS,
    PROJECT_ROOT,
    TENANT_DATA_ACCESS,
    FunctionDeclaration,
    environment_names,
)
from infra.nag import acknowledge
from infra.stage import StageConfig

# Powertools settings shared by every function. Responses and errors carry PHI, so the tracer
# never records them and the logger never logs the incoming event.
POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_METRICS_NAMESPACE": "Cairn",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
    "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
}
# Functions S3 invokes asynchronously for each new object (BucketDeclaration.notifies): once
# Lambda's retries are spent, the event goes to a dead-letter queue instead of being dropped.
EVENT_INVOKED = frozenset(bucket.notifies for bucket in BUCKETS if bucket.notifies)
# The longest SQS keeps a message: two weeks to notice, fix and replay a failed event.
FAILED_EVENTS_KEPT_DAYS = 14
# What a producer needs from KMS to send to an SSE-KMS queue (Amazon SQS developer guide).
_QUEUE_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


class Functions(Construct):
    """Every declared function. `functions[name]` is the function declared as `name`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        catalog: DataCatalog,
        identity_environment: Mapping[str, str],
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        runtime, architecture = LAMBDA_RUNTIME, lambda_architecture()
        self.layers = [
            lambda_.LayerVersion(
                self,
                "CairnLayer",
                code=cairn_layer_code(),
                compatible_runtimes=[runtime],
                compatible_architectures=[architecture],
                description="Cairn's domain core (cairn) and tenancy (multitenant) packages",
            ),
            self._dependency_layer(runtime, architecture),
        ]
        environment = {**catalog.environment(), **identity_environment}
        # Roles first: the tenant data access role trusts them, and its ARN reaches the functions.
        self.roles: dict[str, iam.Role] = {
            declared.name: iam.Role(
                Construct(self, declared.name),
                "Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"Cairn {stage.name} {declared.name}: {declared.description}",
            )
            for declared in FUNCTIONS
        }
        self.tenant_data_access = TenantDataAccessRole(
            self, "TenantDataAccess", stage=stage, catalog=catalog,
            trusted={name: self.roles[name] for name in TENANT_DATA_ACCESS.assumed_by if name in self.roles},
        )
        environment[TENANT_DATA_ACCESS.env] = self.tenant_data_access.role.role_arn
        self.functions: dict[str, lambda_.Function] = {}
        for declared in FUNCTIONS:
            self.functions[declared.name] = self._function(
                declared, stage, catalog, environment, log_key, runtime, architecture
            )

    def _dependency_layer(
        self, runtime: lambda_.Runtime, architecture: lambda_.Architecture
    ) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            "DependencyLayer",
            code=dependency_layer_code(),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            description="Cairn's runtime dependencies from pyproject, as manylinux2014 wheels",
        )

    def _function(
        self,
        declared: FunctionDeclaration,
        stage: StageConfig,
        catalog: DataCatalog,
        environment: Mapping[str, str],
        log_key: kms.IKey,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
    ) -> lambda_.Function:
        role = self.roles[declared.name]
        scope = role.node.scope
        assert isinstance(scope, Construct)
        name = stage.resource_name(declared.name)
        source = PROJECT_ROOT / "functions" / declared.source
        if not source.is_dir():
            raise FileNotFoundError(f"function {declared.name!r} has no code at {source}")
        log_group = encrypted_log_group(scope, "Logs", stage=stage, key=log_key, name=f"/aws/lambda/{name}")
        log_group.grant_write(role)
        missing = [env for env in environment_names(declared) if env not in environment]
        if missing:
            raise ValueError(f"function {declared.name!r} needs {', '.join(missing)}, which nothing provides")
        function = lambda_.Function(
            scope,
            "Function",
            function_name=name,
            description=declared.description,
            runtime=runtime,
            architecture=architecture,
            handler=declared.handler,
            code=lambda_.Code.from_asset(str(source), exclude=["__pycache__", "*.pyc"]),
            layers=self.layers,
            role=role,
            memory_size=declared.memory_mb,
            timeout=Duration.seconds(declared.timeout_seconds),
            environment={
                **{env: environment[env] for env in environment_names(declared)},
                **POWERTOOLS_ENVIRONMENT,
                "POWERTOOLS_SERVICE_NAME": declared.name,
            },
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            reserved_concurrent_executions=stage.reserved_concurrency.get(declared.name),
            dead_letter_queue=_failed_events_queue(scope, stage, declared, log_key, role)
            if declared.name in EVENT_INVOKED
            else None,
        )
        catalog.grant(role, declared.uses)
        _acknowledge_function(function, role, stage, declared)
        return function


def _failed_events_queue(
    scope: Construct, stage: StageConfig, declared: FunctionDeclaration, key: kms.IKey, role: iam.Role
) -> sqs.Queue:
    """The dead-letter queue of an event-invoked function, encrypted with the storage key (an
    event names the object, whose key carries the tenant id). Lambda sends to it as the
    function's role, which CDK grants sqs:SendMessage; the key use SQS needs is granted here,
    through SQS only."""
    queue = sqs.Queue(
        scope,
        "FailedEvents",
        queue_name=stage.resource_name(f"{declared.name}-failed-events"),
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(FAILED_EVENTS_KEPT_DAYS),
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=list(_QUEUE_KEY_ACTIONS),
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"sqs.{Aws.REGION}.{Aws.URL_SUFFIX}"}},
        )
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter queue of an event-invoked function; a dead-letter queue "
        "of its own would only move failed events one step further from whoever replays them.",
    )
    return queue


def _acknowledge_function(
    function: lambda_.Function, role: iam.Role, stage: StageConfig, declared: FunctionDeclaration
) -> None:
    if declared.name not in EVENT_INVOKED:
        acknowledge(
            function,
            "HIPAA.Security-LambdaDLQ",
            "Invoked only synchronously (API Gateway, the REST authorizer, Step Functions lambda:invoke "
            "RequestResponse): a failure returns to the caller, which retries or records it; a DLQ only "
            "ever receives asynchronous invocations.",
        )
    acknowledge(
        function,
        "HIPAA.Security-LambdaInsideVPC",
        "Reaches only AWS APIs (DynamoDB, KMS, S3, Cognito) over TLS with IAM-signed requests; no data "
        "store is network-addressable, so a VPC would add NAT/endpoints without narrowing access.",
    )
    acknowledge(
        function,
        "AwsSolutions-L1",
        "Pinned to Python 3.11, the version the project and its dependency layer are built and tested "
        "with (binary wheels are per Python ABI); the runtime moves with the project, not separately.",
    )
    if declared.name not in stage.reserved_concurrency:
        acknowledge(
            function,
            "HIPAA.Security-LambdaConcurrency",
            f"Stage {stage.name} reserves no concurrency for this function (cdk.json stages); new and "
            "development accounts cannot reserve any without dropping below the unreserved minimum.",
        )
    acknowledge(
        role,
        "HIPAA.Security-IAMNoInlinePolicy",
        "A single-purpose role per function with its policy attached inline: AWS recommends inline "
        "policies for a strict one-to-one policy-to-identity relationship; it is deleted with the role.",
    )
