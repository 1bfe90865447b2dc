"""The clinician's side of a lab result: the review Task it creates, the alert a critical result
sends, the inbox of results awaiting review, and signing one off.

Every result Cairn stores gets a review Task (FHIR Task, code review-lab-result) focused on its
DiagnosticReport and owned by the ordering practitioner when known; its priority follows the
result's severity so the inbox shows critical results first. A result no patient could be matched
to gets a reconciliation Task instead, naming the stored lab message. Signing completes the
review Task and, under the clinic's after_review policy, releases the results to the patient.
None of these resources carries a result value: they point at the report.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cairn.clock import fhir_instant
from cairn.errors import ImmutableResource, InvalidResource, PreconditionFailed, VersionConflict
from cairn.fhir.outcome import issue
from cairn.fhir.references import relative_target
from cairn.fhir.search import timeline_start
from cairn.labs.matching import search_every_page
from cairn.labs.model import Severity
from cairn.labs.release import DIAGNOSTIC_REPORT, ReleasePolicy, release_results
from cairn.labs.trend import concept_text
from cairn.notes import USER_SYSTEM
from cairn.records.service import RecordService

TASK = "Task"
COMMUNICATION = "Communication"
REVIEW_TASK_SYSTEM = "https://cairn.health/fhir/CodeSystem/task-code"
REVIEW_LAB_RESULT = "review-lab-result"
RECONCILE_LAB_RESULT = "reconcile-lab-result"
REVIEW_TOKEN = f"{REVIEW_TASK_SYSTEM}|{REVIEW_LAB_RESULT}"
TASK_DISPLAY = {REVIEW_LAB_RESULT: "Review lab result", RECONCILE_LAB_RESULT: "Reconcile lab result"}
COMMUNICATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/communication-category"
ALERT: Mapping[str, Any] = {
    "coding": [{"system": COMMUNICATION_CATEGORY_SYSTEM, "code": "alert", "display": "Alert"}]
}
CRITICAL_NOTICE_TEXT = "Critical lab result awaiting review"
PRIORITY_OF_SEVERITY: Mapping[Severity, str] = {
    Severity.NORMAL: "routine",
    Severity.ABNORMAL: "urgent",
    Severity.CRITICAL: "stat",
}
# Most urgent first; "asap" (FHIR's fourth request priority) sits between stat and urgent.
PRIORITY_RANK: Mapping[str, int] = {"stat": 0, "asap": 1, "urgent": 2, "routine": 3}
OPEN_STATUSES = ("requested", "in-progress")
COMPLETED = "completed"
PRACTITIONER_TYPES = ("Practitioner", "PractitionerRole")
SIGNED_WITHOUT_COMMENT = "Reviewed and signed"


class AlreadyReviewed(ImmutableResource):
    """The report's review was signed already (HTTP 409): a signature is not repeated."""

    def __init__(self, report_id: str) -> None:
        super().__init__(
            f"{DIAGNOSTIC_REPORT}/{report_id} was already reviewed and signed; "
            "add a comment to the review Task or amend the report instead"
        )


class NotAwaitingReview(InvalidResource):
    """The report has no review Task: it did not come from a lab through Cairn (HTTP 422)."""

    def __init__(self, report_id: str) -> None:
        super().__init__([issue(
            "business-rule",
            f"{DIAGNOSTIC_REPORT}/{report_id} has no review Task: only results received from a lab "
            "are signed here",
            DIAGNOSTIC_REPORT,
        )])


# --- what a result creates -----------------------------------------------------------------------

def task_code(code: str) -> dict[str, Any]:
    return {"coding": [{"system": REVIEW_TASK_SYSTEM, "code": code, "display": TASK_DISPLAY[code]}]}


