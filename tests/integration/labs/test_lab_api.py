"""The clinician's and the lab's side of the labs API in the embedded runtime: orders out, the
review inbox, sign and release, the patient's view before and after, trends, reconciliation of
a held result, the S3 inbox, and another clinic's ids refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from cairn.aws import AwsClients
from cairn.errors import ResourceNotFound
from cairn.labs.inbox_files import inbox_key
from cairn.labs.ledger import MessageStatus
from cairn.labs.model import PatientIdentifier, PatientIdentity
from cairn.labs.outbox import OutboxKind, S3LabOutbox
from devkit.deployment import Deployment
from devkit.lab_messages import PANELS, GeneratedTest, Outcome, batch_file, panel_results, result_message
from multitenant.context import Role, TenantContext
from tests.integration.labs.support import LabClinic, msa

LAB = "north-lab"
POTASSIUM = "http://loinc.org|2823-3"
COLLECTED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clinic(clients: AwsClients, deployment: Deployment) -> LabClinic:
    clinic = LabClinic("labs-north", LAB, clients, deployment)
    clinic.set_up("after_review")
    return clinic


@pytest.fixture(scope="module")
def open_clinic(clients: AwsClients, deployment: Deployment) -> LabClinic:
    """A clinic whose policy releases results as soon as they are filed."""
    clinic = LabClinic("labs-open", LAB, clients, deployment)
    clinic.set_up("immediate")
    return clinic


def physician(clinic: LabClinic) -> TenantContext:
    return TenantContext(clinic.tenant_id, "dr-1", Role.PHYSICIAN)


def identity(family: str, birth: str, mrn: str) -> PatientIdentity:
    return PatientIdentity((PatientIdentifier(mrn, "NORTH", "MR"),), family, ("Ana",), birth, "female")


def potassium(value: str, flag: str) -> tuple[GeneratedTest, ...]:
    return (GeneratedTest("2823-3", "Potassium [Moles/volume] in Serum or Plasma", value, "mmol/L", "3.5-5.1",
                          flag),)


def file_result(clinic: LabClinic, control: str, who: PatientIdentity, tests: tuple[GeneratedTest, ...],
                placer: str | None = None, collected: datetime = COLLECTED) -> str:
    """Post one result, wait for the workflow; the filed DiagnosticReport's id."""
    message = result_message(patient=who, control_id=control, placer=placer, filler=f"F{control}",
                             tests=tests, collected=collected)
    status, acks = clinic.post_hl7(message)
    assert status == 200
    assert msa(acks)[0][1] == "CA"
    clinic.wait_for_workflows()
    entry = clinic.message(control)
    assert entry.status is MessageStatus.PROCESSED, entry
    return next(ref for ref in entry.references if ref.startswith("DiagnosticReport/")).split("/")[1]


def api(clinic: LabClinic, method: str, path: str, resource: str, who: TenantContext,
        body: dict[str, object] | None = None, query: dict[str, str] | None = None,
        **path_parameters: str) -> tuple[int, dict[str, object]]:
    status, _, text = clinic.call(method, path, resource, who,
                                  body=json.dumps(body).encode() if body is not None else None,
                                  query=query, path_parameters=path_parameters or None)
    return status, json.loads(text or "{}")


def test_a_result_waits_in_the_inbox_hidden_from_the_patient_until_a_physician_signs_it(
        clinic: LabClinic) -> None:
    patient_id = clinic.patient("Okafor", "Ana", "1980-02-03", "N-100")
    report_id = file_result(clinic, "SIGN-1", identity("Okafor", "1980-02-03", "N-100"),
                            potassium("5.6", "H"))
    patient = clinic.as_role(Role.PATIENT, "patient-1", patient_id)

    status, inbox = api(clinic, "GET", "/lab-results/inbox", "/lab-results/inbox", physician(clinic))
    assert status == 200
    waiting = [item for item in inbox["results"] if item["report"] == f"DiagnosticReport/{report_id}"]
    assert len(waiting) == 1
    assert waiting[0]["priority"] == "urgent"  # abnormal
    with pytest.raises(ResourceNotFound):
        patient.read("DiagnosticReport", report_id)

    status, signed = api(clinic, "POST", f"/lab-results/{report_id}/sign", "/lab-results/{report}/sign",
                         physician(clinic), {"comment": "Repeat in a week"}, report=report_id)

    assert status == 200, signed
    assert patient.read("DiagnosticReport", report_id)["id"] == report_id
    assert all(patient.read("Observation", ref["reference"].split("/")[1])
               for ref in patient.read("DiagnosticReport", report_id)["result"])
    status, again = api(clinic, "POST", f"/lab-results/{report_id}/sign", "/lab-results/{report}/sign",
                        physician(clinic), {"comment": "again"}, report=report_id)
    assert status == 409, again
    _, inbox = api(clinic, "GET", "/lab-results/inbox", "/lab-results/inbox", physician(clinic))
    assert f"DiagnosticReport/{report_id}" not in [item["report"] for item in inbox["results"]]


