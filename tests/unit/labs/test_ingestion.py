"""The ingestion steps over fakes, beyond test_lab_ingestion.py: counts and refusals of parse,
the patient found through the order, reconciliation answers that must be the clinic's patient,
unsolicited results, corrections and retries at the level of each Observation, review Task
priorities, AR/AE quarantine, and failure() on causes it cannot read."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from cairn.errors import ResourceNotFound
from cairn.labs.ingestion import UNSOLICITED_TAG, LabMessageError, MessageRef, failure
from cairn.labs.intake import commit_acks
from cairn.labs.ledger import MessageStatus
from cairn.labs.model import MalformedMessage, PatientIdentifier, PatientIdentity
from cairn.labs.outbox import OutboxKind
from devkit.lab_messages import (
    PANELS,
    GeneratedTest,
    Outcome,
    panel_results,
    result_message,
    truncated,
    without_segment,
)
from tests.unit.labs.lab_fakes import NOW, FakeLabLedger, FakeLabOutbox
from tests.unit.labs.test_lab_ingestion import LAB, LUNA, Lab, potassium


def stored(lab: Lab, resource_type: str) -> dict[str, list[Any]]:
    """Every version of every resource of a type in the clinic's store, by id."""
    return {key[2]: versions for key, versions in lab.clinic.store.items()
            if key[0] == "acme" and key[1] == resource_type}


def ack_segments(lab: Lab, control: str) -> dict[str, list[str]]:
    assert isinstance(lab.intake.outbox, FakeLabOutbox)
    text = lab.intake.outbox.delivered[(LAB, OutboxKind.ACKS, control)]
    return {s[:3]: s.split("|") for s in text.split("\r")}


def receive_text(lab: Lab, text: str) -> MessageRef:
    [received] = lab.intake.receive(text)
    return MessageRef(LAB, received.entry.control_key)


def message_text(control: str, tests: tuple[GeneratedTest, ...], placer: str | None = None) -> str:
    return result_message(patient=LUNA, control_id=control, placer=placer, filler=f"F-{placer or control}",
                          tests=tests, collected=NOW)


def test_parse_counts_every_observation_and_the_worst_severity() -> None:
    lab = Lab()
    critical = panel_results(PANELS["bmp"], seed=5, outcome=Outcome.CRITICAL)

    counts = lab.steps.parse(lab.receive("B-1", critical))

    assert counts == {"groups": 1, "observations": 8, "severity": "critical", "warnings": 0}


def without_pid(text: str) -> str:
    return without_segment(text, "PID")


@pytest.mark.parametrize("broken", [truncated, without_pid])
def test_parse_refuses_a_message_it_cannot_read_without_quoting_it(broken: Callable[[str], str]) -> None:
    lab = Lab()
    ref = receive_text(lab, broken(message_text("T-1", panel_results(PANELS["bmp"], seed=6))))

    with pytest.raises(MalformedMessage) as refused:
        lab.steps.parse(ref)

    for detail in ("Luna", "Ana", "MRN-7", "19800203"):
        assert detail not in refused.value.reason


def test_a_step_for_a_message_not_in_the_ledger_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="not in the ledger"):
        Lab().steps.parse(MessageRef(LAB, "never-sent"))


def test_the_order_names_the_patient_even_when_the_lab_has_another_identifier() -> None:
    lab = Lab()
    order_id = lab.order("CRN000000011")
    other_id = PatientIdentity((PatientIdentifier("LAB-555"),), "Luna", ("Ana",), "1980-02-03", "female")

    matched = lab.steps.match(lab.receive("O-1", potassium("4.0"), placer="CRN000000011", who=other_id))

    assert matched == {"matched": True, "patient": lab.patient_id, "order": order_id}


@pytest.mark.parametrize("elsewhere", [True, False])
def test_a_reconciliation_answer_must_be_a_patient_of_this_clinic(elsewhere: bool) -> None:
    lab = Lab()
    answer = (str(lab.clinic.system("beta").create("Patient", {"resourceType": "Patient"}).resource["id"])
              if elsewhere else "no-such-patient")
    ref = lab.receive("H-1", potassium("4.0"))

    with pytest.raises(ResourceNotFound):
        lab.steps.match(ref, patient_override=answer)

    assert stored(lab, "Task") == {}
    entry = lab.intake.ledger.get(LAB, "H-1")
    assert entry is not None
    assert entry.status is MessageStatus.RECEIVED