def review_task(
    *,
    report_ref: str,
    patient_id: str,
    owner: str | None,
    severity: Severity,
    authored_on: str,
    description: str,
) -> dict[str, Any]:
    """The Task asking a clinician to review a stored result; `owner` is the ordering
    Practitioner's reference when the order or the lab named one (else the clinic's pool)."""
    task: dict[str, Any] = {
        "resourceType": TASK,
        "status": "requested",
        "intent": "order",
        "priority": PRIORITY_OF_SEVERITY[severity],
        "code": task_code(REVIEW_LAB_RESULT),
        "description": description,
        "focus": {"reference": report_ref},
        "for": {"reference": f"Patient/{patient_id}"},
        "authoredOn": authored_on,
    }
    if owner:
        task["owner"] = {"reference": owner}
    return task


def reconciliation_task(*, message_ref: str, lab_name: str, reason: str, authored_on: str) -> dict[str, Any]:
    """The Task asking staff to match a result to a patient by hand; `reason` (no PHI) says why
    Cairn could not, and the input names the stored lab message to open."""
    return {
        "resourceType": TASK,
        "status": "requested",
        "intent": "order",
        "priority": "urgent",
        "code": task_code(RECONCILE_LAB_RESULT),
        "description": reason,
        "authoredOn": authored_on,
        "input": [
            {"type": {"text": "Lab message"}, "valueString": message_ref},
            {"type": {"text": "Lab"}, "valueString": lab_name},
        ],
    }


def critical_notice(*, report_ref: str, recipient: str | None, sent: str) -> dict[str, Any]:
    """The alert a critical result sends its ordering Practitioner; it says a result waits, never
    what it is. It has no subject: it is not in the patient's compartment, so the patient never
    reads "critical result" before a clinician has reviewed it (the report is named in `about`)."""
    notice: dict[str, Any] = {
        "resourceType": COMMUNICATION,
        "status": "completed",
        "category": [copy.deepcopy(dict(ALERT))],
        "priority": "stat",
        "about": [{"reference": report_ref}],
        "sent": sent,
        "payload": [{"contentString": CRITICAL_NOTICE_TEXT}],
    }
    if recipient:
        notice["recipient"] = [{"reference": recipient}]
    return notice


# --- the inbox -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class InboxItem:
    """One result awaiting review, as the clinician's inbox lists it (no values)."""

    task_id: str
    report: str | None
    patient: str | None
    priority: str
    authored_on: str | None
    report_code: str | None
    report_status: str | None
    report_issued: str | None


def inbox(records: RecordService, *, owner: str | None = None, count: int = 50) -> list[InboxItem]:
    """Results awaiting review, most urgent first (stat, urgent, routine), oldest first within a
    priority; `owner` ("Practitioner/<id>") keeps one clinician's."""
    params: dict[str, list[str]] = {
        "code": [REVIEW_TOKEN],
        "status": [",".join(OPEN_STATUSES)],
    }
    if owner:
        params["owner"] = [owner]
    tasks = sorted(search_every_page(records, TASK, params), key=_urgency)[: max(count, 0)]
    reports = _reports(records, [_reference(task.get("focus")) for task in tasks])
    return [_item(task, reports) for task in tasks]


def _urgency(task: Mapping[str, Any]) -> tuple[int, str]:
    rank = PRIORITY_RANK.get(str(task.get("priority", "routine")), len(PRIORITY_RANK))
    return rank, timeline_start(TASK, task) or ""  # authoredOn in UTC, whatever its offset


def _reports(records: RecordService, references: Sequence[str | None]) -> dict[str, dict[str, Any]]:
    """The reports the tasks focus on, read in one search rather than one read per task."""
    targets = {relative_target(ref) for ref in references if ref}
    ids = sorted(t[1] for t in targets if t is not None and t[0] == DIAGNOSTIC_REPORT)
    if not ids:
        return {}
    found = search_every_page(records, DIAGNOSTIC_REPORT, {"_id": [",".join(ids)]})
    return {f"{DIAGNOSTIC_REPORT}/{report['id']}": report for report in found}


