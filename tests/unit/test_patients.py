"""The Patient service with fakes: ids and meta, authorization, audit of every access."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.errors import (
    AccessDenied,
    DecryptionError,
    InvalidResource,
    PatientNotFound,
    ResourceConflict,
    ResourceExists,
)
from cairn.fhir.search import parse_search
from cairn.records.service import RecordService
from devkit.demo_data import demo_patient
from multitenant.context import Role, TenantContext
from tests.unit.fakes import FakeAuditTrail, FakeRecords, current_resources

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


class Clinic:
    """One shared store and audit log, and a service per caller, like the real wiring."""

    def __init__(self) -> None:
        self.store: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.events: list[tuple[TenantContext, AuditEvent]] = []

    def service(
        self,
        role: Role = Role.PHYSICIAN,
        tenant: str = "acme",
        patient_id: str | None = None,
        now: datetime = NOW,
    ) -> RecordService:
        context = TenantContext(tenant, f"user-{role.value}", role, patient_id)
        return RecordService(
            context, FakeRecords(context, self.store), FakeAuditTrail(context, self.events), clock=lambda: now
        )

    @property
    def last_event(self) -> AuditEvent:
        return self.events[-1][1]


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


def a_patient(seed: int = 1) -> dict[str, Any]:
    return demo_patient(random.Random(seed))


def test_register_assigns_id_and_meta_and_stores_the_patient(clinic):
    submitted = {**a_patient(), "id": "client-chosen", "meta": {"versionId": "9", "tag": [{"code": "t"}]}}
    created = clinic.service().create("Patient", submitted).resource
    assert created["id"] != "client-chosen"
    assert created["meta"] == {
        "tag": [{"code": "t"}],
        "versionId": "1",
        "lastUpdated": "2026-11-22T10:00:00.000Z",
    }
    assert clinic.store[("acme", "Patient", created["id"])][-1].resource == created
    assert clinic.last_event == AuditEvent(
        AuditAction.CREATE, "create", AuditOutcome.SUCCESS, "Patient", created["id"]
    )


def test_register_on_a_taken_id_stores_nothing_and_fails_as_serious(clinic):
    context = TenantContext("acme", "user-physician", Role.PHYSICIAN)
    service = RecordService(context, FakeRecords(context, clinic.store),
                             FakeAuditTrail(context, clinic.events), new_id=lambda: "same-id")
    first = service.create("Patient", a_patient(1)).resource
    with pytest.raises(ResourceExists):
        service.create("Patient", a_patient(2))
    assert current_resources(clinic.store) == {("acme", "Patient", "same-id"): first}
    assert (clinic.last_event.outcome, clinic.last_event.detail) == (AuditOutcome.SERIOUS_FAILURE, "error")


def test_import_stores_the_patient_under_the_given_id(clinic):
    registration = clinic.service().import_resource(a_patient(), "derived-id")
    assert registration.created
    assert clinic.store[("acme", "Patient", "derived-id")][-1].resource == registration.resource
    assert clinic.last_event == AuditEvent(
        AuditAction.CREATE, "create", AuditOutcome.SUCCESS, "Patient", "derived-id"
    )


def test_import_replayed_later_answers_the_stored_patient_and_audits_it_as_existing(clinic):
    first = clinic.service().import_resource(a_patient(), "derived-id")
    replay = clinic.service(now=NOW.replace(hour=11)).import_resource(a_patient(), "derived-id")
    assert (replay.created, replay.resource) == (False, first.resource)
    assert len(clinic.store) == 1
    assert clinic.last_event == AuditEvent(
        AuditAction.CREATE, "create", AuditOutcome.SUCCESS, "Patient", "derived-id", "existing"
    )


def test_import_on_an_id_taken_by_a_different_patient_is_a_conflict_not_a_replay(clinic):
    first = clinic.service().import_resource(a_patient(1), "derived-id")
    with pytest.raises(ResourceConflict):
        clinic.service().import_resource(a_patient(2), "derived-id")
    assert current_resources(clinic.store) == {("acme", "Patient", "derived-id"): first.resource}
    assert (clinic.last_event.outcome, clinic.last_event.entity_id, clinic.last_event.detail) == (
        AuditOutcome.MINOR_FAILURE, None, "conflict"
    )


def test_import_on_an_id_taken_in_another_tenant_creates_its_own_patient(clinic):
    clinic.service(tenant="globex").import_resource(a_patient(1), "derived-id")
    assert clinic.service().import_resource(a_patient(2), "derived-id").created
    assert {key[0] for key in clinic.store} == {"acme", "globex"}


def test_register_invalid_patient_stores_nothing_and_audits_the_failure(clinic):
    with pytest.raises(InvalidResource):
        clinic.service().create("Patient", {"resourceType": "Patient", "gender": "F"})
    assert current_resources(clinic.store) == {}
    assert clinic.last_event.outcome is AuditOutcome.MINOR_FAILURE
    assert clinic.last_event.entity_id is None
    assert clinic.last_event.detail == "invalid"


@pytest.mark.parametrize("role", [Role.BILLING, Role.PATIENT])
def test_roles_that_may_not_register_are_denied_and_audited(clinic, role):
    with pytest.raises(AccessDenied):
        clinic.service(role).create("Patient", a_patient())
    assert current_resources(clinic.store) == {}
    assert (clinic.last_event.outcome, clinic.last_event.detail) == (
        AuditOutcome.MINOR_FAILURE,
        "access-denied",
    )


@pytest.mark.parametrize("role", [Role.ADMIN, Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING])
def test_staff_and_billing_read_a_patient(clinic, role):
    created = clinic.service(Role.FRONT_DESK).create("Patient", a_patient()).resource
    assert clinic.service(role).read("Patient", created["id"]) == created
    assert clinic.last_event == AuditEvent(
        AuditAction.READ, "read", AuditOutcome.SUCCESS, "Patient", created["id"]
    )


def test_patient_reads_their_own_record(clinic):
    created = clinic.service().create("Patient", a_patient()).resource
    assert clinic.service(Role.PATIENT, patient_id=created["id"]).read("Patient", created["id"]) == created


def test_patient_reading_someone_else_gets_not_found_and_a_denial_is_audited(clinic):
    own = clinic.service().create("Patient", a_patient(1)).resource
    other = clinic.service().create("Patient", a_patient(2)).resource
    with pytest.raises(PatientNotFound):
        clinic.service(Role.PATIENT, patient_id=own["id"]).read("Patient", other["id"])
    assert clinic.last_event == AuditEvent(
        AuditAction.READ, "read", AuditOutcome.MINOR_FAILURE, "Patient", other["id"], "access-denied"
    )


def test_patient_without_a_linked_record_reads_nothing(clinic):
    created = clinic.service().create("Patient", a_patient()).resource
    with pytest.raises(PatientNotFound):
        clinic.service(Role.PATIENT).read("Patient", created["id"])


def test_read_of_another_tenants_patient_is_not_found_and_audited_in_the_readers_tenant(clinic):
    theirs = clinic.service(tenant="globex").create("Patient", a_patient()).resource
    with pytest.raises(PatientNotFound):
        clinic.service(tenant="acme").read("Patient", theirs["id"])
    context, event = clinic.events[-1]
    assert context.tenant_id == "acme"
    assert (event.outcome, event.entity_id, event.detail) == (
        AuditOutcome.MINOR_FAILURE,
        theirs["id"],
        "not-found",
    )


def test_search_finds_by_name_and_audits_parameter_names_never_values(clinic):
    created = clinic.service().create("Patient", a_patient()).resource
    family = created["name"][0]["family"]
    page = clinic.service(Role.BILLING).search(
        parse_search("Patient", {"name": [family.upper()], "birthdate": [created["birthDate"]]})
    )
    assert [p["id"] for p in page.resources] == [created["id"]]
    assert clinic.last_event == AuditEvent(
        AuditAction.EXECUTE, "search-type", AuditOutcome.SUCCESS, "Patient", None, "birthdate,name"
    )
    assert family not in str(clinic.events)


def test_patient_role_may_not_search(clinic):
    with pytest.raises(AccessDenied):
        clinic.service(Role.PATIENT, patient_id="p1").search(
            parse_search("Patient", {"name": ["x"]})
        )
    assert clinic.last_event.detail == "name:access-denied"


@pytest.mark.parametrize("failure", [RuntimeError("DynamoDB is down"), DecryptionError("tampered")])
def test_failure_to_serve_is_audited_as_serious_and_reraised(clinic, failure):
    service = clinic.service()

    def broken(*_: object) -> None:
        raise failure

    service.records.current = broken  # type: ignore[method-assign]
    with pytest.raises(type(failure)):
        service.read("Patient", "p1")
    assert (clinic.last_event.outcome, clinic.last_event.detail) == (AuditOutcome.SERIOUS_FAILURE, "error")


def test_service_refuses_a_repository_of_another_context(clinic):
    acme = TenantContext("acme", "u1", Role.ADMIN)
    globex = TenantContext("globex", "u1", Role.ADMIN)
    with pytest.raises(ValueError, match="caller's context"):
        RecordService(acme, FakeRecords(globex, {}), FakeAuditTrail(acme, []))


def test_repository_cannot_be_built_without_a_tenant_context():
    with pytest.raises(TypeError):
        FakeRecords({"tenant_id": "acme"}, {})  # type: ignore[arg-type]
