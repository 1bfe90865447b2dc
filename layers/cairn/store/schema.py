"""A table's shape, read from its PynamoDB model, for whoever creates the table.

CDK (infra/) and the embedded runtime (devkit/) both create tables from `TableShape`, so the
key schema and indexes stay declared once, in `cairn.store.models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.models import Model


@dataclass(frozen=True)
class IndexShape:
    name: str
    hash_key: str
    range_key: str | None
    projection: str  # ALL, KEYS_ONLY or INCLUDE


@dataclass(frozen=True)
class TableShape:
    hash_key: str
    range_key: str | None
    attribute_types: dict[str, str]  # key attribute name -> S, N or B
    global_indexes: tuple[IndexShape, ...]

    def create_table_request(self, table_name: str) -> dict[str, Any]:
        """Keyword arguments for DynamoDB CreateTable (on-demand billing)."""
        key_schema = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key:
            key_schema.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        request: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": key_schema,
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind}
                for name, kind in sorted(self.attribute_types.items())
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.global_indexes:
            request["GlobalSecondaryIndexes"] = [_index_request(index) for index in self.global_indexes]
        return request


def _index_request(index: IndexShape) -> dict[str, Any]:
    key_schema = [{"AttributeName": index.hash_key, "KeyType": "HASH"}]
    if index.range_key:
        key_schema.append({"AttributeName": index.range_key, "KeyType": "RANGE"})
    return {
        "IndexName": index.name,
        "KeySchema": key_schema,
        "Projection": {"ProjectionType": index.projection},
    }


def table_shape(model: type[Model]) -> TableShape:
    """Read the key schema, key attribute types and global indexes from a PynamoDB model."""
    schema = model._get_schema()
    keys = {entry["KeyType"]: entry["AttributeName"] for entry in schema["key_schema"]}
    attribute_types = {d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]}
    indexes = []
    for gsi in schema["global_secondary_indexes"]:
        index_keys = {entry["KeyType"]: entry["AttributeName"] for entry in gsi["key_schema"]}
        indexes.append(
            IndexShape(
                name=gsi["index_name"],
                hash_key=index_keys["HASH"],
                range_key=index_keys.get("RANGE"),
                projection=gsi["projection"]["ProjectionType"],
            )
        )
    return TableShape(
        hash_key=keys["HASH"],
        range_key=keys.get("RANGE"),
        attribute_types=attribute_types,
        global_indexes=tuple(indexes),
    )
