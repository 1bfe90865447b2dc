"""The clinic's claims ledger: one item per claim (cairn.claims.record) plus the look-ups the
clearinghouse's files need, under the clinic's own partition of the clinical table.

Items (pk `<tenant>#claims`):
  - `claim#<claim id>`: the ClaimRecord as JSON, with a version for optimistic concurrency;
  - `control#<CLM01>`: which claim a submission's control number belongs to (277CA, 835);
  - `interchange#<ISA13>`: which claims an outbound file carried (999);
  - `counter`: the clinic's last interchange control number.
The whole ledger of a clinic is one Query (paged): reports and the worklist read it, never a Scan.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable
from typing import Any

from cairn.claims.record import ClaimRecord, decode, encode
from cairn.errors import ResourceNotFound, VersionConflict
from cairn.store.models import ClinicalItem

MAX_INTERCHANGE = 999_999_999  # ISA13 is nine digits
ATTEMPTS = 6  # read-modify-write retries when two writers race on one claim


class ClaimChanged(VersionConflict):
    """The claim's record changed since it was read."""


def ledger_pk(tenant_id: str) -> str:
    return f"{tenant_id}#claims"


class BaseClaimsLedger(abc.ABC):
    """One clinic's claims ledger."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    @abc.abstractmethod
    def read(self, claim_id: str) -> tuple[ClaimRecord, int] | None:
        """The claim's record and its version, or None."""

    @abc.abstractmethod
    def write(
        self, record: ClaimRecord, version: int | None, *, control_number: str = "", interchange: str = ""
    ) -> int:
        """Store `record` if its stored version is still `version` (None: a new claim), with the
        look-ups of a new submission when given, in one atomic write; the new version.
        ClaimChanged if someone wrote it meanwhile."""

    @abc.abstractmethod
    def claim_for_control_number(self, control_number: str) -> str | None: ...

    @abc.abstractmethod
    def claims_for_interchange(self, interchange: str) -> tuple[str, ...]: ...

    @abc.abstractmethod
    def records(self) -> list[ClaimRecord]:
        """Every claim of the clinic, oldest first."""

    @abc.abstractmethod
    def next_interchange(self) -> int:
        """The next interchange control number of the clinic (1, 2, ...; wraps at nine digits)."""

    def get(self, claim_id: str) -> ClaimRecord:
        found = self.read(claim_id)
        if found is None:
            raise ResourceNotFound("Claim", claim_id)
        return found[0]

    def change(
        self,
        claim_id: str,
        change: Callable[[ClaimRecord], ClaimRecord],
        *,
        control_number: str = "",
        interchange: str = "",
    ) -> ClaimRecord:
        """Apply `change` to the current record and store it, again from a fresh read when another
        writer got there first; the record as stored. `change` must be a pure function of the
        record (it may run more than once)."""
        for _ in range(ATTEMPTS):
            found = self.read(claim_id)
            if found is None:
                raise ResourceNotFound("Claim", claim_id)
            record, version = found
            changed = change(record)
            if changed == record:
                return record
            try:
                self.write(changed, version, control_number=control_number, interchange=interchange)
            except ClaimChanged:
                continue
            return changed
        raise ClaimChanged(
            "Claim", claim_id, f"Claim/{claim_id} kept changing while it was being updated: try again"
        )


def _item(pk: str, sk: str, body: dict[str, Any], version: int | None = None) -> dict[str, Any]:
    item = ClinicalItem(pk=pk, sk=sk, body=json.dumps(body, sort_keys=True, separators=(",", ":")))
    if version is not None:
        item.version_id = version
    serialized: dict[str, Any] = item.serialize()
    return serialized


