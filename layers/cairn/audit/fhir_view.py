"""The audit trail served as FHIR R4 AuditEvents: read and search, never write.

An AuditEvent's id is "<recorded as 17 digits>-<event uuid>" (e.g.
"20261122101530123-0b1e..."): the recorded instant gives both the UTC day and the sort key,
so `read` is one exact-key Query of the by_day index, with no Scan and no paging. Every key
is built from the caller's TenantContext; nothing a client sends (an id, an entity, a cursor)
can name another tenant's partition. A patient user sees only events about their own Patient.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import InvalidSearch
from cairn.fhir.resource_types import SUPPORTED_TYPES
from cairn.store.models import AuditItem
from multitenant.context import Role, TenantContext

BY_DAY_INDEX = "by_day"
MAX_COUNT = 100
MAX_DAYS = 31  # days of the by_day index one search may walk: bounds the Queries per request
DEFAULT_DAYS = 7  # a search without `since` or entity covers today and the 6 days before

AUDIT_EVENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION_SYSTEM = "http://hl7.org/fhir/restful-interaction"
CAIRN_SUBTYPE_SYSTEM = "https://cairn.health/fhir/CodeSystem/audit-subtype"
RESOURCE_TYPE_SYSTEM = "http://hl7.org/fhir/resource-types"
CAIRN_ENTITY_TYPE_SYSTEM = "https://cairn.health/fhir/CodeSystem/audit-entity-type"
CAIRN_SID = "https://cairn.health/fhir/sid/"
USER_SYSTEM = f"{CAIRN_SID}user"
RESTFUL_INTERACTIONS = frozenset({
    "create", "read", "vread", "update", "patch", "delete", "history-instance", "history-type",
    "search-type", "batch", "transaction", "operation",
})

_ID = re.compile(
    r"(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})(?P<ms>\d{3})"
    r"-(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A FHIR date (YYYY, YYYY-MM, YYYY-MM-DD) or dateTime with seconds and a zone.
_FHIR_DATE = re.compile(
    r"(?P<year>\d{4})(-(?P<month>\d{2})(-(?P<day>\d{2})"
    r"(?P<time>T\d{2}:\d{2}:\d{2}(?P<fraction>\.\d{1,9})?(Z|[+-]\d{2}:\d{2}))?)?)?"
)
_AFTER_EVERY_EVENT_ID = "#~"  # "~" sorts after the hex digits and dashes of an event uuid


def audit_event_id(item: AuditItem) -> str:
    """The FHIR id of a stored event: its recorded instant's digits, then its uuid."""
    return f"{re.sub(r'[^0-9]', '', item.recorded)}-{item.event_id}"


def audit_event(item: AuditItem) -> dict[str, Any]:
    """A stored event as a FHIR R4 AuditEvent (ids and codes only: the trail holds no PHI)."""
    restful = item.subtype in RESTFUL_INTERACTIONS
    subtype_system = RESTFUL_INTERACTION_SYSTEM if restful else CAIRN_SUBTYPE_SYSTEM
    entity: dict[str, Any] = {"type": _entity_type(item.entity_type)}
    if item.entity_id:
        entity["what"] = _entity_what(item.entity_type, item.entity_id)
    if item.detail:
        entity["detail"] = [{"type": "detail", "valueString": item.detail}]
    return {
        "resourceType": "AuditEvent",
        "id": audit_event_id(item),
        "meta": {"versionId": "1", "lastUpdated": item.recorded},
        "type": {"system": AUDIT_EVENT_TYPE_SYSTEM, "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": subtype_system, "code": item.subtype}],
        "action": item.action,
        "recorded": item.recorded,
        "outcome": item.outcome,
        "agent": [{
            "who": {"identifier": {"system": USER_SYSTEM, "value": item.agent_user}},
            "role": [{"text": item.agent_role}],
            "requestor": True,
        }],
        "source": {"observer": {"display": "Cairn"}},
        "entity": [entity],
    }


def _entity_type(entity_type: str) -> dict[str, str]:
    system = RESOURCE_TYPE_SYSTEM if entity_type in SUPPORTED_TYPES else CAIRN_ENTITY_TYPE_SYSTEM
    return {"system": system, "code": entity_type}


def _entity_what(entity_type: str, entity_id: str) -> dict[str, Any]:
    """A FHIR resource is referenced; Cairn's own entities (User, Tenant, ...) are identified."""
    if entity_type in SUPPORTED_TYPES:
        return {"reference": f"{entity_type}/{entity_id}"}
    system = CAIRN_SID + re.sub(r"(?<!^)(?=[A-Z])", "-", entity_type).lower()
    return {"identifier": {"system": system, "value": entity_id}}


