"""The reminders API in the embedded runtime: the reminders-api function invoked as API Gateway
invokes it (verified claims in the authorizer context), the reminders machine it starts, the
reminders function sending at the virtual clock's time, and the outbox read back through the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cairn.aws import AwsClients
from devkit.clock import VirtualClock
from devkit.deployment import Deployment
from multitenant.context import Role, TenantContext
from tests.integration.reminders.support import ReminderClinic

ADMIN = TenantContext("rem-api", "admin-1", Role.ADMIN)
DESK = TenantContext("rem-api", "desk-1", Role.FRONT_DESK)
PHYSICIAN = TenantContext("rem-api", "doc-1", Role.PHYSICIAN)
BILLING = TenantContext("rem-api", "bill-1", Role.BILLING)
NEW_YORK = ZoneInfo("America/New_York")


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def clinic(clients: AwsClients, deployment: Deployment, clock: VirtualClock) -> ReminderClinic:
    return ReminderClinic("rem-api", clients, deployment, clock).set_up()


@pytest.fixture(scope="module")
def other(clients: AwsClients, deployment: Deployment, clock: VirtualClock) -> ReminderClinic:
    return ReminderClinic("rem-api-other", clients, deployment, clock).set_up()


def prescription(clinic: ReminderClinic, patient_id: str, **extra: Any) -> str:
    created = clinic.system().create(
        "MedicationRequest",
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "metformin 500 mg"},
            "subject": {"reference": f"Patient/{patient_id}"},
            "authoredOn": clinic.clock.now().strftime("%Y-%m-%d"),
            **extra,
        },
    )
    return str(created.resource["id"])


def me(patient_id: str, tenant: str = "rem-api") -> TenantContext:
    return TenantContext(tenant, f"user-{patient_id}", Role.PATIENT, patient_id)


def test_a_patients_dose_reminder_is_sent_at_the_dose_and_they_read_it_in_the_outbox(
    clinic: ReminderClinic,
) -> None:
    patient = clinic.patient("Reyes", email="jun.reyes@example.com")
    tomorrow = (clinic.clock.now() + timedelta(days=1)).astimezone(NEW_YORK).date()
    body = {
        "kind": "medication-dose",
        "medicationRequest": f"MedicationRequest/{prescription(clinic, patient)}",
        "timesOfDay": ["09:00"],
        "startDate": tomorrow.isoformat(),
        "days": 1,
    }

    status, reminder = clinic.call("POST", "/reminders", me(patient), body=body)
    again, same = clinic.call("POST", "/reminders", me(patient), body=body)

    assert (status, again, same["id"]) == (201, 200, reminder["id"])
    execution = clinic.workflow.execution_arn(
        clinic.system().read("Task", reminder["id"])["identifier"][0]["value"]
    )
    [planned] = clinic.planned(execution)
    assert planned["send_at"] == reminder["firstReminder"]
    clinic.run_until(execution, instant(reminder["firstReminder"]), sends=1)
    assert clinic.finished(execution)["status"] == "SUCCEEDED"

    status, outbox = clinic.call("GET", "/reminders/outbox", me(patient))
    assert status == 200
    [message] = outbox["messages"]
    assert (message["kind"], message["to"]) == ("medication-dose", "jun.reyes@example.com")
    assert message["text"] == "Reminder from rem-api: it is time for your 09:00 medication."
    assert "metformin" not in str(message)
    _, listed = clinic.call("GET", "/reminders", me(patient))
    assert [(r["id"], r["status"]) for r in listed["reminders"]] == [(reminder["id"], "completed")]
    [record] = [c for c in clinic.communications(patient) if c["status"] == "completed"]
    assert record["basedOn"] == [{"reference": f"Task/{reminder['id']}"}]
    _, everyone = clinic.call("GET", "/reminders/outbox", ADMIN)
    assert message in everyone["messages"]


def test_a_cancelled_reminder_sends_nothing_more(clinic: ReminderClinic) -> None:
    patient = clinic.patient("Kowalski", sms="+15555550177")
    start = (clinic.clock.now() + timedelta(days=2)).astimezone(NEW_YORK).date()
    _, reminder = clinic.call(
        "POST",
        "/reminders",
        me(patient),
        body={
            "kind": "medication-dose",
            "medicationRequest": f"MedicationRequest/{prescription(clinic, patient)}",
            "timesOfDay": ["10:00", "18:00"],
            "startDate": start.isoformat(),
            "days": 2,
        },
    )

    status, cancelled = clinic.call(
        "DELETE",
        f"/reminders/{reminder['id']}",
        me(patient),
        resource="/reminders/{reminder}",
        path_parameters={"reminder": reminder["id"]},
    )
    execution = clinic.workflow.execution_arn(
        clinic.system().read("Task", reminder["id"])["identifier"][0]["value"]
    )

    assert (status, cancelled["status"]) == (200, "cancelled")
    assert clinic.finished(execution)["status"] == "ABORTED"
    clinic.clock.advance_to(instant(reminder["lastReminder"]) + timedelta(minutes=1))
    assert clinic.outbox(patient) == []


def test_staff_set_refill_bill_recall_and_coverage_reminders_as_their_roles_allow(
    clinic: ReminderClinic,
) -> None:
    patient = clinic.patient("Byrne", email="c.byrne@example.com")
    today = clinic.clock.now().astimezone(NEW_YORK).date()
    refill = prescription(
        clinic,
        patient,
        dispenseRequest={
            "validityPeriod": {"start": today.isoformat()},
            "expectedSupplyDuration": {
                "value": 30,
                "unit": "days",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        },
    )
    coverage = (
        clinic.system()
        .create(
            "Coverage",
            {
                "resourceType": "Coverage",
                "status": "active",
                "beneficiary": {"reference": f"Patient/{patient}"},
                "payor": [{"reference": f"Patient/{patient}"}],
                "period": {"start": today.isoformat(), "end": (today + timedelta(days=60)).isoformat()},
            },
        )
        .resource["id"]
    )

    asked = [
        (PHYSICIAN, {"kind": "refill-due", "medicationRequest": f"MedicationRequest/{refill}"}),
        (
            BILLING,
            {
                "kind": "bill",
                "patient": f"Patient/{patient}",
                "invoice": "INV-2026-0042",
                "dueDate": (today + timedelta(days=10)).isoformat(),
            },
        ),
        (
            DESK,
            {
                "kind": "recall",
                "patient": f"Patient/{patient}",
                "recall": "annual-wellness-visit",
                "lastVisitDate": (today - timedelta(days=300)).isoformat(),
            },
        ),
        (DESK, {"kind": "coverage-expiry", "coverage": f"Coverage/{coverage}"}),
    ]
    answers = [clinic.call("POST", "/reminders", who, body=body) for who, body in asked]

    assert [(status, reminder["kind"]) for status, reminder in answers] == [
        (201, "refill-due"),
        (201, "bill"),
        (201, "recall"),
        (201, "coverage-expiry"),
    ]
    _, listed = clinic.call("GET", "/reminders", DESK, query={"patient": patient})
    assert sorted(r["kind"] for r in listed["reminders"]) == [
        "bill",
        "coverage-expiry",
        "recall",
        "refill-due",
    ]


@pytest.mark.parametrize(
    ("who", "body", "status", "error"),
    [
        (DESK, {"kind": "birthday"}, 400, "invalid"),
        (DESK, [1, 2], 400, "invalid"),
        (
            DESK,
            {"kind": "bill", "invoice": "INV-1", "dueDate": "2030-01-01", "patient": "Patient/p1"},
            403,
            "forbidden",
        ),
        (
            BILLING,
            {"kind": "bill", "invoice": "INV-1", "dueDate": "2030-01-01", "patient": "Patient/none"},
            404,
            "not-found",
        ),
    ],
)
def test_requests_that_cannot_be_met_answer_what_to_fix(
    clinic: ReminderClinic, who: TenantContext, body: Any, status: int, error: str
) -> None:
    answered, answer = clinic.call("POST", "/reminders", who, body=body)

    assert (answered, answer["error"]) == (status, error)
    assert answer["message"]


def test_a_dose_time_in_quiet_hours_is_refused_with_422(clinic: ReminderClinic) -> None:
    patient = clinic.patient("Amani", email="g.amani@example.com")
    status, answer = clinic.call(
        "POST",
        "/reminders",
        me(patient),
        body={
            "kind": "medication-dose",
            "medicationRequest": f"MedicationRequest/{prescription(clinic, patient)}",
            "timesOfDay": ["23:30"],
            "startDate": "2030-01-01",
            "days": 1,
        },
    )

    assert (status, answer["error"]) == (422, "not-possible")
    assert "quiet hours (21:00-08:00)" in answer["message"]


def test_a_patient_sets_and_reads_their_preferences_and_the_front_desk_reads_them_too(
    clinic: ReminderClinic,
) -> None:
    patient = clinic.patient("Osei", email="k.osei@example.com", sms="+15555550188")

    status, saved = clinic.call(
        "PUT", "/reminders/preferences", me(patient), body={"preferred": "sms", "optedOut": ["email"]}
    )
    _, read = clinic.call("GET", "/reminders/preferences", DESK, query={"patient": patient})
    refused, answer = clinic.call(
        "PUT", "/reminders/preferences", PHYSICIAN, query={"patient": patient}, body={"optedOutAll": True}
    )

    assert status == 200
    assert (
        read
        == saved
        == {
            "patient": f"Patient/{patient}",
            "preferred": "sms",
            "channels": {"email": True, "sms": True},
            "optedOut": ["email"],
            "optedOutAll": False,
        }
    )
    assert (refused, answer["error"]) == (403, "forbidden")


def test_another_clinic_reaches_none_of_this_clinics_reminders(
    clinic: ReminderClinic, other: ReminderClinic
) -> None:
    patient = clinic.patient("Moreau", email="l.moreau@example.com")
    _, reminder = clinic.call(
        "POST",
        "/reminders",
        BILLING,
        body={"kind": "bill", "patient": f"Patient/{patient}", "invoice": "INV-9", "dueDate": "2030-01-01"},
    )
    stranger = TenantContext(other.tenant_id, "admin-9", Role.ADMIN)

    answers = [
        clinic.call("GET", "/reminders", stranger, query={"patient": patient}),
        clinic.call(
            "DELETE",
            f"/reminders/{reminder['id']}",
            stranger,
            resource="/reminders/{reminder}",
            path_parameters={"reminder": reminder["id"]},
        ),
        clinic.call("GET", "/reminders/preferences", stranger, query={"patient": patient}),
        clinic.call("GET", "/reminders/outbox", stranger, query={"patient": patient}),
        clinic.call("GET", "/reminders/outbox", me(patient, other.tenant_id)),
    ]

    assert [status for status, _ in answers] == [404] * 5
    task = clinic.system().read("Task", reminder["id"])
    assert task["status"] == "requested"
    assert clinic.status(clinic.workflow.execution_arn(task["identifier"][0]["value"])) == "RUNNING"