def _item(task: Mapping[str, Any], reports: Mapping[str, Mapping[str, Any]]) -> InboxItem:
    report_ref = _reference(task.get("focus"))
    report = reports.get(report_ref or "", {})
    return InboxItem(
        task_id=str(task["id"]),
        report=report_ref,
        patient=_reference(task.get("for")),
        priority=str(task.get("priority", "routine")),
        authored_on=task.get("authoredOn"),
        report_code=concept_text(report.get("code") or {}),
        report_status=report.get("status"),
        report_issued=report.get("issued"),
    )


def _reference(element: object) -> str | None:
    reference = element.get("reference") if isinstance(element, Mapping) else None
    return reference if isinstance(reference, str) else None


# --- signing -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignedReview:
    """What a signature did: the review Tasks it completed and the results it released."""

    report: str
    tasks: tuple[str, ...]
    released: tuple[str, ...]


def sign(
    records: RecordService,
    *,
    report_id: str,
    reviewer: str,
    comment: str | None,
    now: datetime,
    policy: ReleasePolicy,
) -> SignedReview:
    """Sign off a report's review: complete its open review Task(s), the reviewer and comment in
    a note, and, under the after_review policy, release the results to the patient. `reviewer` is
    the signer's "Practitioner/<id>" (or "PractitionerRole/<id>"), else their Cairn user id.
    The report itself is left unchanged but for the release tag."""
    records.read(DIAGNOSTIC_REPORT, report_id)  # ResourceNotFound for a report the caller cannot see
    report_ref = f"{DIAGNOSTIC_REPORT}/{report_id}"
    tasks = search_every_page(
        records, TASK, {"focus": [report_ref], "code": [REVIEW_TOKEN]}
    )
    open_tasks = [task for task in tasks if task.get("status") in OPEN_STATUSES]
    if not open_tasks:
        if any(task.get("status") == COMPLETED for task in tasks):
            raise AlreadyReviewed(report_id)
        raise NotAwaitingReview(report_id)
    # Release before completing: a failure in between leaves the review open to sign again,
    # never a signed review whose results were not released.
    released = release_results(records, report_id) if policy.releases_on_review else []
    completed = tuple(_complete(records, task, report_id, reviewer, comment, now) for task in open_tasks)
    return SignedReview(report_ref, completed, tuple(released))


def _complete(
    records: RecordService,
    task: Mapping[str, Any],
    report_id: str,
    reviewer: str,
    comment: str | None,
    now: datetime,
) -> str:
    signed_at = fhir_instant(now)
    done = copy.deepcopy(dict(task))
    done["status"] = COMPLETED
    done["executionPeriod"] = {**(task.get("executionPeriod") or {}), "end": signed_at}
    done["lastModified"] = signed_at
    done["note"] = [
        *(task.get("note") or ()),
        {**_author(reviewer), "time": signed_at, "text": comment or SIGNED_WITHOUT_COMMENT},
    ]
    done["output"] = [
        *(task.get("output") or ()),
        {
            "type": {"text": "Reviewed lab result"},
            "valueReference": {"reference": f"{DIAGNOSTIC_REPORT}/{report_id}"},
        },
    ]
    task_id = str(task["id"])
    try:
        records.update(TASK, task_id, done, if_match=f'W/"{task["meta"]["versionId"]}"')
    except (PreconditionFailed, VersionConflict):
        if records.read(TASK, task_id).get("status") == COMPLETED:
            raise AlreadyReviewed(report_id) from None  # another clinician signed meanwhile
        raise
    return f"{TASK}/{task_id}"


def _author(reviewer: str) -> dict[str, Any]:
    target = relative_target(reviewer)
    if target is not None and target[0] in PRACTITIONER_TYPES:
        return {"authorReference": {"reference": reviewer}}
    return {"authorReference": {"identifier": {"system": USER_SYSTEM, "value": reviewer}}}
