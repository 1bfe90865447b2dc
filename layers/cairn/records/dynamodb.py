"""The DynamoDB repository: items serialized by the ClinicalItem model, sent through the
injected client (never PynamoDB's own connection), every key under the tenant's prefix.

A commit is one TransactWriteItems: for each change, the new version item, the current item
(conditional on the version it replaces, or on being new) and the index entries that changed, so
a resource is never findable before it exists, nor stored without its index entries, nor
overwritten by a writer that read an older version. A Patient create also adds one to the
tenant's patient counter, conditional on the tier's limit where one is given.

Searches query index partitions (cairn.records.keys), never the table: one criterion drives
(see `_plan`), the candidates are read in a batch and every criterion is checked again on the
decrypted resource, so an index entry can narrow a search but never decide it.
"""

from __future__ import annotations

import base64
import heapq
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from cairn.crypto.blind_index import BlindIndex
from cairn.crypto.field_cipher import FieldCipher
from cairn.crypto.keyring import BaseKeyring
from cairn.errors import HoldTaken, InvalidSearch, ResourceExists, TransactionTooLarge, VersionConflict
from cairn.fhir import search as fhir_search
from cairn.fhir.search import ParameterType, SearchCriterion, SearchQuery
from cairn.records import keys
from cairn.records.repository import (
    BaseResourceRepository,
    Change,
    ChangeKind,
    HistoryPage,
    Hold,
    SearchPage,
    StoredVersion,
)
from cairn.records.sealing import ResourceSealer
from cairn.records.standing import TierLimitReached
from cairn.store.models import ClinicalItem
from multitenant import permissions
from multitenant.context import TenantContext

T = TypeVar("T")
MAX_TRANSACTION_ITEMS = 100  # DynamoDB's TransactWriteItems limit
BATCH_GET_LIMIT = 100
BATCH_GET_ATTEMPTS = 5
MAX_EXAMINED = 2000  # candidates one search request reads before answering with what it found
MAX_SORTED = 1000  # matches a search may sort in memory (an order no index keeps)
NOT_EXISTS = "attribute_not_exists(pk)"
COUNTED_TYPES = frozenset({"Patient"})  # the resource types a tier limits
PATIENT_DATE = "patient-date"  # blind index namespace of the per-patient date partitions
# A patient's resources of one code, in clinical-date order: "this patient's HbA1c over the
# years", the trend a chart and the portal draw, is one Query however long the history.
PATIENT_CODE = "patient+code"
COMPARTMENT = "compartment"  # blind index namespace of the per-patient compartment partitions
# Drivers, most selective first: a search reads the partition of the first criterion it has.
DRIVER_ORDER = (
    "identifier",
    "patient",
    "subject",
    "beneficiary",
    "for",
    "name",
    "family",
    "given",
    "birthdate",
    "encounter",
    "schedule",
    "actor",
    "practitioner",
    "target",
    "url",
    "code",
)
SPECIAL = frozenset({"_id", "_lastUpdated"})


@dataclass(frozen=True)
class _Partition:
    """One index partition a search reads, in key order: the base table, or by_type."""

    pk: str
    lower: str | None = None  # inclusive sort key bounds
    upper: str | None = None
    by_type: bool = False


@dataclass(frozen=True)
class _Plan:
    partitions: tuple[_Partition, ...]
    descending: bool
    sorted_by_index: bool  # the query's _sort (if any) is the partitions' own order


