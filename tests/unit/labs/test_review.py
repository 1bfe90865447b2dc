"""The clinician's side of a result: review and reconciliation Tasks and the critical notice
(each valid, stored through the record service), the inbox, and signing a review."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cairn.errors import AccessDenied, ImmutableResource, InvalidResource, ResourceNotFound
from cairn.labs.model import Severity
from cairn.labs.release import ReleasePolicy, is_released
from cairn.labs.review import (
    CRITICAL_NOTICE_TEXT,
    RECONCILE_LAB_RESULT,
    REVIEW_LAB_RESULT,
    REVIEW_TASK_SYSTEM,
    AlreadyReviewed,
    InboxItem,
    NotAwaitingReview,
    critical_notice,
    inbox,
    reconciliation_task,
    review_task,
    sign,
)
from cairn.notes import USER_SYSTEM
from multitenant.context import Role
from tests.unit.labs.test_release import Clinic

SIGNED_AT = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
AFTER_REVIEW = ReleasePolicy.parse("after_review")


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


def awaiting_review(
    clinic: Clinic,
    patient_id: str,
    *,
    severity: Severity = Severity.NORMAL,
    owner: str | None = None,
    authored_on: str = "2026-03-04T12:00:00Z",
    released: bool = False,
) -> tuple[str, str]:
    """(report id, task id) of a result stored with its review Task, as the workflow does."""
    report_id = clinic.report(patient_id, (4.1, 6.8), released=released)
    task = review_task(
        report_ref=f"DiagnosticReport/{report_id}", patient_id=patient_id, owner=owner, severity=severity,
        authored_on=authored_on, description="New lab result to review",
    )
    return report_id, str(clinic.system().create("Task", task).resource["id"])


# ---- what a result creates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "priority"),
    [(Severity.NORMAL, "routine"), (Severity.ABNORMAL, "urgent"), (Severity.CRITICAL, "stat")],
)
def test_a_review_task_is_a_valid_task_whose_priority_follows_the_severity(clinic, severity, priority):
    patient_id = clinic.patient()
    report_id = clinic.report(patient_id)
    doctor = clinic.practitioner()
    task = review_task(
        report_ref=f"DiagnosticReport/{report_id}", patient_id=patient_id, owner=doctor, severity=severity,
        authored_on="2026-03-04T12:00:00Z", description="New lab result to review",
    )

    stored = clinic.system().create("Task", task).resource

    assert (stored["status"], stored["intent"], stored["priority"]) == ("requested", "order", priority)
    assert stored["code"]["coding"][0] == {
        "system": REVIEW_TASK_SYSTEM, "code": REVIEW_LAB_RESULT, "display": "Review lab result"
    }
    assert stored["focus"] == {"reference": f"DiagnosticReport/{report_id}"}
    assert stored["for"] == {"reference": f"Patient/{patient_id}"}
    assert stored["owner"] == {"reference": doctor}
    assert stored["description"] == "New lab result to review"


def test_a_review_task_without_a_known_orderer_has_no_owner(clinic):
    patient_id = clinic.patient()
    task = review_task(
        report_ref=f"DiagnosticReport/{clinic.report(patient_id)}", patient_id=patient_id, owner=None,
        severity=Severity.NORMAL, authored_on="2026-03-04T12:00:00Z", description="New lab result",
    )
    assert "owner" not in clinic.system().create("Task", task).resource


def test_a_reconciliation_task_is_a_valid_urgent_task_for_no_patient_naming_the_message(clinic):
    task = reconciliation_task(
        message_ref="LabMessage/msg-1", lab_name="Quest", authored_on="2026-03-04T12:00:00Z",
        reason="no patient of the clinic has the identifier the lab sent",
    )

    stored = clinic.system().create("Task", task).resource

    assert (stored["status"], stored["priority"]) == ("requested", "urgent")
    assert stored["code"]["coding"][0]["code"] == RECONCILE_LAB_RESULT
    assert "for" not in stored
    assert stored["description"] == "no patient of the clinic has the identifier the lab sent"
    assert {"type": {"text": "Lab message"}, "valueString": "LabMessage/msg-1"} in stored["input"]
    assert {"type": {"text": "Lab"}, "valueString": "Quest"} in stored["input"]


def test_a_critical_notice_is_a_valid_stat_alert_about_the_report_without_values(clinic):
    patient_id = clinic.patient()
    report_id = clinic.report(patient_id, (6.8,))
    doctor = clinic.practitioner()
    notice = critical_notice(
        report_ref=f"DiagnosticReport/{report_id}", recipient=doctor, sent="2026-03-04T12:00:00Z",
    )

    stored = clinic.system().create("Communication", notice).resource

    assert "subject" not in stored  # not in the patient's compartment: no "critical" before review
    assert (stored["status"], stored["priority"]) == ("completed", "stat")
    assert stored["category"][0]["coding"][0]["code"] == "alert"
    assert stored["about"] == [{"reference": f"DiagnosticReport/{report_id}"}]
    assert stored["recipient"] == [{"reference": doctor}]
    assert stored["payload"] == [{"contentString": CRITICAL_NOTICE_TEXT}]
    assert "6.8" not in str(stored)


# ---- the inbox ----------------------------------------------------------------------------------


def test_the_inbox_lists_the_most_urgent_first_then_the_oldest(clinic):
    patient_id = clinic.patient()
    _, routine_old = awaiting_review(clinic, patient_id, authored_on="2026-03-01T09:00:00Z")
    _, stat = awaiting_review(clinic, patient_id, severity=Severity.CRITICAL,
                              authored_on="2026-03-04T09:00:00Z")
    _, urgent_new = awaiting_review(clinic, patient_id, severity=Severity.ABNORMAL,
                                    authored_on="2026-03-04T10:00:00Z")
    _, urgent_old = awaiting_review(clinic, patient_id, severity=Severity.ABNORMAL,
                                    authored_on="2026-03-02T10:00:00Z")

    items = inbox(clinic.service())

    assert [item.task_id for item in items] == [stat, urgent_old, urgent_new, routine_old]
    assert [item.priority for item in items] == ["stat", "urgent", "urgent", "routine"]


def test_an_inbox_item_names_the_report_and_patient_with_the_reports_code_status_and_issue_time(clinic):
    patient_id = clinic.patient()
    report_id, task_id = awaiting_review(clinic, patient_id)

    assert inbox(clinic.service()) == [InboxItem(
        task_id=task_id, report=f"DiagnosticReport/{report_id}", patient=f"Patient/{patient_id}",
        priority="routine", authored_on="2026-03-04T12:00:00Z", report_code="Basic metabolic panel",
        report_status="final", report_issued="2026-03-04T12:00:00Z",
    )]


def test_the_inbox_of_one_practitioner_keeps_only_theirs(clinic):
    patient_id = clinic.patient()
    okafor, stein = clinic.practitioner("Okafor"), clinic.practitioner("Stein")
    _, okafors = awaiting_review(clinic, patient_id, owner=okafor)
    awaiting_review(clinic, patient_id, owner=stein)
    awaiting_review(clinic, patient_id)

    assert [item.task_id for item in inbox(clinic.service(), owner=okafor)] == [okafors]
    assert len(inbox(clinic.service())) == 3


def test_the_inbox_leaves_out_signed_reviews_and_reconciliations_and_stops_at_count(clinic):
    patient_id = clinic.patient()
    signed_report, _ = awaiting_review(clinic, patient_id)
    _, first = awaiting_review(clinic, patient_id, authored_on="2026-03-01T09:00:00Z")
    awaiting_review(clinic, patient_id, authored_on="2026-03-02T09:00:00Z")
    clinic.system().create("Task", reconciliation_task(
        message_ref="LabMessage/m1", lab_name="Quest", reason="unmatched", authored_on="2026-03-01T00:00:00Z",
    ))
    sign(clinic.service(), report_id=signed_report, reviewer="user-1", comment=None, now=SIGNED_AT,
         policy=AFTER_REVIEW)

    assert len(inbox(clinic.service())) == 2
    assert [item.task_id for item in inbox(clinic.service(), count=1)] == [first]


def test_a_nurse_sees_the_inbox_and_a_patient_may_not(clinic):
    patient_id = clinic.patient()
    awaiting_review(clinic, patient_id)
    assert len(inbox(clinic.service(Role.NURSE))) == 1
    with pytest.raises(AccessDenied):
        inbox(clinic.service(Role.PATIENT, patient_id=patient_id))


def test_another_clinics_inbox_is_empty(clinic):
    awaiting_review(clinic, clinic.patient())
    assert inbox(clinic.service(tenant="globex")) == []


# ---- signing ------------------------------------------------------------------------------------


def test_signing_completes_the_review_task_with_the_reviewer_and_comment(clinic):
    patient_id = clinic.patient()
    doctor = clinic.practitioner()
    report_id, task_id = awaiting_review(clinic, patient_id, owner=doctor)
    physician = clinic.service()

    signed = sign(physician, report_id=report_id, reviewer=doctor, comment="Recheck potassium in a week",
                  now=SIGNED_AT, policy=AFTER_REVIEW)

    assert signed.report == f"DiagnosticReport/{report_id}"
    assert signed.tasks == (f"Task/{task_id}",)
    task = physician.read("Task", task_id)
    assert task["status"] == "completed"
    assert "end" in task["executionPeriod"]
    assert task["note"][0]["authorReference"] == {"reference": doctor}
    assert task["note"][0]["text"] == "Recheck potassium in a week"
    assert task["output"][0]["valueReference"] == {"reference": f"DiagnosticReport/{report_id}"}


def test_a_signer_known_only_as_a_cairn_user_is_the_notes_author(clinic):
    report_id, task_id = awaiting_review(clinic, clinic.patient())
    physician = clinic.service()
    sign(physician, report_id=report_id, reviewer="user-physician", comment=None, now=SIGNED_AT,
         policy=AFTER_REVIEW)
    note = physician.read("Task", task_id)["note"][0]
    assert note["authorReference"] == {"identifier": {"system": USER_SYSTEM, "value": "user-physician"}}
    assert note["text"] == "Reviewed and signed"


def test_signing_under_after_review_releases_the_results_to_the_patient(clinic):
    patient_id = clinic.patient()
    report_id, _ = awaiting_review(clinic, patient_id)
    patient = clinic.service(Role.PATIENT, patient_id=patient_id)
    with pytest.raises(ResourceNotFound):
        patient.read("DiagnosticReport", report_id)

    signed = sign(clinic.service(), report_id=report_id, reviewer="user-1", comment=None, now=SIGNED_AT,
                  policy=AFTER_REVIEW)

    assert len(signed.released) == 3  # two observations and the report
    report = patient.read("DiagnosticReport", report_id)
    for result in report["result"]:
        assert is_released(patient.read("Observation", result["reference"].split("/")[1]))


def test_signing_under_immediate_release_releases_nothing_more(clinic):
    patient_id = clinic.patient()
    report_id, _ = awaiting_review(clinic, patient_id, released=True)
    physician = clinic.service()

    signed = sign(physician, report_id=report_id, reviewer="user-1", comment=None, now=SIGNED_AT,
                  policy=ReleasePolicy.parse("immediate"))

    assert signed.released == ()
    assert physician.read("DiagnosticReport", report_id)["meta"]["versionId"] == "1"


def test_signing_under_a_delay_leaves_the_results_for_the_scheduled_release(clinic):
    patient_id = clinic.patient()
    report_id, _ = awaiting_review(clinic, patient_id)

    signed = sign(clinic.service(), report_id=report_id, reviewer="user-1", comment=None, now=SIGNED_AT,
                  policy=ReleasePolicy.parse("delay:72"))

    assert signed.released == ()
    with pytest.raises(ResourceNotFound):
        clinic.service(Role.PATIENT, patient_id=patient_id).read("DiagnosticReport", report_id)


def test_signing_a_report_twice_is_refused_as_already_reviewed(clinic):
    report_id, task_id = awaiting_review(clinic, clinic.patient())
    physician = clinic.service()
    sign(physician, report_id=report_id, reviewer="user-1", comment=None, now=SIGNED_AT, policy=AFTER_REVIEW)

    with pytest.raises(AlreadyReviewed) as refused:
        sign(physician, report_id=report_id, reviewer="user-2", comment="again", now=SIGNED_AT,
             policy=AFTER_REVIEW)

    assert isinstance(refused.value, ImmutableResource)  # answered 409 at the edge
    assert physician.read("Task", task_id)["meta"]["versionId"] == "2"


def test_signing_an_unknown_report_is_not_found(clinic):
    with pytest.raises(ResourceNotFound):
        sign(clinic.service(), report_id="no-such-report", reviewer="user-1", comment=None, now=SIGNED_AT,
             policy=AFTER_REVIEW)


def test_signing_a_report_that_awaits_no_review_is_refused(clinic):
    report_id = clinic.report(clinic.patient())
    with pytest.raises(NotAwaitingReview) as refused:
        sign(clinic.service(), report_id=report_id, reviewer="user-1", comment=None, now=SIGNED_AT,
             policy=AFTER_REVIEW)
    assert isinstance(refused.value, InvalidResource)


def test_a_nurse_cannot_release_results_and_nothing_is_signed_or_released(clinic):
    patient_id = clinic.patient()
    report_id, task_id = awaiting_review(clinic, patient_id)

    with pytest.raises(AccessDenied):
        sign(clinic.service(Role.NURSE), report_id=report_id, reviewer="user-nurse", comment=None,
             now=SIGNED_AT, policy=AFTER_REVIEW)

    physician = clinic.service()
    assert physician.read("Task", task_id)["status"] == "requested"
    for result in physician.read("DiagnosticReport", report_id)["result"]:
        assert not is_released(physician.read("Observation", result["reference"].split("/")[1]))


def test_another_clinic_cannot_sign_the_report(clinic):
    report_id, _ = awaiting_review(clinic, clinic.patient())
    with pytest.raises(ResourceNotFound):
        sign(clinic.service(tenant="globex"), report_id=report_id, reviewer="user-1", comment=None,
             now=SIGNED_AT, policy=AFTER_REVIEW)
