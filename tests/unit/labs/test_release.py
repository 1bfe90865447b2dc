"""The clinic's release policy, and releasing a report's results to the patient: tagged once,
through the record service, and visible to the patient user only afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cairn.audit.events import AuditEvent
from cairn.errors import ResourceNotFound
from cairn.labs.release import (
    InvalidReleasePolicy,
    ReleaseMode,
    ReleasePolicy,
    is_released,
    release_results,
    with_release_tag,
)
from cairn.records.service import RecordService
from multitenant.context import Role, TenantContext
from multitenant.onboarding import DEFAULT_SETTINGS
from multitenant.permissions import RELEASE_SYSTEM, RELEASED
from tests.unit.fakes import FakeAuditTrail, FakeRecords

NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
LOINC = "http://loinc.org"
LABORATORY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                          "code": "laboratory"}]}
POTASSIUM = {"coding": [{"system": LOINC, "code": "2823-3", "display": "Potassium"}], "text": "Potassium"}


class Clinic:
    """One store and audit log shared by every caller and tenant, like the real table and trail."""

    def __init__(self) -> None:
        self.store: dict[Any, Any] = {}
        self.events: list[tuple[TenantContext, AuditEvent]] = []

    def service(
        self, role: Role = Role.PHYSICIAN, *, tenant: str = "acme", patient_id: str | None = None
    ) -> RecordService:
        context = TenantContext(tenant, f"user-{role.value}", role, patient_id)
        return self._service(context)

    def system(self, tenant: str = "acme") -> RecordService:
        """Cairn's lab workflow, which stores results for the clinic."""
        return self._service(TenantContext.system(tenant, "lab-results"))

    def _service(self, context: TenantContext) -> RecordService:
        return RecordService(
            context, FakeRecords(context, self.store), FakeAuditTrail(context, self.events), clock=lambda: NOW
        )

    def patient(self, family: str = "Nguyen", birth_date: str = "1970-01-31", mrn: str = "MRN-1") -> str:
        patient = {
            "resourceType": "Patient",
            "identifier": [{"system": "https://acme.example/mrn", "value": mrn}],
            "name": [{"family": family, "given": ["Lan"]}],
            "birthDate": birth_date,
        }
        return str(self.system().create("Patient", patient).resource["id"])

    def practitioner(self, family: str = "Okafor") -> str:
        practitioner = {"resourceType": "Practitioner", "name": [{"family": family}]}
        return f"Practitioner/{self.system().create('Practitioner', practitioner).resource['id']}"

    def report(
        self,
        patient_id: str,
        values: tuple[float, ...] = (4.1,),
        *,
        effective: str = "2026-03-04T08:00:00Z",
        code: dict[str, Any] | None = None,
        status: str = "final",
        released: bool = False,
    ) -> str:
        """A stored lab report with one Observation per value, as the workflow stores them."""
        system = self.system()
        results = []
        for value in values:
            observation = lab_observation(patient_id, value, effective=effective, code=code, status=status)
            if released:
                observation = with_release_tag(observation)
            stored = system.create("Observation", observation).resource
            results.append({"reference": f"Observation/{stored['id']}"})
        report: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "status": "final",
            "category": [LABORATORY],
            "code": {"text": "Basic metabolic panel"},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": effective,
            "issued": "2026-03-04T12:00:00Z",
            "result": results,
        }
        if released:
            report = with_release_tag(report)
        return str(system.create("DiagnosticReport", report).resource["id"])


def lab_observation(
    patient_id: str,
    value: float,
    *,
    effective: str = "2026-03-04T08:00:00Z",
    code: dict[str, Any] | None = None,
    status: str = "final",
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": status,
        "category": [LABORATORY],
        "code": code or POTASSIUM,
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": effective,
        "valueQuantity": {"value": value, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                          "code": "mmol/L"},
        "referenceRange": [
            {"low": {"value": 3.5, "unit": "mmol/L"}, "high": {"value": 5.1, "unit": "mmol/L"}}
        ],
    }


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


# ---- the policy ---------------------------------------------------------------------------------


def test_the_default_setting_of_a_new_clinic_is_a_valid_policy_releasing_after_review():
    policy = ReleasePolicy.parse(DEFAULT_SETTINGS["lab_results_release"])
    assert policy == ReleasePolicy(ReleaseMode.AFTER_REVIEW)
    assert policy.releases_on_review
    assert policy.release_at(NOW) is None


def test_immediate_releases_when_stored_and_not_on_review():
    policy = ReleasePolicy.parse("immediate")
    assert policy.release_at(NOW) == NOW
    assert not policy.releases_on_review


