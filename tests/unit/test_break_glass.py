"""Break-glass with fakes: who may open a restricted patient, for how long, with what reason;
what the audit trail says, and what the admins' report shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cairn.audit.events import AuditEvent
from cairn.break_glass import GRANT_MINUTES, BreakGlass, InvalidBreakGlass
from cairn.errors import AccessDenied, PatientNotFound
from cairn.fhir.search import parse_search
from cairn.records.repository import StoredVersion
from cairn.records.service import RecordService, RestrictedPatient
from multitenant.context import Role, TenantContext
from multitenant.permissions import CONFIDENTIALITY_SYSTEM
from tests.unit.fakes import FakeAuditTrail, FakeBreakGlassLedger, FakeRecords

OPENED = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
REASON = "unconscious in ED, no other record available"


def reason(text: str = REASON) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": text}]}


class Clinic:
    """One store, one ledger and one audit log shared by every caller, as in the real wiring."""

    def __init__(self) -> None:
        self.store: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.grants: list = []
        self.events: list[tuple[TenantContext, AuditEvent]] = []
        self.now = OPENED

    def context(self, role: Role, tenant: str = "acme", user: str | None = None,
                patient_id: str | None = None) -> TenantContext:
        return TenantContext(tenant, user or f"user-{role.value}", role, patient_id)

    def patients(self, who: TenantContext) -> RecordService:
        return RecordService(who, FakeRecords(who, self.store), FakeAuditTrail(who, self.events),
                              clock=lambda: self.now, grants=FakeBreakGlassLedger(who, self.grants))

    def break_glass(self, who: TenantContext) -> BreakGlass:
        return BreakGlass(who, FakeBreakGlassLedger(who, self.grants), FakeRecords(who, self.store),
                          FakeAuditTrail(who, self.events), clock=lambda: self.now)

    def add_patient(self, patient_id: str, *, restricted: bool, tenant: str = "acme") -> None:
        meta = {"security": [{"system": CONFIDENTIALITY_SYSTEM, "code": "R"}]} if restricted else {}
        meta = {**meta, "versionId": "1", "lastUpdated": "2026-01-01T00:00:00.000Z"}
        patient = {"resourceType": "Patient", "id": patient_id, "meta": meta,
                   "name": [{"family": "Okafor", "given": ["Ada"]}]}
        version = StoredVersion("Patient", patient_id, 1, meta["lastUpdated"], patient)
        self.store[(tenant, "Patient", patient_id)] = [version]

    @property
    def last_event(self) -> AuditEvent:
        return self.events[-1][1]


@pytest.fixture
def clinic() -> Clinic:
    clinic = Clinic()
    clinic.add_patient("p-r", restricted=True)
    clinic.add_patient("p-n", restricted=False)
    return clinic


@pytest.mark.parametrize("role", [Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING])
def test_staff_cannot_read_a_restricted_patient_without_break_glass(clinic: Clinic, role: Role) -> None:
    with pytest.raises(RestrictedPatient, match="POST /access/break-glass/p-r"):
        clinic.patients(clinic.context(role)).read("Patient", "p-r")
    assert (clinic.last_event.subtype, clinic.last_event.outcome.value) == ("read", "4")


def test_admins_and_the_patient_read_a_restricted_patient_without_break_glass(clinic: Clinic) -> None:
    assert clinic.patients(clinic.context(Role.ADMIN)).read("Patient", "p-r")["id"] == "p-r"
    own = clinic.context(Role.PATIENT, patient_id="p-r")
    assert clinic.patients(own).read("Patient", "p-r")["id"] == "p-r"


def test_a_physician_breaks_the_glass_reads_and_the_grant_expires_after_the_time_box(clinic: Clinic) -> None:
    physician = clinic.context(Role.PHYSICIAN)

    grant = clinic.break_glass(physician).open_record("p-r", reason())

    assert grant.expires - grant.opened == timedelta(minutes=GRANT_MINUTES)
    assert clinic.last_event.subtype == "break-glass"
    assert clinic.last_event.detail == f"purposeOfUse:BTG;grant:{grant.grant_id}"
    assert clinic.patients(physician).read("Patient", "p-r")["id"] == "p-r"
    assert clinic.last_event.detail == f"break-glass:{grant.grant_id}"

    clinic.now = OPENED + timedelta(minutes=GRANT_MINUTES) - timedelta(seconds=1)
    clinic.patients(physician).read("Patient", "p-r")
    clinic.now = OPENED + timedelta(minutes=GRANT_MINUTES)
    with pytest.raises(RestrictedPatient):
        clinic.patients(physician).read("Patient", "p-r")


def test_a_grant_opens_the_record_for_its_holder_only(clinic: Clinic) -> None:
    clinic.break_glass(clinic.context(Role.PHYSICIAN, user="dr-a")).open_record("p-r", reason())
    with pytest.raises(RestrictedPatient):
        clinic.patients(clinic.context(Role.PHYSICIAN, user="dr-b")).read("Patient", "p-r")
    clinic.add_patient("p-r2", restricted=True)
    with pytest.raises(RestrictedPatient):  # and for that patient only
        clinic.patients(clinic.context(Role.PHYSICIAN, user="dr-a")).read("Patient", "p-r2")


def test_the_reason_never_enters_the_audit_trail(clinic: Clinic) -> None:
    clinic.break_glass(clinic.context(Role.NURSE)).open_record("p-r", reason())
    assert not [e for _, e in clinic.events if REASON in repr(e)]


@pytest.mark.parametrize("body", [
    None, {"resourceType": "Patient"}, reason(""), reason("because"), reason("x" * 501),
    {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": REASON}] * 2},
])
def test_break_glass_needs_one_stated_reason(clinic: Clinic, body: object) -> None:
    with pytest.raises(InvalidBreakGlass, match=r"Parameters|state why"):
        clinic.break_glass(clinic.context(Role.PHYSICIAN)).open_record("p-r", body)
    assert clinic.grants == []
    assert clinic.last_event.outcome.value == "4"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.FRONT_DESK, Role.BILLING, Role.PATIENT])
def test_only_physicians_and_nurses_may_break_the_glass(clinic: Clinic, role: Role) -> None:
    with pytest.raises(AccessDenied):
        clinic.break_glass(clinic.context(role, patient_id="p-r" if role is Role.PATIENT else None)) \
            .open_record("p-r", reason())
    assert clinic.grants == []


def test_break_glass_on_an_unrestricted_or_unknown_patient_is_refused(clinic: Clinic) -> None:
    physician = clinic.break_glass(clinic.context(Role.PHYSICIAN))
    with pytest.raises(InvalidBreakGlass, match="not restricted"):
        physician.open_record("p-n", reason())
    with pytest.raises(PatientNotFound):
        physician.open_record("p-unknown", reason())
    assert clinic.grants == []


def test_another_clinics_restricted_patient_is_not_found(clinic: Clinic) -> None:
    clinic.add_patient("p-g", restricted=True, tenant="globex")
    with pytest.raises(PatientNotFound):
        clinic.break_glass(clinic.context(Role.PHYSICIAN)).open_record("p-g", reason())
    assert clinic.grants == []


def test_search_leaves_restricted_patients_out_until_the_glass_is_broken(clinic: Clinic) -> None:
    physician = clinic.context(Role.PHYSICIAN)
    query = parse_search("Patient", {"name": ["okafor"]})
    page = clinic.patients(physician).search(query)
    assert ([p["id"] for p in page.resources], page.total) == (["p-n"], 1)
    admin_page = clinic.patients(clinic.context(Role.ADMIN)).search(query)
    assert sorted(p["id"] for p in admin_page.resources) == ["p-n", "p-r"]
    clinic.break_glass(physician).open_record("p-r", reason())
    opened_page = clinic.patients(physician).search(query)
    assert sorted(p["id"] for p in opened_page.resources) == ["p-n", "p-r"]


def test_the_admins_report_shows_recent_grants_with_reasons_newest_first_and_only_their_clinics(
    clinic: Clinic,
) -> None:
    clinic.break_glass(clinic.context(Role.NURSE)).open_record("p-r", reason())
    clinic.now = OPENED + timedelta(hours=2)
    clinic.break_glass(clinic.context(Role.PHYSICIAN)).open_record("p-r", reason("second opinion in theatre"))
    clinic.add_patient("p-g", restricted=True, tenant="globex")
    clinic.break_glass(clinic.context(Role.PHYSICIAN, tenant="globex")).open_record("p-g", reason())

    report = clinic.break_glass(clinic.context(Role.ADMIN)).report()

    assert [(g.role, g.reason, g.is_open(clinic.now)) for g in report] == [
        (Role.PHYSICIAN, "second opinion in theatre", True), (Role.NURSE, REASON, False)]
    assert (clinic.last_event.entity_type, clinic.last_event.outcome.value) == ("BreakGlassGrant", "0")


@pytest.mark.parametrize("role", [Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.PATIENT])
def test_only_admins_see_the_report(clinic: Clinic, role: Role) -> None:
    with pytest.raises(AccessDenied):
        clinic.break_glass(clinic.context(role)).report()
    assert clinic.last_event.outcome.value == "4"