def test_a_critical_result_is_stat_for_the_ordering_physician_with_a_notice(clinic: LabClinic) -> None:
    patient_id = clinic.patient("Lindqvist", "Ana", "1975-07-08", "N-200")
    doctor = clinic.practitioner()
    placer = "CRNCRITICAL01"
    clinic.order(patient_id, doctor, placer, code="2823-3")

    report_id = file_result(clinic, "CRIT-1", identity("Lindqvist", "1975-07-08", "N-200"),
                            potassium("6.9", "HH"), placer=placer)

    [task] = clinic.search("Task", focus=f"DiagnosticReport/{report_id}")
    assert task["priority"] == "stat"
    assert task["owner"] == {"reference": doctor}
    notices = [c for c in clinic.search("Communication", recipient=doctor)
               if {"reference": f"DiagnosticReport/{report_id}"} in c.get("about", [])]
    assert len(notices) == 1
    assert notices[0]["priority"] == "stat"
    assert notices[0]["payload"] == [{"contentString": "Critical lab result awaiting review"}]  # no value
    assert "subject" not in notices[0]  # not in the patient's compartment


def test_a_clinic_that_releases_immediately_shows_the_patient_the_result_at_once(
        open_clinic: LabClinic) -> None:
    patient_id = open_clinic.patient("Tanaka", "Ana", "1990-01-01", "N-300")

    report_id = file_result(open_clinic, "OPEN-1", identity("Tanaka", "1990-01-01", "N-300"),
                            potassium("4.2", "N"))

    patient = open_clinic.as_role(Role.PATIENT, "patient-3", patient_id)
    assert patient.read("DiagnosticReport", report_id)["status"] == "final"


def test_the_trend_of_a_test_lists_the_patients_results_oldest_first(clinic: LabClinic) -> None:
    patient_id = clinic.patient("Moreau", "Ana", "1968-04-05", "N-400")
    who = identity("Moreau", "1968-04-05", "N-400")
    for number, (value, flag) in enumerate([("4.0", "N"), ("5.4", "H"), ("4.4", "N")]):
        file_result(clinic, f"TREND-{number}", who, potassium(value, flag),
                    collected=COLLECTED - timedelta(days=30 * (3 - number)))

    status, trend = api(clinic, "GET", "/lab-results/trend", "/lab-results/trend", physician(clinic),
                        query={"patient": patient_id, "code": POTASSIUM})

    assert status == 200, trend
    points = trend["points"]
    assert [p["value"] for p in points] == [4.0, 5.4, 4.4]
    assert trend["unit"] == "mmol/L"
    status, missing = api(clinic, "GET", "/lab-results/trend", "/lab-results/trend", physician(clinic),
                          query={"patient": patient_id})
    assert status == 400, missing


def test_an_order_goes_to_the_outbox_with_a_placer_number_and_its_result_comes_back_to_it(
        clinic: LabClinic) -> None:
    patient_id = clinic.patient("Rivera", "Ana", "1985-09-10", "N-500")
    order_id = clinic.order(patient_id, clinic.practitioner(), placer=None, code="58410-2")

    status, sent = api(clinic, "POST", f"/labs/{LAB}/orders", "/labs/{lab}/orders", physician(clinic),
                       {"serviceRequest": f"ServiceRequest/{order_id}"}, lab=LAB)

    assert status == 201, sent
    placer = str(sent["placerOrderNumber"])
    outbox = S3LabOutbox(TenantContext.system(clinic.tenant_id, "test"), clinic.clients.s3(),
                         clinic.deployment.buckets["documents"])
    order_message = outbox.collect(LAB, OutboxKind.ORDERS, placer)
    assert "OML^O21" in order_message
    assert placer in order_message
    nurse = TenantContext(clinic.tenant_id, "nurse-1", Role.NURSE)
    status, _ = api(clinic, "POST", f"/labs/{LAB}/orders", "/labs/{lab}/orders", nurse,
                    {"serviceRequest": f"ServiceRequest/{order_id}"}, lab=LAB)
    assert status == 403
    report_id = file_result(clinic, "ORDERED-1", identity("Rivera", "1985-09-10", "N-500"),
                            panel_results(PANELS["cbc"], seed=3), placer=placer)
    report = clinic.system().read("DiagnosticReport", report_id)
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{order_id}"}]
    assert clinic.system().read("ServiceRequest", order_id)["status"] == "completed"