@pytest.mark.parametrize(("setting", "hours"), [("delay:1", 1), ("delay:72", 72), (" delay:720 ", 720)])
def test_a_delay_releases_that_many_hours_after_the_results_were_stored(setting, hours):
    policy = ReleasePolicy.parse(setting)
    assert policy == ReleasePolicy(ReleaseMode.DELAY, hours)
    assert policy.release_at(NOW) == NOW + timedelta(hours=hours)
    assert not policy.releases_on_review


@pytest.mark.parametrize(
    "setting", ["", "after-review", "IMMEDIATE", "delay", "delay:", "delay:0", "delay:721", "delay:1.5",
                "delay:-3", "delay:72h", None, 72],
)
def test_an_unknown_setting_is_refused_naming_the_accepted_forms(setting):
    with pytest.raises(InvalidReleasePolicy) as refused:
        ReleasePolicy.parse(setting)
    assert isinstance(refused.value, ValueError)
    for form in ('"immediate"', '"after_review"', '"delay:<hours>"', "720"):
        assert form in str(refused.value)


# ---- releasing ----------------------------------------------------------------------------------


def test_release_tags_the_report_and_each_of_its_observations_once(clinic):
    patient_id = clinic.patient()
    report_id = clinic.report(patient_id, (4.1, 3.9))
    physician = clinic.service()
    observations = [r["reference"] for r in physician.read("DiagnosticReport", report_id)["result"]]

    released = release_results(physician, report_id)

    assert released == [*observations, f"DiagnosticReport/{report_id}"]
    for reference in released:
        resource_type, resource_id = reference.split("/")
        stored = physician.read(resource_type, resource_id)
        assert is_released(stored)
        assert stored["meta"]["versionId"] == "2"
        assert stored["meta"]["tag"] == [
            {"system": RELEASE_SYSTEM, "code": RELEASED, "display": "Released to the patient"}
        ]


def test_releasing_again_changes_nothing(clinic):
    report_id = clinic.report(clinic.patient(), (4.1, 3.9))
    physician = clinic.service()
    release_results(physician, report_id)

    assert release_results(physician, report_id) == []
    assert physician.read("DiagnosticReport", report_id)["meta"]["versionId"] == "2"


def test_a_result_released_already_keeps_its_version_while_the_rest_are_released(clinic):
    patient_id = clinic.patient()
    report_id = clinic.report(patient_id, (4.1, 3.9))
    physician = clinic.service()
    first, second = [r["reference"] for r in physician.read("DiagnosticReport", report_id)["result"]]
    first_id = first.split("/")[1]
    current = physician.read("Observation", first_id)
    physician.update("Observation", first_id, with_release_tag(current))

    assert release_results(physician, report_id) == [second, f"DiagnosticReport/{report_id}"]
    assert physician.read("Observation", first_id)["meta"]["versionId"] == "2"


def test_release_keeps_the_tags_a_result_already_had(clinic):
    report_id = clinic.report(clinic.patient())
    physician = clinic.service()
    report = physician.read("DiagnosticReport", report_id)
    other = {"system": "https://acme.example/tags", "code": "research"}
    physician.update("DiagnosticReport", report_id, {**report, "meta": {"tag": [other]}})

    release_results(physician, report_id)

    assert physician.read("DiagnosticReport", report_id)["meta"]["tag"][0] == other
    assert is_released(physician.read("DiagnosticReport", report_id))


def test_the_patient_sees_their_results_only_once_released(clinic):
    patient_id = clinic.patient()
    report_id = clinic.report(patient_id, (4.1,))
    patient = clinic.service(Role.PATIENT, patient_id=patient_id)
    result = clinic.service().read("DiagnosticReport", report_id)["result"][0]
    observation_id = result["reference"].split("/")[1]

    with pytest.raises(ResourceNotFound):
        patient.read("DiagnosticReport", report_id)
    with pytest.raises(ResourceNotFound):
        patient.read("Observation", observation_id)

    release_results(clinic.service(), report_id)

    assert patient.read("DiagnosticReport", report_id)["id"] == report_id
    assert patient.read("Observation", observation_id)["id"] == observation_id


def test_an_unknown_report_is_not_found_and_releases_nothing(clinic):
    with pytest.raises(ResourceNotFound):
        release_results(clinic.service(), "no-such-report")


def test_another_clinic_cannot_release_a_report(clinic):
    report_id = clinic.report(clinic.patient())
    with pytest.raises(ResourceNotFound):
        release_results(clinic.service(tenant="globex"), report_id)
    assert not is_released(clinic.service().read("DiagnosticReport", report_id))