class DynamoClaimsLedger(BaseClaimsLedger):
    def __init__(self, tenant_id: str, dynamodb: Any, table: str) -> None:
        super().__init__(tenant_id)
        self._dynamodb = dynamodb
        self._table = table
        self._pk = ledger_pk(tenant_id)

    def _key(self, sk: str) -> dict[str, Any]:
        return {"pk": {"S": self._pk}, "sk": {"S": sk}}

    def _body(self, sk: str) -> tuple[dict[str, Any], int] | None:
        response = self._dynamodb.get_item(TableName=self._table, Key=self._key(sk), ConsistentRead=True)
        if "Item" not in response:
            return None
        item = ClinicalItem.from_raw_data(response["Item"])
        return json.loads(item.body or "{}"), int(item.version_id or 0)

    def read(self, claim_id: str) -> tuple[ClaimRecord, int] | None:
        found = self._body(f"claim#{claim_id}")
        return None if found is None else (decode(found[0]), found[1])

    def write(
        self, record: ClaimRecord, version: int | None, *, control_number: str = "", interchange: str = ""
    ) -> int:
        new_version = (version or 0) + 1
        claim = {
            "Put": {
                "TableName": self._table,
                "Item": _item(self._pk, f"claim#{record.claim_id}", encode(record), new_version),
                **(
                    {"ConditionExpression": "attribute_not_exists(pk)"}
                    if version is None
                    else {
                        "ConditionExpression": "version_id = :read",
                        "ExpressionAttributeValues": {":read": {"N": str(version)}},
                    }
                ),
            }
        }
        lookups = []
        if control_number:
            lookups.append(_item(self._pk, f"control#{control_number}", {"claim_id": record.claim_id}))
        if interchange:
            others = [c for c in self.claims_for_interchange(interchange) if c != record.claim_id]
            lookups.append(
                _item(self._pk, f"interchange#{interchange}", {"claims": [*others, record.claim_id]})
            )
        try:
            if lookups:
                self._dynamodb.transact_write_items(
                    TransactItems=[claim, *({"Put": {"TableName": self._table, "Item": i}} for i in lookups)]
                )
            else:
                self._dynamodb.put_item(**claim["Put"])
        except (
            self._dynamodb.exceptions.ConditionalCheckFailedException,
            self._dynamodb.exceptions.TransactionCanceledException,
        ):
            raise ClaimChanged("Claim", record.claim_id) from None
        return new_version

    def claim_for_control_number(self, control_number: str) -> str | None:
        found = self._body(f"control#{control_number}")
        return None if found is None else str(found[0]["claim_id"])

    def claims_for_interchange(self, interchange: str) -> tuple[str, ...]:
        found = self._body(f"interchange#{interchange}")
        return () if found is None else tuple(found[0]["claims"])

    def records(self) -> list[ClaimRecord]:
        records: list[ClaimRecord] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :claims)",
            "ExpressionAttributeValues": {":pk": {"S": self._pk}, ":claims": {"S": "claim#"}},
        }
        while True:
            page = self._dynamodb.query(**query)
            records += [decode(json.loads(ClinicalItem.from_raw_data(i).body or "{}")) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(records, key=lambda record: (record.created, record.claim_id))

    def next_interchange(self) -> int:
        response = self._dynamodb.update_item(
            TableName=self._table,
            Key=self._key("counter"),
            UpdateExpression="ADD version_id :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return (int(response["Attributes"]["version_id"]["N"]) - 1) % MAX_INTERCHANGE + 1


class InMemoryClaimsLedger(BaseClaimsLedger):
    """The ledger in a dict shared by tenants (like the one table): for unit tests."""

    def __init__(self, tenant_id: str, store: dict[tuple[str, str], tuple[str, int]]) -> None:
        super().__init__(tenant_id)
        self._store = store
        self._pk = ledger_pk(tenant_id)

    def read(self, claim_id: str) -> tuple[ClaimRecord, int] | None:
        found = self._store.get((self._pk, f"claim#{claim_id}"))
        return None if found is None else (decode(json.loads(found[0])), found[1])

    def write(
        self, record: ClaimRecord, version: int | None, *, control_number: str = "", interchange: str = ""
    ) -> int:
        key = (self._pk, f"claim#{record.claim_id}")
        stored = self._store.get(key)
        if (stored is None) != (version is None) or (stored is not None and stored[1] != version):
            raise ClaimChanged("Claim", record.claim_id)
        new_version = (version or 0) + 1
        self._store[key] = (json.dumps(encode(record)), new_version)
        if control_number:
            self._store[(self._pk, f"control#{control_number}")] = (record.claim_id, 0)
        if interchange:
            others = [c for c in self.claims_for_interchange(interchange) if c != record.claim_id]
            self._store[(self._pk, f"interchange#{interchange}")] = (
                json.dumps([*others, record.claim_id]),
                0,
            )
        return new_version

    def claim_for_control_number(self, control_number: str) -> str | None:
        found = self._store.get((self._pk, f"control#{control_number}"))
        return None if found is None else found[0]

    def claims_for_interchange(self, interchange: str) -> tuple[str, ...]:
        found = self._store.get((self._pk, f"interchange#{interchange}"))
        return () if found is None else tuple(json.loads(found[0]))

    def records(self) -> list[ClaimRecord]:
        records = [
            decode(json.loads(body))
            for (pk, sk), (body, _) in self._store.items()
            if pk == self._pk and sk.startswith("claim#")
        ]
        return sorted(records, key=lambda record: (record.created, record.claim_id))

    def next_interchange(self) -> int:
        key = (self._pk, "counter")
        count = self._store.get(key, ("", 0))[1] + 1
        self._store[key] = ("", count)
        return (count - 1) % MAX_INTERCHANGE + 1
