"""AuditEvents served read-only from the audit trail, against in-process moto DynamoDB with
events written by the real DynamoAuditTrail."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from moto import mock_aws

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.fhir_view import AuditEventReader
from cairn.audit.trail import DynamoAuditTrail
from cairn.aws import AwsClients, AwsSettings
from cairn.errors import InvalidSearch
from cairn.store.models import AuditItem
from cairn.store.schema import table_shape
from multitenant.context import Role, TenantContext

TABLE = "test-audit-view"
NOON = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
STAFF = TenantContext("acme", "dr-who", Role.PHYSICIAN)
OTHER_CLINIC = TenantContext("globex", "dr-no", Role.ADMIN)


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing", "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = AwsClients(AwsSettings()).dynamodb()
        client.create_table(**table_shape(AuditItem).create_table_request(TABLE))
        yield client


def record(dynamodb: Any, context: TenantContext, at: datetime, event: AuditEvent) -> None:
    DynamoAuditTrail(context, dynamodb, TABLE, clock=lambda: at).record(event)


def read_of(entity_type: str, entity_id: str | None, detail: str | None = None) -> AuditEvent:
    return AuditEvent(AuditAction.READ, "read", AuditOutcome.SUCCESS, entity_type, entity_id, detail)


def reader(dynamodb: Any, context: TenantContext = STAFF) -> AuditEventReader:
    return AuditEventReader(context, dynamodb, TABLE, clock=lambda: NOON)


def test_a_recorded_read_is_served_as_a_valid_fhir_r4_audit_event(dynamodb: Any) -> None:
    record(dynamodb, STAFF, NOON, read_of("Patient", "p1", "_id"))

    (found,), _ = reader(dynamodb).search(entity="Patient/p1")
    read = reader(dynamodb).read(found["id"])

    FhirAuditEvent.model_validate(found)
    assert read == found
    assert found["id"].startswith("20261122120000000-")
    assert found["recorded"] == "2026-11-22T12:00:00.000Z"
    assert found["type"]["code"] == "rest"
    assert found["subtype"] == [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}]
    assert (found["action"], found["outcome"]) == ("R", "0")
    assert found["agent"] == [{
        "who": {"identifier": {"system": "https://cairn.health/fhir/sid/user", "value": "dr-who"}},
        "role": [{"text": "physician"}], "requestor": True,
    }]
    assert found["source"] == {"observer": {"display": "Cairn"}}
    assert found["entity"] == [{
        "type": {"system": "http://hl7.org/fhir/resource-types", "code": "Patient"},
        "what": {"reference": "Patient/p1"},
        "detail": [{"type": "detail", "valueString": "_id"}],
    }]


def test_cairn_subtypes_and_entities_are_coded_in_cairn_systems(dynamodb: Any) -> None:
    record(dynamodb, STAFF, NOON, AuditEvent(AuditAction.EXECUTE, "import", AuditOutcome.MINOR_FAILURE,
                                             "Bundle", None, "denied"))
    record(dynamodb, STAFF, NOON, AuditEvent(AuditAction.UPDATE, "update", AuditOutcome.SUCCESS,
                                             "User", "u-7"))

    (bundle,), _ = reader(dynamodb).search(entity="Bundle")
    (user,), _ = reader(dynamodb).search(entity="User/u-7")

    FhirAuditEvent.model_validate(bundle)
    FhirAuditEvent.model_validate(user)
    assert bundle["subtype"] == [
        {"system": "https://cairn.health/fhir/CodeSystem/audit-subtype", "code": "import"}]
    assert bundle["outcome"] == "4"
    assert "what" not in bundle["entity"][0]
    assert bundle["entity"][0]["type"]["code"] == "Bundle"
    assert user["entity"][0]["what"] == {
        "identifier": {"system": "https://cairn.health/fhir/sid/user", "value": "u-7"}}


def test_another_clinic_can_neither_read_nor_find_the_events(dynamodb: Any) -> None:
    record(dynamodb, STAFF, NOON, read_of("Patient", "p1"))
    (event,), _ = reader(dynamodb).search()

    other = reader(dynamodb, OTHER_CLINIC)

    assert other.read(event["id"]) is None
    assert other.search(entity="Patient/p1") == ([], None)
    assert other.search() == ([], None)


def test_a_patient_user_sees_only_events_about_their_own_patient(dynamodb: Any) -> None:
    record(dynamodb, STAFF, NOON, read_of("Patient", "p1"))
    record(dynamodb, STAFF, NOON, read_of("Patient", "p2"))
    record(dynamodb, STAFF, NOON, read_of("User", "dr-who"))
    (theirs,), _ = reader(dynamodb).search(entity="Patient/p1")
    (someone_elses,), _ = reader(dynamodb).search(entity="Patient/p2")
    patient = reader(dynamodb, TenantContext("acme", "patient-1", Role.PATIENT, "p1"))

    own, _ = patient.search()

    assert [e["entity"][0]["what"]["reference"] for e in own] == ["Patient/p1"]
    assert patient.search(entity="Patient/p2") == ([], None)
    assert patient.search(entity="User") == ([], None)
    assert patient.read(theirs["id"]) == theirs
    assert patient.read(someone_elses["id"]) is None
    unlinked = reader(dynamodb, TenantContext("acme", "patient-x", Role.PATIENT))
    assert unlinked.search() == ([], None)
    assert unlinked.read(theirs["id"]) is None


def test_since_and_until_are_inclusive_and_walk_the_days_newest_first(dynamodb: Any) -> None:
    for days_ago in (0, 1, 2, 6, 7):
        record(dynamodb, STAFF, NOON - timedelta(days=days_ago), read_of("Patient", f"p{days_ago}"))

    def days(**query: Any) -> list[str]:
        return [e["recorded"][:10] for e in reader(dynamodb).search(**query)[0]]

    assert days() == ["2026-11-22", "2026-11-21", "2026-11-20", "2026-11-16"]  # the last 7 days
    assert days(since="2026-11-20", until="2026-11-21") == ["2026-11-21", "2026-11-20"]
    assert days(since="2026-11-15") == ["2026-11-22", "2026-11-21", "2026-11-20", "2026-11-16", "2026-11-15"]
    assert days(since="2026-11-22T12:00:00Z", until="2026-11-22T12:00:00Z") == ["2026-11-22"]
    assert days(since="2026-11-22T12:00:01Z") == []
    assert days(entity="Patient/p7", until="2026-11-15") == ["2026-11-15"]
    assert days(entity="Patient/p7", since="2026-11-16") == []


def test_a_day_walk_is_bounded_to_31_days_and_says_so(dynamodb: Any) -> None:
    assert reader(dynamodb).search(since="2026-10-23", until="2026-11-22") == ([], None)
    with pytest.raises(InvalidSearch, match="at most 31 days"):
        reader(dynamodb).search(since="2026-10-22", until="2026-11-22")
    with pytest.raises(InvalidSearch, match="since must not be later than until"):
        reader(dynamodb).search(since="2026-11-22", until="2026-11-21")
    with pytest.raises(InvalidSearch, match="since must be a FHIR date or instant"):
        reader(dynamodb).search(since="yesterday")
    with pytest.raises(InvalidSearch, match="entity must be"):
        reader(dynamodb).search(entity="patient/1")
    with pytest.raises(InvalidSearch, match="_count"):
        reader(dynamodb).search(count=0)


@pytest.mark.parametrize("entity", [None, "Patient/p1"])
def test_the_cursor_pages_through_every_event_once_newest_first(dynamodb: Any, entity: str | None) -> None:
    moments = [NOON - timedelta(hours=2 * n) for n in range(25)]  # two days, some hours apart
    for at in moments:
        record(dynamodb, STAFF, at, read_of("Patient", "p1"))

    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        page, cursor = reader(dynamodb).search(entity=entity, count=10, cursor=cursor)
        pages.append(page)
        if cursor is None:
            break

    recorded = [e["recorded"] for page in pages for e in page]
    assert [len(page) for page in pages if page][:3] == [10, 10, 5]
    assert recorded == [m.isoformat(timespec="milliseconds").replace("+00:00", "Z") for m in moments]


def test_a_cursor_cannot_move_a_search_into_another_clinic(dynamodb: Any) -> None:
    for n in range(3):
        record(dynamodb, OTHER_CLINIC, NOON - timedelta(minutes=n), read_of("Patient", "p1"))
    _, cursor = reader(dynamodb, OTHER_CLINIC).search(count=1)
    assert cursor is not None

    page, _ = reader(dynamodb).search(count=5, cursor=cursor)

    assert page == []


def test_malformed_cursors_and_cursors_of_other_searches_are_refused(dynamodb: Any) -> None:
    for n in range(3):
        record(dynamodb, STAFF, NOON - timedelta(minutes=n), read_of("Patient", "p1"))
    _, entity_cursor = reader(dynamodb).search(entity="Patient/p1", count=1)
    forged = base64.urlsafe_b64encode(json.dumps({"day": "2026-11-22", "sk": "x"}).encode()).decode()

    for cursor in ("%%%", base64.urlsafe_b64encode(b"[1]").decode(), forged):
        with pytest.raises(InvalidSearch, match="cursor"):
            reader(dynamodb).search(count=1, cursor=cursor)
    with pytest.raises(InvalidSearch, match="another search"):
        reader(dynamodb).search(count=1, cursor=entity_cursor)
    with pytest.raises(InvalidSearch, match="another search"):
        reader(dynamodb).search(entity="Patient/p2", count=1, cursor=entity_cursor)


@pytest.mark.parametrize("audit_event_id", [
    "", "x", "20261122120000000", "20261322120000000-0b1e5c2e-1c57-4f5e-9a37-3d7c2a1f9b10",
    "20261122120000000-0B1E5C2E-1C57-4F5E-9A37-3D7C2A1F9B10", "2026-11-22T12:00:00.000Z#id",
    "20261122120000000-0b1e5c2e-1c57-4f5e-9a37-3d7c2a1f9b10x", "1" * 65,
])
def test_malformed_ids_read_as_nothing(dynamodb: Any, audit_event_id: str) -> None:
    assert reader(dynamodb).read(audit_event_id) is None


def test_an_unknown_well_formed_id_reads_as_nothing(dynamodb: Any) -> None:
    record(dynamodb, STAFF, NOON, read_of("Patient", "p1"))

    assert reader(dynamodb).read("20261122120000000-0b1e5c2e-1c57-4f5e-9a37-3d7c2a1f9b10") is None