class DynamoResourceRepository(BaseResourceRepository):
    """One tenant's resources in the clinical table."""

    def __init__(
        self,
        context: TenantContext,
        dynamodb: Any,
        table: str,
        keyring: BaseKeyring,
        patient_limit: int | None = None,
    ) -> None:
        super().__init__(context)
        self._dynamodb = dynamodb
        self._table = table
        self._keyring = keyring
        self._patient_limit = patient_limit  # the tier's; None: count, but do not limit
        self._sealer: ResourceSealer | None = None
        self._blind_index: BlindIndex | None = None

    # ----------------------------------------------------------------- writes

    def commit(self, changes: Sequence[Change], holds: Sequence[Hold] = ()) -> None:
        writes: list[dict[str, Any]] = []
        owners: list[tuple[Change | Hold, str]] = []  # per write: its change or hold, and what it is
        for change in changes:
            for write, role in self._writes(change):
                writes.append(write)
                owners.append((change, role))
        for hold in holds:
            writes.append(self._hold_write(hold))
            owners.append((hold, "hold"))
        if len(writes) > MAX_TRANSACTION_ITEMS:
            raise TransactionTooLarge(
                f"these changes need {len(writes)} writes and one atomic transaction holds at most "
                f"{MAX_TRANSACTION_ITEMS}; split them into smaller transactions (or send a batch)"
            )
        if not writes:
            return
        try:
            self._dynamodb.transact_write_items(TransactItems=writes)
        except ClientError as error:
            domain = self._cancellation(error.response, owners)
            if domain is None:
                raise
            raise domain from None

    def _writes(self, change: Change) -> Iterator[tuple[dict[str, Any], str]]:
        sealer, _ = self._keys()
        tenant = self.context.tenant_id
        resource = change.resource
        resource_type, resource_id, version_id = change.resource_type, change.resource_id, change.version_id
        last_updated = str(resource["meta"]["lastUpdated"])
        pk = keys.resource_pk(tenant, resource_type, resource_id)
        deleted = change.kind is ChangeKind.DELETE
        stored: dict[str, Any] = {
            "pk": pk,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "version_id": version_id,
            "last_updated": last_updated,
        }
        if deleted:
            stored["deleted"] = True
        else:
            stored["body"], stored["phi"] = sealer.seal(resource)
        version = ClinicalItem(
            sk=keys.version_sk(version_id),
            history_key=keys.type_key(tenant, resource_type),
            history_sort=keys.history_sort(last_updated, resource_id, version_id),
            **stored,
        )
        yield self._put(version, NOT_EXISTS), "version"
        current = ClinicalItem(sk=keys.CURRENT_SK, **stored)
        if not deleted:
            current.type_key = keys.type_key(tenant, resource_type)
            current.type_sort = keys.type_sort(last_updated, resource_id)
        if change.previous is None:
            yield self._put(current, NOT_EXISTS), "current"
        else:
            previous_version = int(change.previous["meta"]["versionId"])
            condition = {
                "ConditionExpression": "version_id = :previous",
                "ExpressionAttributeValues": {":previous": {"N": str(previous_version)}},
            }
            yield self._put(current, None, condition), "replace"
        old = self._entries(change.previous) if change.previous is not None else set()
        new = set() if deleted else self._entries(resource)
        for entry_pk, entry_sk in sorted(old - new):
            yield (
                {"Delete": {"TableName": self._table, "Key": {"pk": {"S": entry_pk}, "sk": {"S": entry_sk}}}},
                "index",
            )
        for entry_pk, entry_sk in sorted(new - old):
            item = ClinicalItem(
                pk=entry_pk, sk=entry_sk, resource_type=resource_type, resource_id=resource_id
            )
            yield self._put(item, None), "index"
        if resource_type in COUNTED_TYPES and change.kind is not ChangeKind.UPDATE:
            yield self._count(resource_type, -1 if deleted else 1), "counter"

    def _put(
        self, item: ClinicalItem, condition: str | None, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._table, "Item": item.serialize()}
        if condition:
            put["ConditionExpression"] = condition
        if extra:
            put.update(extra)
        return {"Put": put}

    def _count(self, resource_type: str, step: int) -> dict[str, Any]:
        """Add `step` to the tenant's counter of `resource_type`, within the limit if there is one."""
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": keys.counter_pk(self.context.tenant_id)}, "sk": {"S": resource_type}},
            "UpdateExpression": "ADD #count :step",
            "ExpressionAttributeNames": {"#count": "count"},
            "ExpressionAttributeValues": {":step": {"N": str(step)}},
        }
        if self._patient_limit is not None and step > 0:
            update["ConditionExpression"] = "attribute_not_exists(#count) OR #count < :limit"
            update["ExpressionAttributeValues"][":limit"] = {"N": str(self._patient_limit)}
        return {"Update": update}

    def _hold_write(self, hold: Hold) -> dict[str, Any]:
        """Take a hold if nobody has it, or release it if `hold.holder` has it."""
        key = {"pk": {"S": keys.hold_pk(self.context.tenant_id, hold.scope)}, "sk": {"S": hold.key}}
        if hold.take:
            item = ClinicalItem(pk=key["pk"]["S"], sk=hold.key, resource_id=hold.holder)
            return self._put(item, NOT_EXISTS)
        return {"Delete": {
            "TableName": self._table, "Key": key,
            "ConditionExpression": "resource_id = :holder",
            "ExpressionAttributeValues": {":holder": {"S": hold.holder}},
        }}

    def holds(self, scope: str, lower: str, upper: str) -> dict[str, str]:
        if upper <= lower:
            return {}
        items = self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lower AND :upper",
            ExpressionAttributeValues={":pk": {"S": keys.hold_pk(self.context.tenant_id, scope)},
                                       ":lower": {"S": lower}, ":upper": {"S": upper}},
            ProjectionExpression="sk, resource_id",
            ConsistentRead=True,  # a free slot shown must not be one just booked
        )
        return {item["sk"]["S"]: item["resource_id"]["S"] for item in items if item["sk"]["S"] < upper}

    def _cancellation(
        self, response: dict[str, Any], owners: list[tuple[Change | Hold, str]]
    ) -> Exception | None:
        """The domain error of a cancelled transaction (which write's condition failed); None
        when the failure is not one."""
        if response.get("Error", {}).get("Code") != "TransactionCanceledException":
            return None
        reasons = response.get("CancellationReasons") or []
        for (change, role), reason in zip(owners, reasons, strict=False):
            if reason.get("Code") != "ConditionalCheckFailed":
                continue
            if isinstance(change, Hold):
                return HoldTaken(change.scope, change.key)
            if role in ("version", "current"):
                if change.kind is ChangeKind.CREATE:
                    return ResourceExists(change.resource_type, change.resource_id)
                return VersionConflict(change.resource_type, change.resource_id)
            if role == "replace":
                return VersionConflict(change.resource_type, change.resource_id)
            if role == "counter":
                return TierLimitReached(change.resource_type, self._patient_limit or 0)
        return None

    def _entries(self, resource: dict[str, Any]) -> set[tuple[str, str]]:
        """The index entries (pk, sk) of one resource version."""
        _, blind_index = self._keys()
        tenant = self.context.tenant_id
        resource_type, resource_id = str(resource["resourceType"]), str(resource["id"])
        order = fhir_search.timeline_start(resource_type, resource)
        entries: set[tuple[str, str]] = set()
        for parameter, values in fhir_search.index_values(resource_type, resource).items():
            if parameter in SPECIAL:
                continue
            for value in values:
                token = blind_index.token(parameter, value)
                entries.add(
                    (
                        keys.index_pk(tenant, resource_type, parameter, token),
                        keys.entry_sk(order, resource_id),
                    )
                )
        compartment = (
            [] if resource_type == "Patient" else sorted(permissions.compartment_patient_ids(resource))
        )
        patients = [blind_index.token(PATIENT_DATE, f"Patient/{patient_id}") for patient_id in compartment]
        for patient_id in compartment:
            token = blind_index.token(COMPARTMENT, f"Patient/{patient_id}")
            entries.add((keys.compartment_pk(tenant, token), keys.compartment_sk(resource_type, resource_id)))
        for code in fhir_search.index_values(resource_type, resource).get("code", ()):
            for patient_id in compartment:
                token = blind_index.token(PATIENT_CODE, f"Patient/{patient_id}|{code}")
                entries.add(
                    (
                        keys.index_pk(tenant, resource_type, PATIENT_CODE, token),
                        keys.entry_sk(order, resource_id),
                    )
                )
        # Blind date parameters (birthdate: PHI) are in index_values; these are the others.
        for parameter, ranges in fhir_search.date_values(resource_type, resource).items():
            if parameter in SPECIAL:
                continue
            for start in sorted({date_range.start for date_range in ranges}):
                sk = keys.entry_sk(start, resource_id)
                entries.add((keys.date_pk(tenant, resource_type, parameter), sk))
                entries.update(
                    (keys.date_pk(tenant, resource_type, parameter, token), sk) for token in patients
                )
        return entries

    # ------------------------------------------------------------------ reads

    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        response = self._dynamodb.get_item(
            TableName=self._table,
            Key=self._item_key(resource_type, resource_id, keys.CURRENT_SK),
            ConsistentRead=True,  # a clinician reads what was just written
        )
        if "Item" not in response:
            return None
        return self._stored(ClinicalItem.from_raw_data(response["Item"]))

    def get_many(self, references: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        wanted = list(dict.fromkeys(references))
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for chunk in _chunks(wanted, BATCH_GET_LIMIT):
            request = [self._item_key(kind, rid, keys.CURRENT_SK) for kind, rid in chunk]
            for raw in self._batch_get_chunk(request):
                stored = self._stored(ClinicalItem.from_raw_data(raw))
                if stored.resource is not None:
                    found[(stored.resource_type, stored.resource_id)] = stored.resource
        return found

    def version(self, resource_type: str, resource_id: str, version_id: int) -> StoredVersion | None:
        response = self._dynamodb.get_item(
            TableName=self._table, Key=self._item_key(resource_type, resource_id, keys.version_sk(version_id))
        )
        if "Item" not in response:
            return None
        return self._stored(ClinicalItem.from_raw_data(response["Item"]))

    def history(
        self,
        resource_type: str,
        resource_id: str | None,
        count: int,
        cursor: str | None = None,
        since: str | None = None,
    ) -> HistoryPage:
        if count <= 0:
            return HistoryPage([])
        tenant = self.context.tenant_id
        request: dict[str, Any] = {"TableName": self._table, "ScanIndexForward": False, "Limit": count}
        if resource_id is not None:
            request["KeyConditionExpression"] = "pk = :pk AND begins_with(sk, :v)"
            request["ExpressionAttributeValues"] = {
                ":pk": {"S": keys.resource_pk(tenant, resource_type, resource_id)},
                ":v": {"S": keys.VERSION_PREFIX},
            }
            if since:
                request["FilterExpression"] = "last_updated >= :since"
                request["ExpressionAttributeValues"][":since"] = {"S": since}
        else:
            request["IndexName"] = ClinicalItem.history_by_type.Meta.index_name
            request["KeyConditionExpression"] = "history_key = :key" + (
                " AND history_sort >= :since" if since else ""
            )
            request["ExpressionAttributeValues"] = {":key": {"S": keys.type_key(tenant, resource_type)}}
            if since:
                request["ExpressionAttributeValues"][":since"] = {"S": since}
        start = _decode_cursor(cursor).get("start")
        if isinstance(start, dict):
            request["ExclusiveStartKey"] = start
        response = self._dynamodb.query(**request)
        items = response.get("Items", [])
        if resource_id is None:  # the index holds keys only: read the versions themselves
            versions = self._versions([(item["pk"]["S"], item["sk"]["S"]) for item in items])
        else:
            versions = [self._stored(ClinicalItem.from_raw_data(item)) for item in items]
        last = response.get("LastEvaluatedKey")
        return HistoryPage(versions, _encode_cursor({"start": last}) if last else None)

    def iter_type(self, resource_type: str) -> Iterator[dict[str, Any]]:
        request = {
            "IndexName": ClinicalItem.by_type.Meta.index_name,
            "KeyConditionExpression": "type_key = :type_key",
            "ExpressionAttributeValues": {
                ":type_key": {"S": keys.type_key(self.context.tenant_id, resource_type)}
            },
        }
        ids = (item["pk"]["S"].rsplit("#", 1)[-1] for item in self._query(**request))
        for chunk in _chunks(ids, BATCH_GET_LIMIT):
            found = self.get_many([(resource_type, rid) for rid in chunk])
            yield from (found[(resource_type, rid)] for rid in chunk if (resource_type, rid) in found)

    def iter_compartment(self, patient_id: str) -> Iterator[dict[str, Any]]:
        """One partition lists the whole compartment: one Query a page, one read per 100."""
        _, blind_index = self._keys()
        pk = keys.compartment_pk(
            self.context.tenant_id, blind_index.token(COMPARTMENT, f"Patient/{patient_id}")
        )
        listed = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ProjectionExpression="sk",
        )
        references = (tuple(item["sk"]["S"].split("#", 1)) for item in listed)
        for chunk in _chunks(references, BATCH_GET_LIMIT):
            pairs = [(kind, rid) for kind, rid in chunk]
            found = self.get_many(pairs)
            yield from (found[pair] for pair in pairs if pair in found)

    # ----------------------------------------------------------------- search

    def search(self, query: SearchQuery) -> SearchPage:
        ids = _id_criterion(query)
        if ids is not None:
            found = self.get_many([(query.resource_type, rid) for rid in ids])
            matches = [r for r in found.values() if _matches(r, query.criteria)]
            return self._sorted_page(query, matches)
        plan = self._plan(query)
        if query.sort and not plan.sorted_by_index:
            return self._sorted_page(query, self._all_matches(query, plan))
        return self._with_includes(query, self._indexed_page(query, plan))

    def _indexed_page(self, query: SearchQuery, plan: _Plan) -> SearchPage:
        """One page in index order, continuing after the cursor's key."""
        after = _decode_cursor(query.cursor).get("after")
        after = after if isinstance(after, str) else None
        matches: list[dict[str, Any]] = []
        last_key: str | None = None
        examined = 0
        candidates = self._candidates(query.resource_type, plan, after)
        exhausted = True
        for batch in _chunks(candidates, max(query.count, 10)):
            found = self.get_many([(query.resource_type, rid) for _, rid in batch])
            for sort_key, rid in batch:
                examined += 1
                resource = found.get((query.resource_type, rid))
                if resource is not None and _matches(resource, query.criteria):
                    if len(matches) == query.count:
                        exhausted = False
                        break
                    matches.append(resource)
                last_key = sort_key
            if not exhausted or examined >= MAX_EXAMINED:
                exhausted = exhausted and examined < MAX_EXAMINED
                break
        if query.count == 0:
            exhausted = True
        next_cursor = None if exhausted or last_key is None else _encode_cursor({"after": last_key})
        total = len(matches) if exhausted and query.cursor is None else None
        return SearchPage(matches, total, next_cursor)

    def _all_matches(self, query: SearchQuery, plan: _Plan) -> list[dict[str, Any]]:
        matches: list[dict[str, Any]] = []
        examined = 0
        for batch in _chunks(self._candidates(query.resource_type, plan, None), BATCH_GET_LIMIT):
            examined += len(batch)
            if examined > MAX_SORTED:
                raise InvalidSearch(
                    f"more than {MAX_SORTED} {query.resource_type} resources match before sorting; "
                    "narrow the search (e.g. by patient or date) or sort by the type's date"
                )
            found = self.get_many([(query.resource_type, rid) for _, rid in batch])
            matches += [
                r
                for _, rid in batch
                if (r := found.get((query.resource_type, rid))) is not None and _matches(r, query.criteria)
            ]
        return matches

    def _sorted_page(self, query: SearchQuery, matches: list[dict[str, Any]]) -> SearchPage:
        """A page of matches sorted in memory; the cursor is an offset into the sorted whole."""
        for key in reversed(query.sort or (fhir_search.SortKey("_lastUpdated", True),)):
            matches.sort(
                key=lambda r, k=key: _sort_value(query.resource_type, r, k.parameter),  # type: ignore[misc]
                reverse=key.descending,
            )
        offset = _decode_cursor(query.cursor).get("offset")
        start = offset if isinstance(offset, int) and offset >= 0 else 0
        page = matches[start : start + query.count]
        more = start + query.count < len(matches)
        next_cursor = _encode_cursor({"offset": start + query.count}) if more else None
        return self._with_includes(query, SearchPage(page, len(matches), next_cursor))

    def _plan(self, query: SearchQuery) -> _Plan:
        """Which index partitions drive the search, and over which key range. Every criterion is
        checked again on the resources read, so the plan only has to narrow, never decide."""
        tenant, resource_type = self.context.tenant_id, query.resource_type
        _, blind_index = self._keys()
        sort = query.sort[0] if len(query.sort) == 1 else None
        descending = not (sort is not None and not sort.descending)
        timeline = fhir_search.TIMELINE.get(resource_type)
        dates = [
            c
            for c in query.criteria
            if c.type is ParameterType.DATE
            and c.date is not None
            and not c.values
            and c.parameter not in SPECIAL
        ]
        patient = _patient_reference(query.criteria)
        code = next((c for c in query.criteria if c.parameter == "code" and c.values), None)
        if (
            patient is not None
            and code is not None
            and timeline
            and all(c.parameter == timeline for c in dates)
        ):
            # One patient's results of a test, maybe in a range of its clinical date: exact.
            lower, upper = _range(dates)
            partitions = tuple(
                _Partition(
                    keys.index_pk(
                        tenant,
                        resource_type,
                        PATIENT_CODE,
                        blind_index.token(PATIENT_CODE, f"{patient}|{value}"),
                    ),
                    lower,
                    upper,
                )
                for value in sorted(set(code.values))
            )
            return _Plan(partitions, descending, sort is not None and sort.parameter == timeline)
        if dates and patient is not None:
            parameter = dates[0].parameter
            pk = keys.date_pk(tenant, resource_type, parameter, blind_index.token(PATIENT_DATE, patient))
            return _Plan(
                (_Partition(pk, *_range(dates, parameter)),),
                descending,
                sort is not None and sort.parameter == parameter,
            )
        tokens = [c for c in query.criteria if c.values and c.parameter not in SPECIAL]
        if tokens:
            driver = min(tokens, key=lambda c: (_driver_rank(c.parameter), len(c.values)))
            partitions = tuple(
                _Partition(
                    keys.index_pk(
                        tenant, resource_type, driver.parameter, blind_index.token(driver.parameter, value)
                    )
                )
                for value in sorted(set(driver.values))
            )
            return _Plan(partitions, descending, sort is not None and sort.parameter == timeline)
        if dates:
            parameter = dates[0].parameter
            return _Plan(
                (_Partition(keys.date_pk(tenant, resource_type, parameter), *_range(dates, parameter)),),
                descending,
                sort is not None and sort.parameter == parameter,
            )
        updated = [c for c in query.criteria if c.parameter == "_lastUpdated" and c.date is not None]
        partition = _Partition(keys.type_key(tenant, resource_type), *_range(updated), by_type=True)
        return _Plan((partition,), descending, sort is not None and sort.parameter == "_lastUpdated")

    def _candidates(self, resource_type: str, plan: _Plan, after: str | None) -> Iterator[tuple[str, str]]:
        """(sort key, resource id) from the plan's partitions, merged in order, each id once."""
        streams = [
            self._partition_keys(resource_type, partition, plan.descending, after)
            for partition in plan.partitions
        ]
        merged = streams[0] if len(streams) == 1 else heapq.merge(*streams, reverse=plan.descending)
        seen: set[str] = set()
        for sort_key, rid in merged:
            if rid not in seen:
                seen.add(rid)
                yield sort_key, rid

    def _partition_keys(
        self, resource_type: str, partition: _Partition, descending: bool, after: str | None
    ) -> Iterator[tuple[str, str]]:
        if partition.lower is not None and partition.upper is not None and partition.lower > partition.upper:
            return  # the date criteria exclude each other: nothing can match
        if partition.by_type:
            hash_name, range_name = "type_key", "type_sort"
        else:
            hash_name, range_name = "pk", "sk"
        values: dict[str, Any] = {":pk": {"S": partition.pk}}
        condition = f"{hash_name} = :pk"
        if partition.lower is not None and partition.upper is not None:
            condition += f" AND {range_name} BETWEEN :lower AND :upper"
            values[":lower"], values[":upper"] = {"S": partition.lower}, {"S": partition.upper}
        elif partition.lower is not None:
            condition += f" AND {range_name} >= :lower"
            values[":lower"] = {"S": partition.lower}
        elif partition.upper is not None:
            condition += f" AND {range_name} <= :upper"
            values[":upper"] = {"S": partition.upper}
        request: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not descending,
            "Limit": 200,
        }
        if partition.by_type:
            request["IndexName"] = ClinicalItem.by_type.Meta.index_name
        if after is not None:
            request["ExclusiveStartKey"] = self._start_key(resource_type, partition, after)
        for item in self._query(**request):
            sort_key = item[range_name]["S"]
            rid = (
                item["pk"]["S"].rsplit("#", 1)[-1] if partition.by_type else keys.entry_resource_id(sort_key)
            )
            yield sort_key, rid

    def _start_key(self, resource_type: str, partition: _Partition, after: str) -> dict[str, Any]:
        if not partition.by_type:
            return {"pk": {"S": partition.pk}, "sk": {"S": after}}
        rid = after.rsplit("#", 1)[-1]
        return {
            "type_key": {"S": partition.pk},
            "type_sort": {"S": after},
            "pk": {"S": keys.resource_pk(self.context.tenant_id, resource_type, rid)},
            "sk": {"S": keys.CURRENT_SK},
        }

    def _with_includes(self, query: SearchQuery, page: SearchPage) -> SearchPage:
        """The page with the resources its _include and _revinclude name."""
        if not page.resources or not (query.includes or query.revincludes):
            return page
        _, blind_index = self._keys()
        wanted: list[tuple[str, str]] = []
        for include in query.includes:
            for resource in page.resources:
                for value in fhir_search.index_values(include.source_type, resource).get(
                    include.parameter, ()
                ):
                    kind, _, rid = value.partition("/")
                    if rid and (include.target_type is None or include.target_type.lower() == kind):
                        wanted.append((_type_named(kind), rid))
        for include in query.revincludes:
            for resource in page.resources:
                reference = f"{resource['resourceType']}/{resource['id']}"
                token = blind_index.token(include.parameter, reference)
                pk = keys.index_pk(self.context.tenant_id, include.source_type, include.parameter, token)
                for item in self._query(
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": pk}},
                    ProjectionExpression="sk",
                ):
                    wanted.append((include.source_type, keys.entry_resource_id(item["sk"]["S"])))
        shown = {(r["resourceType"], r["id"]) for r in page.resources}
        found = self.get_many(
            [ref for ref in wanted if ref not in shown and ref[0] in fhir_search.SEARCH_PARAMETERS]
        )
        return SearchPage(page.resources, page.total, page.next_cursor, list(found.values()))

    # ---------------------------------------------------------------- helpers

    def _keys(self) -> tuple[ResourceSealer, BlindIndex]:
        """The tenant's sealer and blind index, from one keyring lookup per repository."""
        if self._sealer is None or self._blind_index is None:
            data_key = self._keyring.data_key(self.context.tenant_id)
            self._sealer = ResourceSealer(self.context.tenant_id, FieldCipher(data_key))
            self._blind_index = BlindIndex(data_key)
        return self._sealer, self._blind_index

    def _stored(self, item: ClinicalItem) -> StoredVersion:
        resource = None
        if not item.deleted and item.body is not None:
            sealer, _ = self._keys()
            # A raw MapAttribute keeps its entries, already deserialized, in attribute_values.
            phi = (
                {str(name): str(value) for name, value in item.phi.attribute_values.items()}
                if item.phi
                else {}
            )
            resource = sealer.open(item.body, phi)
        return StoredVersion(
            str(item.resource_type),
            str(item.resource_id),
            int(item.version_id or 0),
            str(item.last_updated),
            resource,
        )

    def _versions(self, item_keys: list[tuple[str, str]]) -> list[StoredVersion]:
        by_key: dict[tuple[str, str], StoredVersion] = {}
        for chunk in _chunks(item_keys, BATCH_GET_LIMIT):
            request = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in chunk]
            for raw in self._batch_get_chunk(request):
                by_key[(raw["pk"]["S"], raw["sk"]["S"])] = self._stored(ClinicalItem.from_raw_data(raw))
        return [by_key[key] for key in item_keys if key in by_key]

    def _item_key(self, resource_type: str, resource_id: str, sk: str) -> dict[str, Any]:
        pk = keys.resource_pk(self.context.tenant_id, resource_type, resource_id)
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _query(self, **request: Any) -> Iterator[dict[str, Any]]:
        """Every item of a query, following pagination lazily."""
        request = {"TableName": self._table, **request}
        while True:
            response = self._dynamodb.query(**request)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

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


