"""The ingestion steps over fakes (the record service over FakeRecords, the fake ledger, raw
messages and outbox): what each step stores, how a retry or a later message about the same order
behaves, flags, release, and the ACKs of filed, held and quarantined messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cairn.labs.directory import endpoint, lab_organization
from cairn.labs.ingestion import Ingestion, LabMessageError, MessageRef, failure
from cairn.labs.ledger import MessageStatus
from cairn.labs.model import PLACER_ORDER_SYSTEM, MalformedMessage, PatientIdentifier, PatientIdentity
from cairn.labs.outbox import OutboxKind
from cairn.labs.release import ReleasePolicy
from devkit.lab_messages import PANELS, GeneratedTest, Outcome, panel_results, result_message
from multitenant.permissions import is_released
from tests.unit.labs.lab_fakes import NOW, FakeLabOutbox, intake_for
from tests.unit.labs.test_release import Clinic

LAB = "acme-lab"
LUNA = PatientIdentity((PatientIdentifier("MRN-7", "ACME", "MR"),), "Luna", ("Ana",), "1980-02-03", "female")


class Lab:
    """A clinic with a lab, a patient (MRN-7) and a physician, and the steps wired over fakes."""

    def __init__(self, policy: str = "after_review") -> None:
        self.clinic = Clinic()
        self.system = self.clinic.system()
        organization = self.system.create("Organization", lab_organization(LAB, "Acme Lab")).resource
        self.patient_id = self.clinic.patient("Luna", "1980-02-03", "MRN-7")
        self.doctor = self.clinic.practitioner()
        self.intake = intake_for(self.system.context, LAB)
        self.steps = Ingestion(records=self.system, ledger=self.intake.ledger, raw=self.intake.raw,
                               outbox=self.intake.outbox, lab=endpoint(organization, LAB),
                               policy=ReleasePolicy.parse(policy), now=lambda: NOW)

    def order(self, placer: str) -> str:
        return str(self.system.create("ServiceRequest", {
            "resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
            "subject": {"reference": f"Patient/{self.patient_id}"}, "requester": {"reference": self.doctor},
            "identifier": [{"system": PLACER_ORDER_SYSTEM, "value": placer}]}).resource["id"])

    def receive(self, control: str, tests: tuple[GeneratedTest, ...], *, placer: str | None = None,
                who: PatientIdentity = LUNA, status: str = "F") -> MessageRef:
        text = result_message(patient=who, control_id=control, placer=placer, filler=f"F-{placer or control}",
                              tests=tests, collected=NOW, status=status)
        [received] = self.intake.receive(text)
        assert received.needs_processing
        return MessageRef(LAB, control)

    def file(self, ref: MessageRef) -> dict[str, Any]:
        """parse, match and store, as the workflow runs them."""
        self.steps.parse(ref)
        matched = self.steps.match(ref)
        assert matched["matched"], matched
        return self.steps.store_results(ref, matched["patient"], matched["order"])

    def ack(self, control: str) -> list[str]:
        assert isinstance(self.intake.outbox, FakeLabOutbox)
        text = self.intake.outbox.delivered[(LAB, OutboxKind.ACKS, control)]
        return next(s.split("|") for s in text.split("\r") if s.startswith("MSA|"))


def potassium(value: str, flag: str = "N") -> tuple[GeneratedTest, ...]:
    return (GeneratedTest("2823-3", "Potassium [Moles/volume] in Serum or Plasma", value, "mmol/L", "3.5-5.1",
                          flag),)


def test_a_result_for_an_order_is_filed_against_it_and_completes_it() -> None:
    lab = Lab()
    order_id = lab.order("CRN000000001")
    ref = lab.receive("M-1", potassium("4.2"), placer="CRN000000001")

    assert lab.steps.parse(ref) == {"groups": 1, "observations": 1, "severity": "normal", "warnings": 0}
    stored = lab.file(ref)

    [report] = stored["reports"]
    filed = lab.system.read("DiagnosticReport", report["report"].split("/")[1])
    assert filed["subject"] == {"reference": f"Patient/{lab.patient_id}"}
    assert filed["basedOn"] == [{"reference": f"ServiceRequest/{order_id}"}]
    assert filed["performer"][0]["reference"] == f"Organization/{lab.steps.lab.organization_id}"
    [observation] = [lab.system.read("Observation", r["reference"].split("/")[1]) for r in filed["result"]]
    assert observation["valueQuantity"]["value"] == 4.2
    order = lab.system.read("ServiceRequest", order_id)
    assert order["status"] == "completed"
    filler = {"system": "https://cairn.health/fhir/sid/filler-order-number", "value": "F-CRN000000001"}
    assert filler in order["identifier"]
    assert lab.intake.ledger.get(LAB, "M-1").references  # type: ignore[union-attr]


def test_a_retried_store_changes_nothing_and_a_correction_is_a_new_version_of_the_same_result() -> None:
    lab = Lab()
    lab.order("CRN000000002")
    first = lab.file(lab.receive("P-1", potassium("4.2"), placer="CRN000000002", status="P"))
    report_id = first["reports"][0]["report"].split("/")[1]

    again = lab.steps.store_results(MessageRef(LAB, "P-1"), lab.patient_id,
                                    lab.steps.match(MessageRef(LAB, "P-1"))["order"])
    assert again["reports"] == first["reports"]
    assert lab.system.read("DiagnosticReport", report_id)["meta"]["versionId"] == "1"

    final = lab.file(lab.receive("P-2", potassium("4.4"), placer="CRN000000002"))

    assert final["reports"][0]["report"] == first["reports"][0]["report"]
    report = lab.system.read("DiagnosticReport", report_id)
    assert (report["meta"]["versionId"], report["status"]) == ("2", "final")


def test_an_unknown_patient_opens_a_reconciliation_task_and_the_lab_gets_ae_204() -> None:
    lab = Lab()
    stranger = PatientIdentity((PatientIdentifier("LAB-99"),), "Nobody", ("N",), "1999-09-09", "male")
    ref = lab.receive("U-1", potassium("4.0"), who=stranger)

    matched = lab.steps.match(ref)
    lab.steps.acknowledge(ref, {"matched": False})

    assert matched["matched"] is False
    task = lab.system.read("Task", matched["task"].split("/")[1])
    assert task["code"]["coding"][0]["code"] == "reconcile-lab-result"
    assert "for" not in task
    assert "Nobody" not in json.dumps(task)
    entry = lab.intake.ledger.get(LAB, "U-1")
    assert entry is not None
    assert (entry.status, entry.hl7_error, entry.ack_code) == (
        MessageStatus.AWAITING_RECONCILIATION, "204", "AE")
    assert lab.ack("U-1")[1] == "AE"


def test_a_person_naming_the_patient_files_a_held_result() -> None:
    lab = Lab()
    ref = lab.receive("H-1", potassium("4.0"),
                      who=PatientIdentity((PatientIdentifier("LAB-1"),), "Lunna", (), "1980-02-03", "female"))

    matched = lab.steps.match(ref, patient_override=lab.patient_id)

    assert matched == {"matched": True, "patient": lab.patient_id, "order": None}


def test_a_critical_result_is_stat_for_the_ordering_physician_with_a_notice_and_no_subject() -> None:
    lab = Lab()
    order_id = lab.order("CRN000000003")
    ref = lab.receive("C-1", potassium("6.9", "HH"), placer="CRN000000003")
    stored = lab.file(ref)

    flagged = lab.steps.flag(ref, stored, lab.patient_id, order_id)

    [task] = [lab.system.read("Task", t.split("/")[1]) for t in flagged["tasks"]]
    assert (task["priority"], task["owner"]) == ("stat", {"reference": lab.doctor})
    [notice] = [lab.system.read("Communication", c.split("/")[1]) for c in flagged["notices"]]
    assert notice["priority"] == "stat"
    assert "subject" not in notice


@pytest.mark.parametrize(("policy", "released"), [("immediate", True), ("after_review", False),
                                                  ("delay:24", False)])
def test_release_follows_the_clinics_policy(policy: str, released: bool) -> None:
    lab = Lab(policy)
    stored = lab.file(lab.receive("R-1", panel_results(PANELS["bmp"], seed=2, outcome=Outcome.ABNORMAL)))

    decided = lab.steps.decide_release(stored)

    assert decided["released"] is released
    report = lab.system.read("DiagnosticReport", stored["reports"][0]["report"].split("/")[1])
    assert is_released(report) is released
    if policy.startswith("delay"):
        assert decided["at"] == "2026-11-21T10:00:00Z"


def test_a_filed_message_gets_aa_and_a_quarantined_one_ar_or_ae_with_its_reason() -> None:
    lab = Lab()
    filed = lab.receive("A-1", potassium("4.1"))
    lab.file(filed)
    lab.steps.acknowledge(filed, {"matched": True})
    refused = lab.receive("Q-1", potassium("4.1"))
    bad = LabMessageError.of(MalformedMessage("the message has no PID segment", "100"))
    cause = json.dumps({"errorType": "LabMessageError", "errorMessage": str(bad)})

    lab.steps.quarantine(refused, {"Error": "LabMessageError", "Cause": cause})

    assert lab.ack("A-1")[1] == "AA"
    assert lab.intake.ledger.get(LAB, "A-1").status is MessageStatus.PROCESSED  # type: ignore[union-attr]
    entry = lab.intake.ledger.get(LAB, "Q-1")
    assert entry is not None
    assert (entry.status, entry.reason, entry.ack_code) == (
        MessageStatus.QUARANTINED, "the message has no PID segment", "AE")


def test_a_failure_is_explained_only_when_it_is_the_messages_own() -> None:
    refusal = LabMessageError.of(MalformedMessage("v2.6", "203", reject=True))
    rejected = json.dumps({"errorType": "LabMessageError", "errorMessage": str(refusal)})
    leaked = json.dumps({"errorType": "KeyError", "errorMessage": "'Luna'"})

    assert failure({"Error": "LabMessageError", "Cause": rejected}) == ("v2.6", "203", True)
    reason, code, reject = failure({"Error": "KeyError", "Cause": leaked})
    assert "Luna" not in reason
    assert (code, reject) == ("207", False)
    assert "KeyError" in reason