def test_a_result_without_an_order_is_filed_for_the_patient_tagged_unsolicited() -> None:
    lab = Lab()
    ref = lab.receive("U-1", panel_results(PANELS["lipid"], seed=7))

    result = lab.file(ref)

    assert (result["unsolicited"], result["owner"]) == (True, None)
    [report] = [versions[-1].resource for versions in stored(lab, "DiagnosticReport").values()]
    observations = [versions[-1].resource for versions in stored(lab, "Observation").values()]
    assert len(observations) == 4
    for resource in [report, *observations]:
        assert resource["meta"]["tag"] == [UNSOLICITED_TAG]
        assert resource["subject"] == {"reference": f"Patient/{lab.patient_id}"}
        assert "basedOn" not in resource
        assert "_sequence" not in resource
    assert [r["reference"] for r in report["result"]] == [
        f"Observation/{i}" for i in stored(lab, "Observation")]


def test_a_preliminary_result_leaves_the_order_active_with_the_labs_number() -> None:
    lab = Lab()
    order_id = lab.order("CRN000000012")

    result = lab.file(lab.receive("P-1", potassium("4.2"), placer="CRN000000012", status="P"))

    order = lab.system.read("ServiceRequest", order_id)
    assert order["status"] == "active"
    assert {"system": "https://cairn.health/fhir/sid/filler-order-number", "value": "F-CRN000000012"} in (
        order["identifier"])
    assert result["reports"][0]["final"] is False
    assert result["owner"] == lab.doctor


def test_a_correction_is_a_new_version_of_each_observation_not_another_one() -> None:
    lab = Lab()
    lab.order("CRN000000013")
    lab.file(lab.receive("F-1", potassium("4.2"), placer="CRN000000013"))
    corrected = (GeneratedTest("2823-3", "Potassium", "4.6", "mmol/L", "3.5-5.1", "N", status="C"),)

    lab.file(lab.receive("C-1", corrected, placer="CRN000000013", status="C"))

    [versions] = stored(lab, "Observation").values()
    assert [(v.resource["status"], v.resource["valueQuantity"]["value"]) for v in versions] == [
        ("final", 4.2), ("corrected", 4.6)]
    [report] = stored(lab, "DiagnosticReport").values()
    assert [v.resource["status"] for v in report] == ["final", "corrected"]


def test_retrying_every_step_of_a_filed_message_writes_nothing_new() -> None:
    lab = Lab()
    order_id = lab.order("CRN000000014")
    ref = lab.receive("R-1", panel_results(PANELS["cbc"], seed=8, outcome=Outcome.CRITICAL),
                      placer="CRN000000014")
    first = lab.file(ref)
    lab.steps.flag(ref, first, lab.patient_id, order_id)
    before = {key: len(versions) for key, versions in lab.clinic.store.items()}

    again = lab.file(ref)
    flagged = lab.steps.flag(ref, again, lab.patient_id, order_id)

    assert again == first
    assert {key: len(versions) for key, versions in lab.clinic.store.items()} == before
    assert len(flagged["tasks"]) == 1
    assert len(flagged["notices"]) == 1


@pytest.mark.parametrize(("value", "flag", "priority"), [("4.2", "N", "routine"), ("5.6", "H", "urgent"),
                                                          ("6.9", "HH", "stat")])
def test_the_review_task_is_as_urgent_as_the_result_and_names_no_value(value: str, flag: str,
                                                                        priority: str) -> None:
    lab = Lab()
    order_id = lab.order("CRN000000015")
    ref = lab.receive("S-1", potassium(value, flag), placer="CRN000000015")
    result = lab.file(ref)

    flagged = lab.steps.flag(ref, result, lab.patient_id, order_id)

    [task] = [lab.system.read("Task", t.removeprefix("Task/")) for t in flagged["tasks"]]
    assert (task["priority"], task["owner"], task["for"]) == (
        priority, {"reference": lab.doctor}, {"reference": f"Patient/{lab.patient_id}"})
    assert task["focus"] == {"reference": result["reports"][0]["report"]}
    assert value not in json.dumps(task)
    assert len(flagged["notices"]) == (1 if priority == "stat" else 0)


def test_an_unsolicited_critical_result_goes_to_the_clinics_pool_with_a_notice_to_no_one() -> None:
    lab = Lab()
    ref = lab.receive("S-2", potassium("6.9", "HH"))
    result = lab.file(ref)

    flagged = lab.steps.flag(ref, result, lab.patient_id, None)

    [task] = [lab.system.read("Task", t.removeprefix("Task/")) for t in flagged["tasks"]]
    [notice] = [lab.system.read("Communication", c.removeprefix("Communication/"))
                for c in flagged["notices"]]
    assert (task["priority"], "owner" in task) == ("stat", False)
    assert ("subject" in notice, "recipient" in notice) == (False, False)


