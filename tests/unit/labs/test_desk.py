"""The lab desk over fakes, as each caller uses it: who may post, list and reprocess messages,
which messages start the workflow, what the audit trail keeps (ids, never patient detail), and
the checks on what callers send before the record service sees it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.errors import AccessDenied, MalformedRequest, ResourceNotFound
from cairn.labs.desk import LabDesk, MessageNotReprocessable
from cairn.labs.directory import LabNotFound, lab_organization
from cairn.labs.intake import Intake
from cairn.labs.ledger import MessageStatus
from cairn.labs.model import PatientIdentifier, PatientIdentity
from cairn.labs.release import ReleasePolicy
from cairn.labs.workflow import LabWorkflow
from devkit.lab_messages import PANELS, batch_file, panel_results, result_message
from multitenant.context import Role
from multitenant.permissions import LAB_MESSAGE
from tests.unit.fakes import FakeAuditTrail
from tests.unit.labs.lab_fakes import NOW, FakeLabLedger, FakeLabOutbox, FakeRawMessages, FakeStepFunctions
from tests.unit.labs.test_release import Clinic

LAB = "acme-lab"
FAMILY = "Zabriskie"
PATIENT = PatientIdentity((PatientIdentifier("MRN-31", "ACME", "MR"),), FAMILY, ("Odile",), "1961-07-14",
                          "female")


def message(control: str) -> str:
    return result_message(patient=PATIENT, control_id=control, placer=None, filler=f"F-{control}",
                          tests=panel_results(PANELS["potassium"], seed=3), collected=NOW)


@dataclass
class Desk:
    """A clinic with one lab, its ledger, raw store and outbox, and Step Functions, all fakes;
    `as_role` gives the desk one caller sees."""

    clinic: Clinic
    ledger: FakeLabLedger
    raw: FakeRawMessages
    outbox: FakeLabOutbox
    stepfunctions: FakeStepFunctions

    @classmethod
    def open(cls) -> Desk:
        clinic = Clinic()
        system = clinic.system()
        system.create("Organization", lab_organization(LAB, "Acme Lab"))
        return cls(clinic, FakeLabLedger(system.context), FakeRawMessages(system.context),
                   FakeLabOutbox(system.context), FakeStepFunctions())

    def as_role(self, role: Role) -> LabDesk:
        records = self.clinic.service(role)
        return LabDesk(
            records=records, directory=self.clinic.system(),
            audit=FakeAuditTrail(records.context, self.clinic.events),
            intake_for=lambda lab_id: Intake(lab_id, self.ledger, self.raw, self.outbox, now=lambda: NOW),
            ledger=self.ledger, workflow=LabWorkflow(self.stepfunctions, "arn:aws:states:lab-ingestion"),
            policy=lambda: ReleasePolicy.parse("after_review"), now=lambda: NOW, clinic_name="Fairview")

    def lab_events(self) -> list[AuditEvent]:
        return [event for _, event in self.clinic.events if event.entity_type == LAB_MESSAGE]

    def hold(self, control: str, status: MessageStatus) -> None:
        self.as_role(Role.LAB_INTERFACE).receive(LAB, message(control).encode())
        self.ledger.update(LAB, control, status=status)


@pytest.mark.parametrize("role", [Role.LAB_INTERFACE, Role.ADMIN])
def test_a_lab_interface_or_an_admin_posts_messages_and_one_workflow_starts_for_them(role: Role) -> None:
    desk = Desk.open()

    answer = desk.as_role(role).receive(LAB, batch_file([message("M-1"), message("M-2")]).encode())

    assert [r.entry.status for r in answer.received] == [MessageStatus.RECEIVED, MessageStatus.RECEIVED]
    assert [s.split("|")[1] for s in answer.acks.split("\r") if s.startswith("MSA|")] == ["CA", "CA"]
    [started] = desk.stepfunctions.started.values()
    assert started == {"tenant_id": "acme", "lab": LAB, "inbox": None,
                       "messages": [{"control_key": "M-1", "patient": None},
                                    {"control_key": "M-2", "patient": None}]}
    assert [(e.action, e.outcome, e.entity_id, e.detail) for e in desk.lab_events()] == [
        (AuditAction.CREATE, AuditOutcome.SUCCESS, f"{LAB}/M-1", None),
        (AuditAction.CREATE, AuditOutcome.SUCCESS, f"{LAB}/M-2", None)]


def test_a_nurse_cannot_post_messages_and_the_denial_is_audited() -> None:
    desk = Desk.open()

    with pytest.raises(AccessDenied):
        desk.as_role(Role.NURSE).receive(LAB, message("N-1").encode())

    assert desk.raw.stored == {}
    assert desk.stepfunctions.started == {}
    [denied] = desk.lab_events()
    assert (denied.outcome, denied.entity_id, denied.detail) == (AuditOutcome.MINOR_FAILURE, LAB, "denied")


def test_messages_for_a_lab_the_clinic_does_not_have_are_not_stored() -> None:
    desk = Desk.open()

    with pytest.raises(LabNotFound):
        desk.as_role(Role.LAB_INTERFACE).receive("other-lab", message("X-1").encode())

    assert (desk.raw.stored, desk.ledger.items, desk.stepfunctions.started) == ({}, {}, {})


def test_only_new_messages_start_the_workflow_and_refusals_and_duplicates_are_audited_as_such() -> None:
    desk = Desk.open()
    lab = desk.as_role(Role.LAB_INTERFACE)
    lab.receive(LAB, message("D-1").encode())
    desk.ledger.update(LAB, "D-1", status=MessageStatus.PROCESSED, ack_code="AA")
    not_a_result = message("O-1").replace("ORU^R01^ORU_R01", "ORM^O01", 1)

    lab.receive(LAB, batch_file([message("D-1"), not_a_result, message("N-2")]).encode())

    assert [started["messages"] for started in desk.stepfunctions.started.values()] == [
        [{"control_key": "D-1", "patient": None}], [{"control_key": "N-2", "patient": None}]]
    assert [(e.outcome, e.entity_id, e.detail) for e in desk.lab_events()][1:] == [
        (AuditOutcome.SUCCESS, f"{LAB}/D-1", "duplicate"),
        (AuditOutcome.MINOR_FAILURE, f"{LAB}/O-1", None),
        (AuditOutcome.SUCCESS, f"{LAB}/N-2", None)]


def test_the_audit_trail_of_the_desk_holds_no_patient_detail() -> None:
    desk = Desk.open()
    desk.as_role(Role.LAB_INTERFACE).receive(LAB, message("P-1").encode())
    desk.as_role(Role.ADMIN).messages(LAB, None)

    written = repr(desk.lab_events())

    for detail in (FAMILY, "Odile", "MRN-31", "19610714", "1961-07-14"):
        assert detail not in written


def test_messages_are_listed_by_status_for_staff_and_the_search_is_audited() -> None:
    desk = Desk.open()
    desk.hold("Q-1", MessageStatus.QUARANTINED)
    desk.hold("R-1", MessageStatus.RECEIVED)

    held = desk.as_role(Role.NURSE).messages(LAB, "quarantined")
    every = desk.as_role(Role.ADMIN).messages(LAB, None)

    assert [m.control_key for m in held] == ["Q-1"]
    assert [m.control_key for m in every] == ["Q-1", "R-1"]
    assert [e.detail for e in desk.lab_events() if e.action is AuditAction.EXECUTE] == [
        "status=quarantined", "status=any"]


def test_an_unknown_status_is_refused_naming_the_statuses_and_a_lab_interface_cannot_list() -> None:
    desk = Desk.open()

    with pytest.raises(MalformedRequest, match="awaiting-reconciliation"):
        desk.as_role(Role.ADMIN).messages(LAB, "lost")
    with pytest.raises(AccessDenied):
        desk.as_role(Role.LAB_INTERFACE).messages(LAB, None)


@pytest.mark.parametrize("status", [MessageStatus.QUARANTINED, MessageStatus.AWAITING_RECONCILIATION,
                                    MessageStatus.RECEIVED])
def test_a_held_message_is_reprocessed_through_a_new_workflow(status: MessageStatus) -> None:
    desk = Desk.open()
    desk.hold("H-1", status)
    before = len(desk.stepfunctions.started)

    answer = desk.as_role(Role.PHYSICIAN).reprocess(LAB, "H-1", {})

    assert answer["message"]["status"] == "received"
    assert answer["execution"] is not None
    assert desk.ledger.items[(LAB, "H-1")].status is MessageStatus.RECEIVED
    assert len(desk.stepfunctions.started) == before + 1
    assert list(desk.stepfunctions.started.values())[-1]["messages"] == [
        {"control_key": "H-1", "patient": None}]


def test_reconciling_names_the_patient_for_the_workflow() -> None:
    desk = Desk.open()
    patient_id = desk.clinic.patient(FAMILY, "1961-07-14", "MRN-31")
    desk.hold("H-2", MessageStatus.AWAITING_RECONCILIATION)

    desk.as_role(Role.ADMIN).reprocess(LAB, "H-2", {"patient": f"Patient/{patient_id}"})

    assert list(desk.stepfunctions.started.values())[-1]["messages"] == [
        {"control_key": "H-2", "patient": patient_id}]


@pytest.mark.parametrize("status", [MessageStatus.PROCESSED, MessageStatus.RECEIVING])
def test_a_processed_or_arriving_message_is_not_reprocessed(status: MessageStatus) -> None:
    desk = Desk.open()
    desk.hold("F-1", status)
    started = dict(desk.stepfunctions.started)

    with pytest.raises(MessageNotReprocessable, match=status.value):
        desk.as_role(Role.ADMIN).reprocess(LAB, "F-1", {})

    assert desk.ledger.items[(LAB, "F-1")].status is status
    assert desk.stepfunctions.started == started


@pytest.mark.parametrize(("patient", "error"), [
    (42, MalformedRequest), ("Practitioner/p-1", MalformedRequest), ("p-1", MalformedRequest),
    ("Patient/no-such-patient", ResourceNotFound)])
def test_a_reconciliation_must_name_a_patient_of_the_clinic(patient: object, error: type[Exception]) -> None:
    desk = Desk.open()
    desk.hold("H-3", MessageStatus.AWAITING_RECONCILIATION)
    started = dict(desk.stepfunctions.started)

    with pytest.raises(error):
        desk.as_role(Role.ADMIN).reprocess(LAB, "H-3", {"patient": patient})

    assert desk.ledger.items[(LAB, "H-3")].status is MessageStatus.AWAITING_RECONCILIATION
    assert desk.stepfunctions.started == started


def test_another_clinics_patient_cannot_be_named() -> None:
    desk = Desk.open()
    theirs = desk.clinic.system("beta").create("Patient", {"resourceType": "Patient",
                                                           "name": [{"family": "Beta"}]}).resource["id"]
    desk.hold("H-4", MessageStatus.AWAITING_RECONCILIATION)

    with pytest.raises(ResourceNotFound):
        desk.as_role(Role.ADMIN).reprocess(LAB, "H-4", {"patient": f"Patient/{theirs}"})


def test_an_unknown_message_and_a_nurse_cannot_reprocess() -> None:
    desk = Desk.open()
    desk.hold("H-5", MessageStatus.QUARANTINED)

    with pytest.raises(ResourceNotFound):
        desk.as_role(Role.ADMIN).reprocess(LAB, "nope", {})
    with pytest.raises(AccessDenied):
        desk.as_role(Role.NURSE).reprocess(LAB, "H-5", {})
    assert desk.ledger.items[(LAB, "H-5")].status is MessageStatus.QUARANTINED


@pytest.mark.parametrize(("comment", "says"), [(7, "text"), (["a"], "text"), ("x" * 4001, "4000")])
def test_a_sign_off_comment_is_text_of_at_most_4000_characters(comment: object, says: str) -> None:
    with pytest.raises(MalformedRequest, match=says):
        Desk.open().as_role(Role.PHYSICIAN).sign("any-report", comment)


@pytest.mark.parametrize(("patient", "code"), [(None, "http://loinc.org|2823-3"), ("Patient/p-1", None),
                                               ("", "")])
def test_a_trend_names_the_patient_and_the_test(patient: str | None, code: str | None) -> None:
    with pytest.raises(MalformedRequest, match=r"\?patient="):
        Desk.open().as_role(Role.PHYSICIAN).trend(patient, code)


@pytest.mark.parametrize("service_request", [None, 12, "Patient/p-1", {"reference": "ServiceRequest/s"}])
def test_an_order_names_a_service_request(service_request: object) -> None:
    with pytest.raises(MalformedRequest, match="serviceRequest"):
        Desk.open().as_role(Role.PHYSICIAN).order(LAB, service_request)

