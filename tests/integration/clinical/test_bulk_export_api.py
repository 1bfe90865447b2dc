"""Bulk Data kickoff, status and cancel through the FHIR API's Lambda handler: who may start which
export, and that a job is its clinic's alone. The workflow itself is not run here (a Pass state
machine stands in for it; tests/integration/clinical/test_bulk_export_workflow.py runs it)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from cairn import config
from functions.fhir_api import app as api
from multitenant.context import Role, TenantContext
from tests.integration.clinical.support import Cloud, caller
from tests.integration.clinical.test_chart_api import Answer, new_patient, send

BASE = "/fhir/R4"
STATUS_PREFIX = f"{BASE}/$export-status/"
STAND_IN = {"StartAt": "Export", "States": {"Export": {"Type": "Pass", "End": True}}}


@pytest.fixture(autouse=True)
def export_workflow(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A do-nothing state machine in moto, named to the API as the bulk-export workflow before
    the (cached) runtime is built; its ARN."""
    machine = cloud.clients.stepfunctions().create_state_machine(
        name="bulk-export-stand-in", definition=json.dumps(STAND_IN),
        roleArn="arn:aws:iam::123456789012:role/bulk-export-stand-in",
    )["stateMachineArn"]
    monkeypatch.setenv(config.BULK_EXPORT_STATE_MACHINE_ARN, machine)
    api.runtime.cache_clear()
    yield machine
    api.runtime.cache_clear()


def kickoff(path: str, who: TenantContext, query: dict[str, list[str]] | None = None) -> Answer:
    return send("GET", path, who, query=query, headers={"Prefer": "respond-async"})


def started_job(path: str, who: TenantContext) -> str:
    """The job id of an export kicked off at `path` (202 with Content-Location)."""
    status, headers, outcome = kickoff(path, who)
    assert status == 202, outcome
    location = headers["Content-Location"]
    assert STATUS_PREFIX in location
    return location.rsplit("/", 1)[1]


def executions(cloud: Cloud, machine: str) -> list[str]:
    listed = cloud.clients.stepfunctions().list_executions(stateMachineArn=machine)["executions"]
    return sorted(execution["name"] for execution in listed)


def test_an_admins_system_export_starts_the_workflow_and_answers_202_with_its_status_url(
    cloud: Cloud, export_workflow: str,
) -> None:
    status, headers, outcome = kickoff(f"{BASE}/$export", caller(Role.ADMIN))

    assert status == 202, outcome
    assert outcome["resourceType"] == "OperationOutcome"
    job_id = headers["Content-Location"].rsplit("/", 1)[1]
    assert headers["Content-Location"].endswith(f"{STATUS_PREFIX}{job_id}")
    assert executions(cloud, export_workflow) == [job_id]
    status, headers, _ = send("GET", f"{STATUS_PREFIX}{job_id}", caller(Role.ADMIN))
    assert status == 202
    assert headers["X-Progress"].startswith("0 of ")


def test_a_nurse_may_not_export_the_clinic(cloud: Cloud, export_workflow: str) -> None:
    status, _, outcome = kickoff(f"{BASE}/$export", caller(Role.NURSE))

    assert (status, outcome["issue"][0]["code"]) == (403, "forbidden")
    assert kickoff(f"{BASE}/Patient/$export", caller(Role.NURSE))[0] == 403
    assert executions(cloud, export_workflow) == []


def test_a_physician_exports_one_patients_record() -> None:
    patient_id = new_patient()

    assert started_job(f"{BASE}/Patient/{patient_id}/$export", caller(Role.PHYSICIAN))


def test_an_export_is_seen_and_cancelled_only_by_who_asked_for_it_or_an_admin() -> None:
    own_id, other_id = new_patient(seed=6), new_patient(seed=7)
    job_id = started_job(f"{BASE}/Patient/{own_id}/$export", caller(Role.PATIENT, patient_id=own_id))
    another_patient = TenantContext("acme", "another-patient", Role.PATIENT, other_id)
    colleague = TenantContext("acme", "another-physician", Role.PHYSICIAN)

    for who in (another_patient, colleague):
        assert send("GET", f"{STATUS_PREFIX}{job_id}", who)[0] == 404
        assert send("DELETE", f"{STATUS_PREFIX}{job_id}", who)[0] == 404
    assert send("GET", f"{STATUS_PREFIX}{job_id}", caller(Role.PATIENT, patient_id=own_id))[0] == 202
    assert send("GET", f"{STATUS_PREFIX}{job_id}", caller(Role.ADMIN))[0] == 202


def test_a_patient_user_exports_their_own_record_and_no_one_elses(cloud: Cloud, export_workflow: str) -> None:
    own_id, other_id = new_patient(seed=4), new_patient(seed=5)
    portal = caller(Role.PATIENT, patient_id=own_id)

    job_id = started_job(f"{BASE}/Patient/{own_id}/$export", portal)
    status, _, _ = kickoff(f"{BASE}/Patient/{other_id}/$export", portal)

    assert status == 404
    assert kickoff(f"{BASE}/$export", portal)[0] == 403
    assert executions(cloud, export_workflow) == [job_id]


def test_another_clinic_can_neither_see_nor_cancel_a_job() -> None:
    job_id = started_job(f"{BASE}/$export", caller(Role.ADMIN))
    globex = caller(Role.ADMIN, tenant="globex")

    assert send("GET", f"{STATUS_PREFIX}{job_id}", globex)[0] == 404
    assert send("DELETE", f"{STATUS_PREFIX}{job_id}", globex)[0] == 404
    assert send("GET", f"{STATUS_PREFIX}{job_id}", caller(Role.ADMIN))[0] == 202


def test_delete_cancels_a_job_which_is_then_gone(cloud: Cloud, export_workflow: str) -> None:
    job_id = started_job(f"{BASE}/$export", caller(Role.ADMIN))

    status, _, outcome = send("DELETE", f"{STATUS_PREFIX}{job_id}", caller(Role.ADMIN))

    assert (status, outcome["resourceType"]) == (202, "OperationOutcome")
    assert send("GET", f"{STATUS_PREFIX}{job_id}", caller(Role.ADMIN))[0] == 404
    assert send("DELETE", f"{STATUS_PREFIX}{job_id}", caller(Role.ADMIN))[0] == 404
    stepfunctions = cloud.clients.stepfunctions()
    (execution,) = stepfunctions.list_executions(stateMachineArn=export_workflow)["executions"]
    assert execution["status"] == "ABORTED"


def test_an_unknown_type_or_parameter_is_400_and_starts_nothing(cloud: Cloud, export_workflow: str) -> None:
    admin = caller(Role.ADMIN)

    status, _, outcome = kickoff(f"{BASE}/$export", admin, query={"_type": ["Observation,Spaceship"]})
    assert (status, outcome["issue"][0]["code"]) == (400, "structure")
    assert "_type" in outcome["issue"][0]["diagnostics"]
    assert kickoff(f"{BASE}/$export", admin, query={"_elements": ["id"]})[0] == 400
    assert executions(cloud, export_workflow) == []