def test_an_aa_is_addressed_to_the_sender_and_answers_the_control_id() -> None:
    lab = Lab()
    ref = lab.receive("A-1", potassium("4.1"))
    lab.file(ref)

    assert lab.steps.acknowledge(ref, {"matched": True}) == {"ack": "AA"}

    ack = ack_segments(lab, "A-1")
    assert (ack["MSH"][4], ack["MSH"][5]) == ("ACME LIS", "ACME LAB")
    assert ack["MSA"][1:3] == ["AA", "A-1"]
    assert "ERR" not in ack


def test_a_message_the_lab_must_resend_is_quarantined_with_ar_and_its_err_code() -> None:
    lab = Lab()
    ref = lab.receive("Q-1", potassium("4.1"))
    refusal = LabMessageError.of(MalformedMessage("OBX 1 has no observation identifier", "101", reject=True))
    cause = json.dumps({"errorType": "LabMessageError", "errorMessage": str(refusal)})

    answer = lab.steps.quarantine(ref, {"Error": "LabMessageError", "Cause": cause})

    assert answer == {"ack": "AR", "quarantined": True}
    ack = ack_segments(lab, "Q-1")
    assert (ack["MSA"][1], ack["ERR"][3].split("^")[0]) == ("AR", "101")
    entry = lab.intake.ledger.get(LAB, "Q-1")
    assert entry is not None
    assert (entry.status, entry.reason, entry.hl7_error) == (
        MessageStatus.QUARANTINED, "OBX 1 has no observation identifier", "101")


def test_a_crash_quarantines_with_ae_naming_only_the_error_type() -> None:
    lab = Lab()
    ref = lab.receive("Q-2", potassium("4.1"))
    cause = json.dumps({"errorType": "KeyError", "errorMessage": "'Luna Ana 1980-02-03'"})

    lab.steps.quarantine(ref, {"Error": "KeyError", "Cause": cause})

    entry = lab.intake.ledger.get(LAB, "Q-2")
    assert entry is not None
    assert (entry.status, entry.ack_code, entry.hl7_error) == (MessageStatus.QUARANTINED, "AE", "207")
    assert "KeyError" in entry.reason
    assert isinstance(lab.intake.outbox, FakeLabOutbox)
    for text in (entry.reason, lab.intake.outbox.delivered[(LAB, OutboxKind.ACKS, "Q-2")]):
        assert "Luna" not in text
        assert "1980" not in text


@pytest.mark.parametrize(("error", "expected"), [
    ({}, ("processing failed (Error); the clinic's support can reprocess the message", "207", False)),
    ({"Error": "States.Timeout", "Cause": "not json"}, (
        "processing failed (States.Timeout); the clinic's support can reprocess the message", "207", False)),
    ({"Error": "LabMessageError", "Cause": json.dumps({"errorType": "LabMessageError",
                                                       "errorMessage": "reject:no code here"})},
     ("no code here", "207", True)),
    ({"Error": "LabMessageError", "Cause": json.dumps({"errorType": "LabMessageError", "errorMessage": ""})},
     ("processing failed (LabMessageError); the clinic's support can reprocess the message", "207", False)),
])
def test_failure_reads_what_it_can_and_names_nothing_else(error: dict[str, Any],
                                                          expected: tuple[str, str, bool]) -> None:
    assert failure(error) == expected


def test_a_reconciled_message_once_filed_no_longer_carries_why_it_was_held() -> None:
    lab = Lab()
    stranger = PatientIdentity((PatientIdentifier("LAB-77"),), "Luna", ("Ana",), "1980-02-03", "female")
    ref = lab.receive("Z-1", potassium("4.3"), who=stranger)
    lab.steps.match(ref)
    lab.steps.acknowledge(ref, {"matched": False})
    assert isinstance(lab.intake.ledger, FakeLabLedger)
    lab.intake.ledger.update(LAB, "Z-1", status=MessageStatus.RECEIVED)  # what the desk's reprocess does

    matched = lab.steps.match(ref, patient_override=lab.patient_id)
    lab.steps.store_results(ref, matched["patient"], matched["order"])
    lab.steps.acknowledge(ref, matched)
    [resent] = lab.intake.receive(message_text("Z-1", potassium("4.3")))

    entry = lab.intake.ledger.get(LAB, "Z-1")
    assert entry is not None
    assert (entry.status, entry.ack_code) == (MessageStatus.PROCESSED, "AA")
    assert (entry.reason, entry.hl7_error) == ("", "")
    assert "no patient" not in ack_segments(lab, "Z-1")["MSA"][3]
    assert "no patient" not in commit_acks([resent], NOW)
