"""DynamoDB tables shaped by their PynamoDB models (TABLES + `table_shape`)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from cairn.store.schema import IndexShape, table_shape
from infra.declarations import TABLES, TableDeclaration
from infra.stage import StageConfig

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


def _attribute(name: str, types: dict[str, str]) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[types[name]])


def _add_index(table: dynamodb.Table, index: IndexShape, types: dict[str, str]) -> None:
    table.add_global_secondary_index(
        index_name=index.name,
        partition_key=_attribute(index.hash_key, types),
        sort_key=_attribute(index.range_key, types) if index.range_key else None,
        projection_type=_PROJECTIONS[index.projection],
    )


def index_names(declared: TableDeclaration) -> list[str]:
    """The global index names of a declared table, for grants that must cover its indexes."""
    return [index.name for index in table_shape(declared.model).global_indexes]


class Tables(Construct):
    """One on-demand table per TABLES entry: its declared customer-managed key, PITR, deletion protection,
    retained on stack deletion, named `cairn-<stage>-<key>`.

    `Table` rather than `TableV2`: TableV2 cannot render a customer-managed key in an
    environment-agnostic (region-agnostic) stack.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, stage: StageConfig, keys: Mapping[str, kms.IKey]
    ) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {}
        for declared in TABLES:
            shape = table_shape(declared.model)
            types = shape.attribute_types
            table = dynamodb.Table(
                self,
                declared.key.capitalize(),
                table_name=stage.resource_name(declared.key),
                partition_key=_attribute(shape.hash_key, types),
                sort_key=_attribute(shape.range_key, types) if shape.range_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
                encryption_key=keys[declared.encryption_key],
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True,
                ),
                deletion_protection=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            for index in shape.global_indexes:
                _add_index(table, index, types)
            self.tables[declared.key] = table


def import_table(
    scope: Construct, stage: StageConfig, declared: TableDeclaration, key: kms.IKey
) -> dynamodb.ITable:
    """A declared table seen from another stack: by name, with its key and indexes for grants.

    Referencing by the stage's naming convention instead of a CloudFormation export keeps the
    stacks loosely coupled (an export cannot change while it is imported) and makes policy
    resources deterministic ARNs.
    """
    return dynamodb.Table.from_table_attributes(
        scope,
        f"Imported{declared.key.capitalize()}Table",
        table_name=stage.resource_name(declared.key),
        encryption_key=key,
        global_indexes=index_names(declared) or None,
    )
