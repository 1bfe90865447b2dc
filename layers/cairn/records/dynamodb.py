"""The DynamoDB repository: items serialized by the ClinicalItem model, sent through the
injected client (never PynamoDB's own connection), every key under the tenant's prefix.

A create is one transaction: the version item, the current item (which the by_type index
lists) and one index item per blind token, so a resource is never findable before it exists
nor stored without its index entries. Every item is put only if absent, so a create whose
id is taken writes nothing and says so (ResourceExists). A Patient create also adds one to the
tenant's patient counter in the same transaction, conditional on staying within the tier's limit
where one is given (TierLimitReached), so the count is exact and the limit cannot be raced past.
Searches query index partitions and then batch-read the current items; nothing scans.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from cairn.crypto.blind_index import BlindIndex
from cairn.crypto.field_cipher import FieldCipher
from cairn.crypto.keyring import BaseKeyring
from cairn.errors import InvalidResource, ResourceExists
from cairn.fhir.outcome import issue
from cairn.fhir.search import SearchCriterion, SearchQuery, index_values
from cairn.records import keys
from cairn.records.repository import BaseResourceRepository, SearchPage
from cairn.records.sealing import ResourceSealer
from cairn.records.standing import TierLimitReached
from cairn.store.models import ClinicalItem
from multitenant.context import TenantContext

MAX_TRANSACTION_ITEMS = 100  # DynamoDB's TransactWriteItems limit
ITEM_WRITES_PER_CREATE = 2  # the version item and the current item
BATCH_GET_LIMIT = 100
BATCH_GET_ATTEMPTS = 5
NOT_EXISTS = "attribute_not_exists(pk)"
COUNTED_TYPES = frozenset({"Patient"})  # the resource types a tier limits


class DynamoResourceRepository(BaseResourceRepository):
    """One tenant's resources in the clinical table."""

    def __init__(self, context: TenantContext, dynamodb: Any, table: str, keyring: BaseKeyring,
                 patient_limit: int | None = None) -> None:
        super().__init__(context)
        self._dynamodb = dynamodb
        self._table = table
        self._keyring = keyring
        self._patient_limit = patient_limit  # the tier's; None: count, but do not limit
        self._sealer: ResourceSealer | None = None
        self._blind_index: BlindIndex | None = None

    def add(self, resource: dict[str, Any]) -> None:
        sealer, blind_index = self._keys()
        resource_type, resource_id = resource["resourceType"], resource["id"]
        version_id = int(resource["meta"]["versionId"])
        last_updated = resource["meta"]["lastUpdated"]
        body, phi = sealer.seal(resource)
        tenant = self.context.tenant_id
        pk = keys.resource_pk(tenant, resource_type, resource_id)
        common = {
            "pk": pk, "resource_type": resource_type, "resource_id": resource_id,
            "version_id": version_id, "last_updated": last_updated, "body": body, "phi": phi,
        }
        items = [
            ClinicalItem(sk=keys.version_sk(version_id), **common),
            ClinicalItem(
                sk=keys.CURRENT_SK,
                type_key=keys.type_key(tenant, resource_type),
                type_sort=keys.type_sort(last_updated, resource_id),
                **common,
            ),
        ]
        tokens = {
            (parameter, blind_index.token(parameter, value))
            for parameter, values in index_values(resource_type, resource).items()
            for value in values
        }
        self._check_transaction_size(resource_type, len(tokens))
        items += [
            ClinicalItem(pk=keys.index_pk(tenant, resource_type, parameter, token), sk=resource_id)
            for parameter, token in sorted(tokens)
        ]
        writes: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table, "Item": item.serialize(), "ConditionExpression": NOT_EXISTS}}
            for item in items
        ]
        if resource_type in COUNTED_TYPES:
            writes.append(self._count(resource_type))
        try:
            self._dynamodb.transact_write_items(TransactItems=writes)
        except ClientError as error:
            if _version_item_exists(error):
                raise ResourceExists(resource_type, resource_id) from None
            if resource_type in COUNTED_TYPES and _last_condition_failed(error):
                raise TierLimitReached(resource_type, self._patient_limit or 0) from None
            raise

    def _count(self, resource_type: str) -> dict[str, Any]:
        """Add one to the tenant's counter of `resource_type`, within the limit if there is one."""
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": keys.counter_pk(self.context.tenant_id)}, "sk": {"S": resource_type}},
            "UpdateExpression": "ADD #count :one",
            "ExpressionAttributeNames": {"#count": "count"},
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
        if self._patient_limit is not None:
            update["ConditionExpression"] = "attribute_not_exists(#count) OR #count < :limit"
            update["ExpressionAttributeValues"][":limit"] = {"N": str(self._patient_limit)}
        return {"Update": update}

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key=self._current_key(resource_type, resource_id),
            ConsistentRead=True,  # a clinician reads what was just written
        )
        if "Item" not in response:
            return None
        return self._open(ClinicalItem.from_raw_data(response["Item"]))

    def search(self, query: SearchQuery) -> SearchPage:
        if not query.criteria:
            return SearchPage(self._newest(query.resource_type, query.count), total=None)
        matches: set[str] | None = None
        for criterion in query.criteria:
            found = set(self._index_matches(query.resource_type, criterion))
            matches = found if matches is None else matches & found
            if not matches:
                return SearchPage([], total=0)
        assert matches is not None  # query.criteria is not empty
        # Sorted ids give a stable page; the order carries no meaning.
        page_ids = sorted(matches)[: query.count]
        return SearchPage(self._batch_get(query.resource_type, page_ids), total=len(matches))

    def _keys(self) -> tuple[ResourceSealer, BlindIndex]:
        """The tenant's sealer and blind index, from one keyring lookup per repository."""
        if self._sealer is None or self._blind_index is None:
            data_key = self._keyring.data_key(self.context.tenant_id)
            self._sealer = ResourceSealer(self.context.tenant_id, FieldCipher(data_key))
            self._blind_index = BlindIndex(data_key)
        return self._sealer, self._blind_index

    def _open(self, item: ClinicalItem) -> dict[str, Any] | None:
        if item.deleted or item.body is None:
            return None
        sealer, _ = self._keys()
        # A raw MapAttribute keeps its entries, already deserialized, in attribute_values.
        phi = {str(name): str(value) for name, value in item.phi.attribute_values.items()} if item.phi else {}
        return sealer.open(item.body, phi)

    def _current_key(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        pk = keys.resource_pk(self.context.tenant_id, resource_type, resource_id)
        return {"pk": {"S": pk}, "sk": {"S": keys.CURRENT_SK}}

    def _check_transaction_size(self, resource_type: str, token_count: int) -> None:
        limit = MAX_TRANSACTION_ITEMS - ITEM_WRITES_PER_CREATE - (resource_type in COUNTED_TYPES)
        if token_count > limit:
            raise InvalidResource([issue(
                "too-costly",
                f"this {resource_type} has {token_count} searchable names and identifiers; "
                f"at most {limit} can be stored at once",
                resource_type,
            )])

    def _index_matches(self, resource_type: str, criterion: SearchCriterion) -> Iterator[str]:
        _, blind_index = self._keys()
        token = blind_index.token(criterion.parameter, criterion.value)
        pk = keys.index_pk(self.context.tenant_id, resource_type, criterion.parameter, token)
        for item in self._query(KeyConditionExpression="pk = :pk",
                                ExpressionAttributeValues={":pk": {"S": pk}},
                                ProjectionExpression="sk"):
            yield item["sk"]["S"]

    def _newest(self, resource_type: str, count: int) -> list[dict[str, Any]]:
        if count == 0:
            return []
        response = self._dynamodb.query(
            TableName=self._table,
            IndexName=ClinicalItem.by_type.Meta.index_name,
            KeyConditionExpression="type_key = :type_key",
            ExpressionAttributeValues={
                ":type_key": {"S": keys.type_key(self.context.tenant_id, resource_type)},
            },
            ScanIndexForward=False,
            Limit=count,
        )
        ids = [item["pk"]["S"].rsplit("#", 1)[-1] for item in response.get("Items", [])]
        return self._batch_get(resource_type, ids)

    def _query(self, **request: Any) -> Iterator[dict[str, Any]]:
        """Every item of a query, following pagination."""
        request = {"TableName": self._table, **request}
        while True:
            response = self._dynamodb.query(**request)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _batch_get(self, resource_type: str, resource_ids: list[str]) -> list[dict[str, Any]]:
        """Current versions of `resource_ids`, in that order, skipping any that vanished."""
        by_id: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(resource_ids, BATCH_GET_LIMIT):
            for raw in self._batch_get_chunk([self._current_key(resource_type, rid) for rid in chunk]):
                item = ClinicalItem.from_raw_data(raw)
                resource = self._open(item)
                if resource is not None and item.resource_id is not None:
                    by_id[item.resource_id] = resource
        return [by_id[rid] for rid in resource_ids if rid in by_id]

    def _batch_get_chunk(self, keys_: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {self._table: {"Keys": keys_}}
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = self._dynamodb.batch_get_item(RequestItems=request)
            yield from response.get("Responses", {}).get(self._table, [])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return
            time.sleep(0.05 * 2**attempt)  # DynamoDB asks for backoff on unprocessed keys
        raise RuntimeError("DynamoDB left keys unprocessed after retries")


def _version_item_exists(error: ClientError) -> bool:
    """Whether a create's transaction was cancelled because its version item (the first) exists."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or [{}]
    code: object = reasons[0].get("Code")
    return code == "ConditionalCheckFailed"


def _last_condition_failed(error: ClientError) -> bool:
    """Whether a create's transaction was cancelled by its last write (the counter's limit)."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = error.response.get("CancellationReasons") or [{}]
    code: object = reasons[-1].get("Code")
    return code == "ConditionalCheckFailed"


def _chunks(values: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]