def _matches(resource: dict[str, Any], criteria: Iterable[SearchCriterion]) -> bool:
    return all(criterion.matches(resource) for criterion in criteria)


def _id_criterion(query: SearchQuery) -> list[str] | None:
    """The ids an `_id` criterion allows (ANDed criteria intersect), or None without one."""
    allowed: set[str] | None = None
    for criterion in query.criteria:
        if criterion.parameter == "_id":
            values = set(criterion.values)
            allowed = values if allowed is None else allowed & values
    return None if allowed is None else sorted(allowed)


def _patient_reference(criteria: Iterable[SearchCriterion]) -> str | None:
    """The one Patient reference a patient/subject criterion names, if it names exactly one."""
    for criterion in criteria:
        if criterion.parameter in ("patient", "subject") and len(criterion.values) == 1:
            value = criterion.values[0]
            if value.startswith("patient/"):
                return "Patient/" + value.removeprefix("patient/")
            if value.startswith("Patient/"):
                return value
    return None


def _driver_rank(parameter: str) -> int:
    return DRIVER_ORDER.index(parameter) if parameter in DRIVER_ORDER else len(DRIVER_ORDER)


def _type_named(normalized: str) -> str:
    """The resource type whose normalized (casefolded) name is `normalized`."""
    for resource_type in fhir_search.SEARCH_PARAMETERS:
        if resource_type.lower() == normalized.lower():
            return resource_type
    return normalized