class AuditEventReader:
    """The caller's tenant's audit trail as FHIR AuditEvents, newest first."""

    def __init__(self, context: TenantContext, dynamodb: Any, table: str, clock: Clock = utc_now) -> None:
        if not isinstance(context, TenantContext):
            raise TypeError("an audit event reader needs a TenantContext")
        self.context = context
        self._dynamodb = dynamodb
        self._table = table
        self._clock = clock

    def read(self, audit_event_id: str) -> dict[str, Any] | None:
        """The event with this id in the caller's tenant; None if there is none, the id is
        malformed, or the caller (a patient user) may not see it."""
        found = _ID.fullmatch(audit_event_id)
        if found is None:
            return None
        try:
            recorded = datetime(int(found["y"]), int(found["mo"]), int(found["d"]), int(found["h"]),
                                int(found["mi"]), int(found["s"]), int(found["ms"]) * 1000, tzinfo=UTC)
        except ValueError:
            return None
        instant = fhir_instant(recorded)
        response = self._dynamodb.query(
            TableName=self._table,
            IndexName=BY_DAY_INDEX,
            KeyConditionExpression="day_key = :day AND sk = :sk",
            ExpressionAttributeValues={
                ":day": {"S": f"{self.context.tenant_id}#{instant[:10]}"},
                ":sk": {"S": f"{instant}#{found['uuid']}"},
            },
        )
        items = [AuditItem.from_raw_data(raw) for raw in response.get("Items", [])]
        visible = [item for item in items if self._may_see(item)]
        return audit_event(visible[0]) if visible else None

    def search(
        self,
        *,
        entity: str | None = None,
        since: str | None = None,
        until: str | None = None,
        count: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Events about `entity` ("Patient/123", or a type alone such as "User"), or, without
        one, every event of the days from `until` back to `since` (at most 31 days; the last 7
        without `since`). `since`/`until` are FHIR dates or instants, both inclusive.

        Returns (events, next_cursor); pass the cursor back with the same parameters for the
        next page. A patient user's search is always about their own Patient."""
        if not 1 <= count <= MAX_COUNT:
            raise InvalidSearch(f"_count must be between 1 and {MAX_COUNT}")
        partition = _entity_partition(entity) if entity is not None else None
        if self.context.role is Role.PATIENT:
            own = f"Patient/{self.context.patient_id}" if self.context.patient_id else None
            if own is None or (partition is not None and partition != own):
                return [], None
            partition = own
        lower = fhir_instant(_period(since, "since")[0]) if since else None
        upper = fhir_instant(_period(until, "until")[1]) + _AFTER_EVERY_EVENT_ID if until else None
        if lower and upper and lower > upper:
            raise InvalidSearch("since must not be later than until")
        page = _Cursor.decode(cursor)
        if partition is not None:
            return self._search_entity(partition, lower, upper, count, page)
        return self._search_days(lower, upper, count, page)

    def _search_entity(
        self, partition: str, lower: str | None, upper: str | None, count: int, page: _Cursor | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        pk = f"{self.context.tenant_id}#{partition}"
        start = None
        if page is not None:
            if page.day is not None or page.sk is None or page.entity != partition:
                raise InvalidSearch("the cursor belongs to another search; repeat the search without it")
            _require_within(page.sk, lower, upper)
            start = {"pk": {"S": pk}, "sk": {"S": page.sk}}
        condition, values = _sort_key_condition(lower, upper)
        values[":pk"] = {"S": pk}
        events: list[dict[str, Any]] = []
        for items, last in self._pages("pk = :pk" + condition, values, None, count, start):
            events += [audit_event(item) for item in items if self._may_see(item)]
            if len(events) >= count:
                return events, _Cursor(None, partition, last["sk"]["S"]).encode() if last else None
        return events, None

    def _search_days(
        self, lower: str | None, upper: str | None, count: int, page: _Cursor | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        today = self._clock().astimezone(UTC).date()
        last_day = datetime.fromisoformat(upper[:10]).date() if upper else today
        first_day = (datetime.fromisoformat(lower[:10]).date() if lower
                     else last_day - timedelta(days=DEFAULT_DAYS - 1))
        if (last_day - first_day).days + 1 > MAX_DAYS:
            raise InvalidSearch(
                f"an audit search without an entity covers at most {MAX_DAYS} days; "
                "narrow since and until, or search by entity"
            )
        days = [last_day - timedelta(days=n) for n in range((last_day - first_day).days + 1)]
        first, start = 0, None
        if page is not None:
            if page.day is None or page.day not in days:
                raise InvalidSearch("the cursor belongs to another search; repeat the search without it")
            first = days.index(page.day)
            if page.sk is not None:
                if page.entity is None:
                    raise InvalidSearch("the cursor is malformed; repeat the search without it")
                _require_within(page.sk, lower, upper)
                start = {"day_key": {"S": self._day_key(page.day)}, "sk": {"S": page.sk},
                         "pk": {"S": f"{self.context.tenant_id}#{page.entity}"}}
        condition, values = _sort_key_condition(lower, upper)
        events: list[dict[str, Any]] = []
        for position in range(first, len(days)):
            day = days[position]
            day_values = {**values, ":day": {"S": self._day_key(day)}}
            pages = self._pages("day_key = :day" + condition, day_values, BY_DAY_INDEX,
                                count - len(events), start if position == first else None)
            for items, last in pages:
                events += [audit_event(item) for item in items]
                if len(events) < count:
                    continue
                if last:
                    entity = last["pk"]["S"].removeprefix(self.context.key_prefix)
                    return events, _Cursor(day, entity, last["sk"]["S"]).encode()
                following = days[position + 1] if position + 1 < len(days) else None
                return events, _Cursor(following, None, None).encode() if following else None
        return events, None

    def _pages(
        self, condition: str, values: dict[str, Any], index: str | None, count: int,
        start: dict[str, Any] | None,
    ) -> Iterator[tuple[list[AuditItem], dict[str, Any] | None]]:
        """Query pages, newest first, each asking for no more than the events still wanted."""
        wanted = count
        while True:
            request: dict[str, Any] = {
                "TableName": self._table, "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values, "ScanIndexForward": False, "Limit": wanted,
            }
            if index:
                request["IndexName"] = index
            if start:
                request["ExclusiveStartKey"] = start
            response = self._dynamodb.query(**request)
            items = [AuditItem.from_raw_data(raw) for raw in response.get("Items", [])]
            start = response.get("LastEvaluatedKey")
            yield items, start
            wanted -= len(items)
            if not start or wanted <= 0:
                return

    def _day_key(self, day: date) -> str:
        return f"{self.context.tenant_id}#{day.isoformat()}"

    def _may_see(self, item: AuditItem) -> bool:
        """Staff see their tenant's trail (the API's permissions decide who is staff enough);
        a patient user sees only events about their own Patient."""
        if item.tenant_id != self.context.tenant_id:
            return False
        if self.context.role is not Role.PATIENT:
            return True
        return bool(self.context.patient_id) and item.entity_type == "Patient" and (
            item.entity_id == self.context.patient_id)


class _Cursor:
    """Where the next page starts: the day being walked (day searches), and the last event's
    entity and sort key. The tenant is never in it: keys are rebuilt from the context."""

    def __init__(self, day: date | None, entity: str | None, sk: str | None) -> None:
        self.day, self.entity, self.sk = day, entity, sk

    def encode(self) -> str:
        fields = {"day": self.day.isoformat() if self.day else None, "entity": self.entity, "sk": self.sk}
        text = json.dumps({k: v for k, v in fields.items() if v is not None}, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str | None) -> _Cursor | None:
        if cursor is None:
            return None
        malformed = InvalidSearch("the cursor is malformed; repeat the search without it")
        try:
            fields = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (binascii.Error, ValueError) as exc:
            raise malformed from exc
        if not isinstance(fields, dict) or set(fields) - {"day", "entity", "sk"} or not all(
            isinstance(value, str) for value in fields.values()
        ):
            raise malformed
        day, entity, sk = fields.get("day"), fields.get("entity"), fields.get("sk")
        try:
            parsed_day = date.fromisoformat(day) if day is not None and _DAY.fullmatch(day) else None
            if entity is not None:
                _entity_partition(entity)
        except (ValueError, InvalidSearch) as exc:
            raise malformed from exc
        if (day is not None and parsed_day is None) or (sk is not None and len(sk) > 128):
            raise malformed
        return cls(parsed_day, entity, sk)


def _entity_partition(entity: str) -> str:
    """"Type/id" or "Type", checked against FHIR's syntax (the partition after the tenant)."""
    kind, _, entity_id = entity.partition("/")
    if not _RESOURCE_TYPE.fullmatch(kind) or ("/" in entity and not _FHIR_ID.fullmatch(entity_id)):
        raise InvalidSearch("entity must be a resource type, or a type and id such as Patient/123")
    return entity


def _period(value: str, name: str) -> tuple[datetime, datetime]:
    """The first and last millisecond a FHIR date or dateTime covers (its precision's range)."""
    found = _FHIR_DATE.fullmatch(value)
    problem = InvalidSearch(
        f"{name} must be a FHIR date or instant, such as 2026-11-22 or 2026-11-22T10:15:30Z")
    if found is None:
        raise problem
    try:
        if found["time"]:
            start = datetime.fromisoformat(value).astimezone(UTC)
            if found["fraction"]:
                start = start.replace(microsecond=start.microsecond // 1000 * 1000)
                step = timedelta(milliseconds=1)
            else:
                step = timedelta(seconds=1)
        else:
            year, month, day = int(found["year"]), int(found["month"] or 1), int(found["day"] or 1)
            start = datetime(year, month, day, tzinfo=UTC)
            if found["day"]:
                step = timedelta(days=1)
            elif found["month"]:
                step = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - start
            else:
                step = start.replace(year=year + 1) - start
    except ValueError as exc:
        raise problem from exc
    return start, start + step - timedelta(milliseconds=1)


def _sort_key_condition(lower: str | None, upper: str | None) -> tuple[str, dict[str, Any]]:
    if lower and upper:
        return " AND sk BETWEEN :lower AND :upper", {":lower": {"S": lower}, ":upper": {"S": upper}}
    if lower:
        return " AND sk >= :lower", {":lower": {"S": lower}}
    if upper:
        return " AND sk <= :upper", {":upper": {"S": upper}}
    return "", {}


def _require_within(sk: str, lower: str | None, upper: str | None) -> None:
    if (lower and sk < lower) or (upper and sk > upper):
        raise InvalidSearch("the cursor belongs to another search; repeat the search without it")
