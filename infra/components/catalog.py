"""The declared data resources as the API and workflow stacks see them, and grants on them.

Tables, buckets and state machines are referenced by their stage names (`cairn-<stage>-<key>`)
rather than through CloudFormation exports: stacks stay independently deployable (an export
cannot change while another stack imports it), and every ARN in a policy is a deterministic
string an auditor can read. Only the KMS keys, whose ARNs are random, cross stacks as references.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cairn import config
from cairn.billing.settings import STRIPE_API
from cairn.crypto.keyring import TENANT_CONTEXT_KEY
from cairn.messaging.config import Delivery
from infra.components.buckets import bucket_name
from infra.components.secrets import secret_name
from infra.components.tables import import_table
from infra.declarations import (
    BUCKETS,
    KEYS,
    MESSAGING,
    SECRETS,
    STATE_MACHINES,
    TABLES,
    USAGE_KEYS,
    Access,
    TableDeclaration,
)
from infra.stage import StageConfig

# What a customer-managed-key table needs from KMS for a PutItem, and only through DynamoDB.
_APPEND_KEY_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
# User administration (invite, change role, disable, groups), on one user pool and nothing else.
_ADMINISTER_USERS_ACTIONS = (
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminGetUser",
    "cognito-idp:AdminUpdateUserAttributes",
    "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminEnableUser",
    "cognito-idp:AdminDeleteUser",
    "cognito-idp:AdminUserGlobalSignOut",
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:AdminRemoveUserFromGroup",
    "cognito-idp:AdminListGroupsForUser",
    "cognito-idp:ListUsers",
    "cognito-idp:ListUsersInGroup",
    "cognito-idp:CreateGroup",
    "cognito-idp:GetGroup",
    "cognito-idp:DeleteGroup",
)
# A tenant's API Gateway API key and its tier's usage plans (multitenant/provisioning.py
# ApiGatewayUsageKeys), by API Gateway management path: find plans and keys, create a key, add it
# to a plan, delete a key (compensation). Key and plan ids are random, hence the two wildcards.
USAGE_KEY_PERMISSIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("apigateway:GET", ("/usageplans", "/apikeys")),
    ("apigateway:POST", ("/apikeys", "/usageplans/*/keys")),
    ("apigateway:DELETE", ("/apikeys/*",)),
)
# Field-level envelope encryption: wrap and unwrap tenant data keys (cairn.crypto.keyring).
_ENCRYPT_DECRYPT_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")


def _table(key: str) -> TableDeclaration:
    return next(table for table in TABLES if table.key == key)


def executions_arn(scope: Construct, stage: StageConfig, name: str) -> str:
    """The ARN pattern of every execution of declared state machine `name`."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{stage.resource_name(name)}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def state_machine_arn(scope: Construct, stage: StageConfig, name: str) -> str:
    """The ARN of declared state machine `name`, built from its stage name (no reference, no cycle)."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="stateMachine",
        resource_name=stage.resource_name(name),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class DataCatalog(Construct):
    """Imports of every declared table, bucket and key, and the least-privilege grants on them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        keys: Mapping[str, kms.IKey],
        user_pools: Mapping[str, cognito.IUserPool] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        self.keys = dict(keys)
        self.user_pools = dict(user_pools or {})
        self.tables: dict[str, dynamodb.ITable] = {
            declared.key: import_table(self, stage, declared, keys[declared.encryption_key])
            for declared in TABLES
        }
        self.buckets: dict[str, s3.IBucket] = {
            declared.key: s3.Bucket.from_bucket_attributes(
                self,
                f"Imported{declared.key.capitalize()}Bucket",
                bucket_name=bucket_name(stage, declared),
                encryption_key=keys[declared.encryption_key] if declared.encryption_key else None,
            )
            for declared in BUCKETS
        }
        self.state_machine_arns = {
            machine.name: state_machine_arn(self, stage, machine.name) for machine in STATE_MACHINES
        }
        self.secrets: dict[str, secretsmanager.ISecret] = {
            declared.key: secretsmanager.Secret.from_secret_attributes(
                self, f"Imported{declared.key.capitalize()}Secret",
                secret_partial_arn=Stack.of(self).format_arn(
                    service="secretsmanager", resource="secret",
                    resource_name=secret_name(stage, declared.key), arn_format=ArnFormat.COLON_RESOURCE_NAME))
            for declared in SECRETS
        }
        self._started: dict[str, sfn.IStateMachine] = {}

    def environment(self) -> dict[str, str]:
        """Every data variable a function may receive (cairn.config names), by name."""
        values = {config.STAGE: self.stage.name}
        values.update({declared.env: self.tables[declared.key].table_name for declared in TABLES})
        values.update({declared.env: self.keys[declared.key].key_arn for declared in KEYS if declared.env})
        values.update({d.env: self.buckets[d.key].bucket_name for d in BUCKETS if d.env})
        values.update({machine.env: self.state_machine_arns[machine.name] for machine in STATE_MACHINES})
        values.update({config.MESSAGE_DELIVERY: self.stage.message_delivery,
                       config.MESSAGE_SENDER: self.stage.message_sender})
        values.update({declared.env: secret_name(self.stage, declared.key) for declared in SECRETS})
        # Stripe itself in AWS, and the stage's billing settings.
        values.update({config.STRIPE_API_BASE: STRIPE_API,
                       config.BILLING_RETURN_URL: self.stage.billing_return_url,
                       config.DUNNING_TIMINGS: self.stage.dunning_timings})
        return values

    def grant(self, grantee: iam.IGrantable, uses: Mapping[str, Access]) -> None:
        """Grant `grantee` exactly the declared access to each resource it uses."""
        for resource, access in uses.items():
            if resource in self.tables:
                self._grant_table(grantee, resource, access)
            elif resource in self.buckets:
                self._grant_bucket(grantee, resource, access)
            elif resource in self.secrets and access is Access.READ:
                self._grant_secret(grantee, resource)
            elif resource in self.keys and access is Access.ENCRYPT_DECRYPT:
                self._grant_key(grantee, resource)
            elif resource in self.user_pools and access is Access.ADMINISTER_USERS:
                self.user_pools[resource].grant(grantee, *_ADMINISTER_USERS_ACTIONS)
            elif resource == USAGE_KEYS and access is Access.MANAGE_USAGE_KEYS:
                self._grant_usage_keys(grantee)
            elif resource in self.state_machine_arns and access is Access.START:
                self._state_machine(resource).grant_start_execution(grantee)
            elif resource in self.state_machine_arns and access is Access.START_STOP:
                self._state_machine(resource).grant_start_execution(grantee)
                grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
                    # Describe: a repeated start asks whether the execution of its name still runs.
                    actions=["states:StopExecution", "states:DescribeExecution"],
                    resources=[executions_arn(self, self.stage, resource)]))
            elif resource in self.state_machine_arns and access is Access.RESUME:
                # SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat on the one state machine.
                self._state_machine(resource).grant_task_response(grantee)
            elif resource == MESSAGING and access in (Access.SEND, Access.READ):
                if access is Access.SEND and self.stage.message_delivery == Delivery.AWS.value:
                    self._grant_messaging(grantee)
            else:
                raise ValueError(
                    f"no grant for {access} on {resource!r}: is it declared, and is the access valid?"
                )

    def _state_machine(self, name: str) -> sfn.IStateMachine:
        """Declared state machine `name`, imported by ARN once however many functions start it."""
        if name not in self._started:
            self._started[name] = sfn.StateMachine.from_state_machine_arn(
                self, f"Started{name.title()}", self.state_machine_arns[name]
            )
        return self._started[name]

    def _grant_messaging(self, grantee: iam.IGrantable) -> None:
        """Email from the stage's sender identity only (as an address or its domain identity), and
        SMS to phone numbers only: SMS has no ARN, so Publish is allowed on "*" and denied on
        every topic, which leaves direct publishes to a phone number."""
        stack, sender = Stack.of(self), self.stage.message_sender
        identities = [stack.format_arn(service="ses", resource="identity", resource_name=name,
                                       arn_format=ArnFormat.SLASH_RESOURCE_NAME)
                      for name in (sender, sender.rpartition("@")[2])]
        principal = grantee.grant_principal
        principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["ses:SendEmail"], resources=identities,
            conditions={"StringEquals": {"ses:FromAddress": sender}}))
        principal.add_to_principal_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=["*"]))
        principal.add_to_principal_policy(iam.PolicyStatement(
            effect=iam.Effect.DENY, actions=["sns:Publish"],
            resources=[f"arn:{stack.partition}:sns:*:*:*"]))

    def _grant_secret(self, grantee: iam.IGrantable, key: str) -> None:
        """GetSecretValue on the one secret, and its key's Decrypt through Secrets Manager only. The key
        use is granted on the principal, not in the key policy, which lives in the data stack."""
        self.secrets[key].grant_read(grantee)
        declared = next(secret for secret in SECRETS if secret.key == key)
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["kms:Decrypt"], resources=[self.keys[declared.encryption_key].key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{Aws.REGION}.{Aws.URL_SUFFIX}"}}))

    def _grant_usage_keys(self, grantee: iam.IGrantable) -> None:
        stack = Stack.of(self)
        for action, paths in USAGE_KEY_PERMISSIONS:
            iam.Grant.add_to_principal(
                grantee=grantee, actions=[action],
                resource_arns=[f"arn:{stack.partition}:apigateway:{stack.region}::{path}" for path in paths],
            )

    def _grant_key(self, grantee: iam.IGrantable, key: str) -> None:
        declared = next(k for k in KEYS if k.key == key)
        if not declared.tenant_context:
            self.keys[key].grant(grantee, *_ENCRYPT_DECRYPT_ACTIONS)
            return
        # Every use must name a tenant in the encryption context; the tenancy work narrows the
        # value to the caller's own tenant with tenant-scoped credentials.
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(_ENCRYPT_DECRYPT_ACTIONS),
                resources=[self.keys[key].key_arn],
                conditions={
                    "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": TENANT_CONTEXT_KEY},
                    "Null": {f"kms:EncryptionContext:{TENANT_CONTEXT_KEY}": "false"},
                },
            )
        )

    def _grant_table(self, grantee: iam.IGrantable, key: str, access: Access) -> None:
        table = self.tables[key]
        if access is Access.READ:
            table.grant_read_data(grantee)
        elif access is Access.READ_WRITE:
            table.grant_read_write_data(grantee)
        elif access in (Access.APPEND, Access.READ_APPEND):
            if access is Access.READ_APPEND:  # queries and gets of the table and its indexes
                grantee.grant_principal.add_to_principal_policy(
                    iam.PolicyStatement(actions=["dynamodb:Query", "dynamodb:GetItem"],
                                        resources=[table.table_arn, f"{table.table_arn}/index/*"]))
            # Append-only: PutItem and nothing else (no Update/Delete/BatchWrite); ReturnValues
            # NONE so a put cannot read back an item it collided with.
            grantee.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:PutItem"],
                    resources=[table.table_arn],
                    conditions={"StringEqualsIfExists": {"dynamodb:ReturnValues": "NONE"}},
                )
            )
            grantee.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=list(_APPEND_KEY_ACTIONS),
                    resources=[self.keys[_table(key).encryption_key].key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"dynamodb.{Aws.REGION}.{Aws.URL_SUFFIX}"}
                    },
                )
            )
        else:
            raise ValueError(f"tables take read, read_write or append, not {access}")

    def _grant_bucket(self, grantee: iam.IGrantable, key: str, access: Access) -> None:
        bucket = self.buckets[key]
        if access is Access.READ:
            bucket.grant_read(grantee)
        elif access is Access.READ_WRITE:
            bucket.grant_read_write(grantee)
        elif access is Access.APPEND:
            bucket.grant_put(grantee)
        else:
            raise ValueError(f"buckets take read, read_write or append, not {access}")