def _sort_value(resource_type: str, resource: dict[str, Any], parameter: str) -> str:
    if parameter == "_id":
        return str(resource.get("id", ""))
    if parameter == "_lastUpdated":
        return str((resource.get("meta") or {}).get("lastUpdated", ""))
    ranges = fhir_search.date_values(resource_type, resource).get(parameter) or []
    return min((r.start for r in ranges), default="")


def _range(
    criteria: Iterable[SearchCriterion], parameter: str | None = None
) -> tuple[str | None, str | None]:
    """The sort key range (on a date's start) that every date criterion (of `parameter`, if
    given) allows: the latest lower bound and the earliest upper bound."""
    lowers: list[str] = []
    uppers: list[str] = []
    for criterion in criteria:
        if criterion.date is None or (parameter is not None and criterion.parameter != parameter):
            continue
        lower, upper = criterion.date.key_bounds()
        if lower is not None:
            lowers.append(lower)
        if upper is not None:
            uppers.append(upper)
    return _lower_key(max(lowers) if lowers else None), _upper_key(min(uppers) if uppers else None)


def _lower_key(bound: str | None) -> str | None:
    """A sort key bound at or below every key starting at instant `bound` ("...:30Z" keeps
    "...:30.123Z#id", stored with milliseconds)."""
    return None if bound is None else bound.removesuffix("Z")


def _upper_key(bound: str | None) -> str | None:
    """A sort key bound above every key starting at instant `bound` (keys are "<start>#<id>")."""
    return None if bound is None else bound + "~"


def _encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> dict[str, Any]:
    """The state of a paging cursor; InvalidSearch if it is not one Cairn made."""
    if not cursor:
        return {}
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        raise InvalidSearch(
            "_cursor is not a paging cursor from this server; follow the Bundle's next link"
        ) from None
    if not isinstance(state, dict):
        raise InvalidSearch("_cursor is not a paging cursor from this server; follow the Bundle's next link")
    return state


def _chunks(values: Iterable[T], size: int) -> Iterator[list[T]]:
    """`values` in lists of at most `size`, lazily (index keys are read page by page)."""
    chunk: list[T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
