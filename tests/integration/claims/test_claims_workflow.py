"""Insurance claims through the whole embedded runtime: the claims API function, the real
claims.asl.json executed by moto's Step Functions (task tokens included), the step handler, the
clearinghouse inbox bucket's notification and its function, DynamoDB, KMS and S3.

A claim goes from a signed, coded encounter to an 837P that pyx12 validates in the clinic's
outbox, and back through the fake clearinghouse's 999, 277CA and 835 to a posted payment and the
patient's invoice; the ways it goes wrong end on a billing Task; broken or unmatched files are
quarantined with their reasons; the shared ../shared/fixtures/x12 remittances are read."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cairn.aws import AwsClients
from cairn.billing.invoices import view
from cairn.claims.desk import ClaimDesk
from cairn.claims.record import ClaimState
from cairn.claims.x12.validation import validate_837p
from devkit.clearinghouse_fake import answer_835, answer_999
from devkit.deployment import Deployment
from multitenant.context import Role, TenantContext
from tests.integration.claims.support import ClaimsClinic

FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "x12"
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(),
    reason="../shared/fixtures/x12 is not beside this clone; Cairn's generated "
    "835s (devkit/clearinghouse_fake.py) cover the same inbox paths here and in tests/unit/claims",
)


@pytest.fixture(scope="module")
def clinic(clients: AwsClients, deployment: Deployment) -> ClaimsClinic:
    clinic = ClaimsClinic("claims-acme", clients, deployment)
    clinic.set_up()
    return clinic


@pytest.fixture(scope="module")
def other(clients: AwsClients, deployment: Deployment) -> ClaimsClinic:
    clinic = ClaimsClinic("claims-beta", clients, deployment)
    clinic.set_up()
    return clinic


def submitted(clinic: ClaimsClinic, family: str, **coding: object) -> str:
    _, coverage, encounter = clinic.patient(family)
    status, coded = clinic.code(encounter, coverage, **coding)
    assert status == 201, coded
    claim_id = str(coded["claim_id"])
    clinic.wait_for(claim_id, ClaimState.SUBMITTED)
    clinic.wait_for_waiting(claim_id, "999")
    return claim_id


def test_a_claim_goes_from_its_signed_encounter_to_a_posted_remittance(clinic: ClaimsClinic) -> None:
    claim_id = submitted(clinic, "Paid")
    record = clinic.ledger().get(claim_id)

    outbound = clinic.outbound(record)
    assert outbound.startswith("ISA*")
    assert "005010X222A1" in outbound
    assert f"CLM*{record.control_number}*" in outbound
    assert validate_837p(outbound) == ()

    clinic.answer(record, "999")
    record = clinic.wait_for(claim_id, ClaimState.ACCEPTED)
    clinic.wait_for_waiting(claim_id, "277CA")
    clinic.answer(record, "277CA")
    record = clinic.wait_for(claim_id, ClaimState.ACKNOWLEDGED)
    assert record.payer_claim_number
    clinic.wait_for_waiting(claim_id, "835")
    remittance = clinic.answer(record, "835")
    record = clinic.wait_for(claim_id, ClaimState.PAID)

    assert clinic.filed(remittance) == ("processed", [])
    charge = 180_00 + 15_00
    assert record.charge_cents == charge
    assert record.paid_cents == charge * 80 // 100 * 80 // 100  # allowed 80%, coinsurance 20% of it
    assert record.patient_responsibility_cents == charge * 80 // 100 * 20 // 100
    assert {(a.group, a.reason) for a in record.adjustments} >= {("CO", "45"), ("PR", "2")}
    [response] = clinic.search("ClaimResponse", request=f"Claim/{claim_id}")
    assert response["outcome"] == "complete"
    invoice = clinic.system().read("Invoice", record.invoice_id)
    assert view(invoice, datetime.now(UTC).date()).amount_due_cents == record.patient_responsibility_cents
    assert not [t for t in clinic.search("Task", focus=f"Claim/{claim_id}") if t["status"] == "requested"]

    status, report = clinic.call("GET", "/claims/reports", "/claims/reports")
    assert status == 200
    payers = report["payments_by_payer"]
    assert any(p["paid"] == record.paid_cents / 100 for p in payers), payers


def test_a_replayed_835_is_posted_once(clinic: ClaimsClinic) -> None:
    claim_id = submitted(clinic, "Twice")
    for what, state in (("999", ClaimState.ACCEPTED), ("277CA", ClaimState.ACKNOWLEDGED)):
        clinic.answer(clinic.ledger().get(claim_id), what)
        clinic.wait_for(claim_id, state)
    record = clinic.wait_for_waiting(claim_id, "835")
    text = clinic.outbound(record)
    remittance = answer_835(text)
    clinic.drop("first.835", remittance)
    paid = clinic.wait_for(claim_id, ClaimState.PAID)
    clinic.drop("again.835", remittance)

    assert clinic.filed("again.835")[0] == "processed"
    again = clinic.ledger().get(claim_id)
    assert again.paid_cents == paid.paid_cents
    assert len(again.remittances) == 1
    assert len(clinic.search("ClaimResponse", request=f"Claim/{claim_id}")) == 1


def test_a_failed_scrub_lists_every_problem_on_a_task_and_a_resubmission_goes_out(
    clinic: ClaimsClinic,
) -> None:
    _, coverage, encounter = clinic.patient("Unsigned", member_id="", signed=False)
    status, coded = clinic.code(encounter, coverage)
    assert status == 201, coded
    claim_id = str(coded["claim_id"])

    record = clinic.wait_for(claim_id, ClaimState.SCRUB_FAILED)
    task = clinic.system().read("Task", record.task_id)
    reasons = [i["valueString"] for i in task["input"]]
    assert any("not signed" in r for r in reasons), reasons
    assert any("member id" in r for r in reasons), reasons
    assert "Unsigned" not in str(task)
    status, worklist = clinic.call("GET", "/claims/worklist", "/claims/worklist")
    assert status == 200
    assert any(t["claim"] == f"Claim/{claim_id}" and t["kind"] == "scrub-failed" for t in worklist["tasks"])

    status, refused = clinic.call(
        "POST", f"/claims/{claim_id}/void", "/claims/{claim}/void", path_parameters={"claim": claim_id}
    )
    assert status == 202, refused  # never sent: withdrawn at once
    assert clinic.wait_for(claim_id, ClaimState.VOIDED).closed
    assert clinic.system().read("Claim", claim_id)["status"] == "cancelled"


def test_a_clearinghouse_rejection_and_a_payer_rejection_go_on_the_worklist(clinic: ClaimsClinic) -> None:
    rejected_file = submitted(clinic, "Syntax")
    clinic.answer(clinic.ledger().get(rejected_file), "999", accept=False)
    record = clinic.wait_for(rejected_file, ClaimState.REJECTED)
    assert record.problems
    assert clinic.system().read("Task", record.task_id)["code"]["coding"][0]["code"] == "rejected-999"

    rejected_claim = submitted(clinic, "Payer")
    record = clinic.ledger().get(rejected_claim)
    clinic.answer(record, "999")
    clinic.wait_for(rejected_claim, ClaimState.ACCEPTED)
    clinic.answer(record, "277CA", rejected={record.control_number: "subscriber not found"})
    record = clinic.wait_for(rejected_claim, ClaimState.REJECTED)
    task = clinic.system().read("Task", record.task_id)
    assert task["code"]["coding"][0]["code"] == "rejected-277CA"
    assert any("277CA" in i["valueString"] for i in task["input"])

    status, resubmitted = clinic.call(
        "POST",
        f"/claims/{rejected_claim}/resubmit",
        "/claims/{claim}/resubmit",
        path_parameters={"claim": rejected_claim},
    )
    assert status == 202, resubmitted
    again = clinic.wait_for(rejected_claim, ClaimState.SUBMITTED)
    assert again.attempt == 2
    assert again.control_number.endswith("-2")
    assert clinic.system().read("Task", record.task_id)["status"] == "completed"


def test_a_denial_is_posted_and_lands_on_the_worklist_with_its_reason(clinic: ClaimsClinic) -> None:
    claim_id = submitted(clinic, "Denied")
    for what, state in (("999", ClaimState.ACCEPTED), ("277CA", ClaimState.ACKNOWLEDGED)):
        clinic.answer(clinic.ledger().get(claim_id), what)
        clinic.wait_for(claim_id, state)
    record = clinic.wait_for_waiting(claim_id, "835")
    clinic.answer(record, "835", denied={record.control_number: "50"})

    record = clinic.wait_for(claim_id, ClaimState.DENIED)
    assert record.paid_cents == 0
    assert any(r.startswith("CO-50") for r in record.problems), record.problems
    task = clinic.system().read("Task", record.task_id)
    assert task["code"]["coding"][0]["code"] == "denied"
    status, report = clinic.call("GET", "/claims/reports", "/claims/reports")
    assert status == 200
    assert report["denials"]["denied_claims"] >= 1
    assert any(d["reason"] == "50" for d in report["denials"]["by_reason"]), report["denials"]


def test_an_answer_that_never_comes_becomes_a_task_then_a_stalled_claim(clinic: ClaimsClinic) -> None:
    services = clinic.services
    context = TenantContext(clinic.tenant_id, "biller-2", Role.BILLING)
    desk = services.desk(context)
    ports = dataclasses.replace(
        desk._ports,  # the test's one change: waits of seconds instead of days
        start=lambda t, c, a, m, _timeouts: services.workflow.start(
            t, c, a, m, {"acknowledgement": 1, "remittance": 1}
        ),
    )
    _, coverage, encounter = clinic.patient("Silent")
    coded = ClaimDesk(context, ports).code(
        {
            "encounter": f"Encounter/{encounter}",
            "coverage": f"Coverage/{coverage}",
            "diagnoses": ["J06.9"],
            "services": [{"code": "99213", "diagnoses": [1]}],
        }
    )

    record = clinic.wait_for(str(coded["claim_id"]), ClaimState.STALLED, timeout=90)
    assert record.overdue == 3
    kinds = [e.what for e in record.events]
    assert kinds.count("overdue-999") == 3
    assert clinic.system().read("Task", record.task_id)["code"]["coding"][0]["code"] == "stalled"


def test_broken_and_unmatched_files_are_quarantined_with_their_reasons(clinic: ClaimsClinic) -> None:
    clinic.drop("garbage.txt", b"this is not an X12 file")
    folder, reasons = clinic.filed("garbage.txt")
    assert folder == "quarantine"
    assert len(reasons) == 1
    assert "ISA" in reasons[0]

    claim_id = submitted(clinic, "Stray")
    record = clinic.ledger().get(claim_id)
    clinic.drop("outbound-again.837", clinic.outbound(record))
    folder, reasons = clinic.filed("outbound-again.837")
    assert folder == "quarantine"
    assert "837" in reasons[0]

    stray = answer_835(clinic.outbound(record)).replace(f"CLP*{record.control_number}*", "CLP*NOSUCHCLAIM-1*")
    clinic.drop("stray.835", stray)
    folder, reasons = clinic.filed("stray.835")
    assert folder == "quarantine"
    assert reasons == [
        reason for reason in reasons if "NOSUCHCLAIM-1" in reason and "no such claim" in reason
    ]
    assert clinic.ledger().get(claim_id).status is ClaimState.SUBMITTED

    status, files = clinic.call(
        "GET", "/claims/files/quarantine", "/claims/files/{folder}", path_parameters={"folder": "quarantine"}
    )
    assert status == 200
    assert {"garbage.txt", "stray.835"} <= {f["name"] for f in files["files"]}


def test_another_clinic_sees_none_of_the_claims_and_its_files_match_none_of_them(
    clinic: ClaimsClinic, other: ClaimsClinic
) -> None:
    claim_id = submitted(clinic, "Private")
    record = clinic.ledger().get(claim_id)

    status, _ = other.call(
        "GET", f"/claims/{claim_id}", "/claims/{claim}", path_parameters={"claim": claim_id}
    )
    assert status == 404
    status, listed = other.call("GET", "/claims", "/claims")
    assert status == 200
    assert claim_id not in {c["claim_id"] for c in listed["claims"]}
    status, _ = other.call(
        "POST",
        f"/claims/{claim_id}/resubmit",
        "/claims/{claim}/resubmit",
        path_parameters={"claim": claim_id},
    )
    assert status == 404

    other.drop("their-999.txt", answer_999(clinic.outbound(record)))
    assert other.filed("their-999.txt")[0] == "quarantine"
    assert clinic.ledger().get(claim_id).status is ClaimState.SUBMITTED


def test_patients_and_front_desk_staff_cannot_work_claims(clinic: ClaimsClinic) -> None:
    patient, coverage, encounter = clinic.patient("Curious")
    who = TenantContext(clinic.tenant_id, "patient-1", Role.PATIENT, patient)
    status, _ = clinic.call("GET", "/claims", "/claims", who)
    assert status == 403
    front_desk = TenantContext(clinic.tenant_id, "desk-1", Role.FRONT_DESK)
    status, _ = clinic.call(
        "POST",
        "/claims",
        "/claims",
        front_desk,
        body={
            "encounter": f"Encounter/{encounter}",
            "coverage": f"Coverage/{coverage}",
            "diagnoses": ["E11.9"],
            "services": [{"code": "99213", "diagnoses": [1]}],
        },
    )
    assert status == 403


def test_coding_errors_are_named_and_nothing_is_stored(clinic: ClaimsClinic) -> None:
    _, coverage, encounter = clinic.patient("Miscoded")
    status, refused = clinic.code(
        encounter, coverage, diagnoses=["E11", "NOTACODE"], services=[{"code": "99999", "diagnoses": [3]}]
    )
    assert status == 400
    message = refused["message"]
    for named in (
        "diagnoses[0]: E11 is a category",
        "diagnoses[1]",
        "services[0].code",
        "99213",
        "services[0].diagnoses[0] points at diagnosis 3",
    ):
        assert named in message
    assert not clinic.search("Claim", encounter=f"Encounter/{encounter}")


# What each shared remittance is quarantined for (SOURCES.md: the LinuxForHealth samples are
# abbreviated, with bad BPR16 dates and a component separator that is not ISA16's): the defect, or,
# for those that read, that this clinic sent none of their claims.
SHARED_REMITTANCES = {
    "managed-care.835": ["BPR16 (the payment's date) in segment 4 (BPR) is not a date (CCYYMMDD)"],
    "secondary-payment.835": [
        "SVC01 in segment 29 (SVC) has no procedure code after its qualifier "
        "(components must be separated by ISA16 ':')"
    ],
    "cob-contractural-adjustment.835": [
        "SVC01 in segment 21 (SVC) has no procedure code after its qualifier "
        "(components must be separated by ISA16 ':')"
    ],
    "medicare-part-a.835": ["666123", "777777"],
    "pyx12_835_mult_loops.txt": ["2005555A"],
}


@needs_fixtures
@pytest.mark.parametrize("name", sorted(SHARED_REMITTANCES))
def test_the_shared_remittances_are_quarantined_with_the_right_reason(
    clinic: ClaimsClinic, name: str
) -> None:
    clinic.drop(f"fixture-{name}", (FIXTURES / name).read_bytes())
    folder, reasons = clinic.filed(f"fixture-{name}")
    assert folder == "quarantine"
    expected = SHARED_REMITTANCES[name]
    if expected[0][0].isdigit():  # read: each of its claims is unmatched here, by control number
        assert len(reasons) == len(expected)
        for control, reason in zip(expected, reasons, strict=True):
            assert f"pays control number {control}: no such claim here" in reason
    else:
        assert reasons == expected


def test_a_paid_claim_is_voided_by_a_frequency_8_claim_the_payer_accepts(clinic: ClaimsClinic) -> None:
    claim_id = submitted(clinic, "Withdrawn")
    for what, state in (
        ("999", ClaimState.ACCEPTED),
        ("277CA", ClaimState.ACKNOWLEDGED),
        ("835", ClaimState.PAID),
    ):
        clinic.wait_for_waiting(claim_id, what)
        clinic.answer(clinic.ledger().get(claim_id), what)
        clinic.wait_for(claim_id, state)
    payer_number = clinic.ledger().get(claim_id).payer_claim_number

    status, shown = clinic.call(
        "POST", f"/claims/{claim_id}/void", "/claims/{claim}/void", path_parameters={"claim": claim_id}
    )
    assert status == 202, shown
    record = clinic.wait_for_waiting(claim_id, "999")
    assert (record.attempt, record.frequency) == (2, "8")
    void = clinic.outbound(record)
    assert f"REF*F8*{payer_number}~" in void
    assert "*11:B:8*" in void  # CLM05: place of service, facility qualifier, frequency 8
    clinic.answer(record, "999")
    clinic.wait_for(claim_id, ClaimState.ACCEPTED)
    clinic.wait_for_waiting(claim_id, "277CA")
    clinic.answer(clinic.ledger().get(claim_id), "277CA")

    assert clinic.wait_for(claim_id, ClaimState.VOIDED).closed
    assert clinic.system().read("Claim", claim_id)["status"] == "cancelled"