def test_a_held_result_is_listed_and_reconciled_to_the_patient_a_person_names(clinic: LabClinic) -> None:
    patient_id = clinic.patient("Nakamura", "Ana", "1971-11-12", "N-600")
    # The lab sent its own patient number and a misspelt name: no match, held.
    message = result_message(patient=identity("Nakamure", "1971-11-12", "LAB-77"), control_id="HELD-1",
                             placer=None, filler="FHELD-1", tests=potassium("4.1", "N"), collected=COLLECTED)
    clinic.post_hl7(message)
    clinic.wait_for_workflows()
    admin = TenantContext(clinic.tenant_id, "admin-1", Role.ADMIN)

    status, listed = api(clinic, "GET", f"/labs/{LAB}/messages", "/labs/{lab}/messages", admin,
                         query={"status": "awaiting-reconciliation"}, lab=LAB)

    assert status == 200
    assert "HELD-1" in [m["controlId"] for m in listed["messages"]]  # type: ignore[index, union-attr]
    status, answer = api(clinic, "POST", f"/labs/{LAB}/messages/HELD-1/reprocess",
                         "/labs/{lab}/messages/{control}/reprocess", admin,
                         {"patient": f"Patient/{patient_id}"}, lab=LAB, control="HELD-1")
    assert status == 202, answer
    clinic.wait_for_workflows()
    entry = clinic.message("HELD-1")
    assert entry.status is MessageStatus.PROCESSED
    report_ref = next(ref for ref in entry.references if ref.startswith("DiagnosticReport/"))
    assert clinic.system().read("DiagnosticReport", report_ref.split("/")[1])["subject"] == {
        "reference": f"Patient/{patient_id}"}
    assert msa(clinic.ack("HELD-1"))[0][1] == "AA"


def test_a_file_in_the_s3_inbox_is_filed_and_removed_and_one_for_an_unknown_lab_is_kept_refused(
        clinic: LabClinic) -> None:
    clinic.patient("Haddad", "Ana", "1966-06-06", "N-700")
    who = identity("Haddad", "1966-06-06", "N-700")
    messages = [result_message(patient=who, control_id=f"INBOX-{n}", placer=None, filler=f"FI{n}",
                               tests=panel_results(PANELS["bmp"], seed=n, outcome=Outcome.ABNORMAL),
                               collected=COLLECTED) for n in range(3)]
    s3, bucket = clinic.clients.s3(), clinic.deployment.buckets["lab-inbox"]
    key = inbox_key(clinic.tenant_id, LAB, "results-0001.hl7")

    clinic.drop(key, batch_file(messages).encode())
    clinic.wait_for_workflows()

    assert [clinic.message(f"INBOX-{n}").status for n in range(3)] == [MessageStatus.PROCESSED] * 3
    assert s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) == 0
    stray = inbox_key(clinic.tenant_id, "no-such-lab", "results.hl7")
    clinic.drop(stray, result_message(
        patient=who, control_id="STRAY-1", placer=None, filler="FS", tests=potassium("4.0", "N"),
        collected=COLLECTED).encode())
    clinic.wait_for_workflows()
    entry = clinic.ledger().get("no-such-lab", "STRAY-1")
    assert entry is not None
    assert entry.status is MessageStatus.QUARANTINED
    assert entry.ack_code == "AR"
    assert "not in this clinic's directory" in entry.reason


def test_another_clinics_report_cannot_be_signed_or_trended(
        clinic: LabClinic, open_clinic: LabClinic) -> None:
    patient_id = open_clinic.patient("Silva", "Ana", "1999-09-09", "N-800")
    report_id = file_result(open_clinic, "OTHER-1", identity("Silva", "1999-09-09", "N-800"),
                            potassium("4.0", "N"))

    status, _ = api(clinic, "POST", f"/lab-results/{report_id}/sign", "/lab-results/{report}/sign",
                    physician(clinic), {"comment": "not mine"}, report=report_id)
    assert status == 404
    status, trend = api(clinic, "GET", "/lab-results/trend", "/lab-results/trend", physician(clinic),
                        query={"patient": patient_id, "code": POTASSIUM})
    assert status == 200
    assert trend["points"] == []
    status, _ = api(clinic, "GET", f"/labs/{LAB}/messages", "/labs/{lab}/messages",
                    TenantContext(clinic.tenant_id, "admin-1", Role.ADMIN), query={"status": "nonsense"},
                    lab=LAB)
    assert status == 400
