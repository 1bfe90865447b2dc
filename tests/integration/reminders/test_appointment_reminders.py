"""Appointment reminders through the embedded runtime: the real reminders.asl.json executed by
moto's Step Functions with the reminders function's real handler, DynamoDB, KMS and the outbox
in S3, on the virtual clock. Each test books visits relative to the clock's now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cairn.aws import AwsClients
from devkit.clock import VirtualClock
from devkit.deployment import Deployment
from tests.integration.reminders.support import ReminderClinic

NEW_YORK = ZoneInfo("America/New_York")


def local(day: datetime, hour: int, minute: int = 0) -> datetime:
    """`hour`:`minute` in New York on the local day of `day`, as a UTC instant."""
    return (
        datetime.combine(day.astimezone(NEW_YORK).date(), datetime.min.time(), NEW_YORK)
        .replace(hour=hour, minute=minute)
        .astimezone(UTC)
    )


@pytest.fixture(scope="module")
def acme(clients: AwsClients, deployment: Deployment, clock: VirtualClock) -> ReminderClinic:
    return ReminderClinic("rem-acme", clients, deployment, clock).set_up()


def test_a_booked_visit_is_reminded_48h_and_2h_before_by_email_and_recorded(acme: ReminderClinic) -> None:
    patient = acme.patient("Okafor", email="ada.okafor@example.com", preferred="email")
    visit_day = acme.clock.now() + timedelta(days=4)
    start = local(visit_day, 14)
    appointment = acme.book(patient, acme.practitioner(), start)
    execution = acme.execution(appointment)

    planned = acme.planned(execution)
    assert [p["label"] for p in planned] == ["48h", "2h"]
    acme.run_until(execution, start - timedelta(hours=48), sends=1)
    acme.run_until(execution, start - timedelta(hours=2), sends=2)

    assert acme.finished(execution)["status"] == "SUCCEEDED"
    messages = acme.outbox(patient)
    assert len(messages) == 2
    assert all(m["to"] == "ada.okafor@example.com" and m["channel"] == "email" for m in messages)
    assert "visit with" in messages[0]["text"]
    sent = [c for c in acme.communications(patient) if c["status"] == "completed"]
    assert len(sent) == 2
    assert all(c["about"] == [{"reference": f"Appointment/{appointment['id']}"}] for c in sent)
    assert {c["medium"][0]["coding"][0]["code"] for c in sent} == {"EMAILWRIT"}
