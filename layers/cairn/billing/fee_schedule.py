"""A clinic's fee schedule: the codes it bills (CPT, HCPCS or its own) and their prices, entered
by its admins. One item per clinic in the clinical table under the clinic's prefix; a save is
conditional on what was read, so two admins saving at once cannot lose a change."""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cairn.errors import CairnError, MalformedRequest
from cairn.store.models import ClinicalItem

MAX_FEES = 500
MAX_CENTS = 10_000_000  # $100,000: a price beyond that is a typing mistake
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,19}$")
DEFAULT_SYSTEM = "http://www.ama-assn.org/go/cpt"
FEE_SCHEDULE_SK = "current"


class FeeScheduleChanged(CairnError):
    """Someone saved the fee schedule since it was read: read it again and reapply the change."""


@dataclass(frozen=True)
class Fee:
    code: str
    display: str
    amount_cents: int
    system: str = DEFAULT_SYSTEM

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "system": self.system,
            "display": self.display,
            "amount": self.amount_cents / 100,
        }


@dataclass(frozen=True)
class FeeSchedule:
    fees: tuple[Fee, ...]
    currency: str = "usd"

    def fee(self, code: str) -> Fee | None:
        return next((fee for fee in self.fees if fee.code == code), None)

    def as_dict(self) -> dict[str, Any]:
        return {"currency": self.currency, "fees": [fee.as_dict() for fee in self.fees]}

    @classmethod
    def parse(cls, raw: object) -> FeeSchedule:
        """{"fees": [{"code", "display", "amount" (dollars), "system"?}]}; every problem is named."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("fees"), list):
            raise MalformedRequest('send {"fees": [{"code": "99213", "display": "...", "amount": 120.00}]}')
        problems: list[str] = []
        fees: list[Fee] = []
        if len(raw["fees"]) > MAX_FEES:
            problems.append(f"a fee schedule holds at most {MAX_FEES} fees")
        for index, entry in enumerate(raw["fees"][:MAX_FEES]):
            where = f"fees[{index}]"
            if not isinstance(entry, Mapping):
                problems.append(f"{where} must be an object with code, display and amount")
                continue
            code, display, amount = entry.get("code"), entry.get("display"), entry.get("amount")
            system = entry.get("system", DEFAULT_SYSTEM)
            wrong: list[str] = []
            if not isinstance(code, str) or not CODE.match(code):
                wrong.append(f"{where}.code must be 1-20 letters, digits, '.' or '-' (e.g. 99213)")
            if not isinstance(display, str) or not 1 <= len(display.strip()) <= 120:
                wrong.append(f"{where}.display must be 1-120 characters")
            cents = amount * 100 if isinstance(amount, int | float) and not isinstance(amount, bool) else -1.0
            if not 0 <= cents <= MAX_CENTS or abs(cents - round(cents)) > 1e-6:
                wrong.append(f"{where}.amount must be dollars and cents from 0 to {MAX_CENTS // 100:,}")
            if not isinstance(system, str) or not system.startswith(("http://", "https://", "urn:")):
                wrong.append(f"{where}.system must be a code system URI")
            problems += wrong
            if not wrong:
                fees.append(Fee(str(code), str(display).strip(), round(cents), str(system)))
        codes = [fee.code for fee in fees]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            problems.append(f"each code appears once; repeated: {', '.join(duplicates)}")
        if problems:
            raise MalformedRequest("; ".join(problems))
        return cls(tuple(fees))


def fee_schedule_pk(tenant_id: str) -> str:
    return f"{tenant_id}#fee-schedule"


class BaseFeeSchedules(abc.ABC):
    """Where clinics' fee schedules are kept; built for one tenant."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id

    @abc.abstractmethod
    def get(self) -> tuple[FeeSchedule, str | None]:
        """The clinic's schedule (empty if none) and the version token a save must name."""

    @abc.abstractmethod
    def save(self, schedule: FeeSchedule, read: str | None) -> None:
        """Store `schedule` if the stored one is still what was `read`; FeeScheduleChanged otherwise."""


def _decode(body: str | None) -> FeeSchedule:
    raw = json.loads(body or '{"fees": []}')
    return FeeSchedule(
        tuple(Fee(f["code"], f["display"], int(f["amount_cents"]), f["system"]) for f in raw["fees"]),
        raw.get("currency", "usd"),
    )


def _encode(schedule: FeeSchedule) -> str:
    return json.dumps(
        {
            "currency": schedule.currency,
            "fees": [
                {"code": f.code, "display": f.display, "amount_cents": f.amount_cents, "system": f.system}
                for f in schedule.fees
            ],
        },
        sort_keys=True,
    )


class DynamoFeeSchedules(BaseFeeSchedules):
    def __init__(self, tenant_id: str, dynamodb: Any, table: str) -> None:
        super().__init__(tenant_id)
        self._dynamodb = dynamodb
        self._table = table

    def get(self) -> tuple[FeeSchedule, str | None]:
        response = self._dynamodb.get_item(
            TableName=self._table,
            ConsistentRead=True,
            Key={"pk": {"S": fee_schedule_pk(self.tenant_id)}, "sk": {"S": FEE_SCHEDULE_SK}},
        )
        body = ClinicalItem.from_raw_data(response["Item"]).body if "Item" in response else None
        return _decode(body), body

    def save(self, schedule: FeeSchedule, read: str | None) -> None:
        item = ClinicalItem(pk=fee_schedule_pk(self.tenant_id), sk=FEE_SCHEDULE_SK, body=_encode(schedule))
        condition: dict[str, Any] = (
            {"ConditionExpression": "body = :read", "ExpressionAttributeValues": {":read": {"S": read}}}
            if read is not None
            else {"ConditionExpression": "attribute_not_exists(pk)"}
        )
        try:
            self._dynamodb.put_item(TableName=self._table, Item=item.serialize(), **condition)
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise FeeScheduleChanged(
                "the fee schedule was changed meanwhile: read it again and reapply"
            ) from None


class InMemoryFeeSchedules(BaseFeeSchedules):
    """Fee schedules in a dict shared by tenants (like the one table): for unit tests."""

    def __init__(self, tenant_id: str, store: dict[str, str]) -> None:
        super().__init__(tenant_id)
        self._store = store

    def get(self) -> tuple[FeeSchedule, str | None]:
        body = self._store.get(self.tenant_id)
        return _decode(body), body

    def save(self, schedule: FeeSchedule, read: str | None) -> None:
        if self._store.get(self.tenant_id) != read:
            raise FeeScheduleChanged("the fee schedule was changed meanwhile: read it again and reapply")
        self._store[self.tenant_id] = _encode(schedule)
