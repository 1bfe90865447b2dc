"""PHI never enters a log line of the reminders: every record the reminders function and API
logged (with all its attributes: message, extras, appended keys), and everything the emulator's
process printed, while visits were reminded by SMS, skipped, refused by the API and read from the
outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from cairn.aws import AwsClients
from devkit.clock import VirtualClock
from devkit.deployment import Deployment
from multitenant.context import Role, TenantContext
from tests.integration.function_logs import Records, logged_by
from tests.integration.reminders.support import ReminderClinic, local

FAMILY, EMAIL, PHONE = "Thorvaldsdottir", "sigrun.thorvaldsdottir@example.com", "+15555550142"
OTHER_FAMILY, OTHER_EMAIL = "Abernathy-Quill", "p.abernathy-quill@example.com"


@pytest.fixture
def log_records() -> Iterator[Records]:
    """What the functions' Powertools loggers (named after their services) log during the test."""
    with logged_by("reminders", "reminders-api") as kept:
        yield kept


@pytest.fixture(scope="module")
def clinic(clients: AwsClients, deployment: Deployment, clock: VirtualClock) -> ReminderClinic:
    return ReminderClinic("rem-logs", clients, deployment, clock).set_up()


def test_no_name_address_number_or_message_text_is_logged(
    clinic: ReminderClinic, log_records: Records, capfd: pytest.CaptureFixture[str]
) -> None:
    emailed = clinic.patient(FAMILY, email=EMAIL, sms=PHONE, preferred="sms")
    opted_out = clinic.patient(OTHER_FAMILY, email=OTHER_EMAIL, opt_out=("all",))
    start = local(clinic.clock.now() + timedelta(days=3), 14)  # 48 h and 2 h before: both in the day
    visits = [clinic.book(patient, clinic.practitioner(), start) for patient in (emailed, opted_out)]
    executions = [clinic.execution(visit) for visit in visits]
    for execution in executions:
        clinic.planned(execution)
    clinic.change(visits[1], "cancel", status="cancelled")
    for execution in executions:
        clinic.run_until(execution, start - timedelta(hours=48), sends=1)
        clinic.run_until(execution, start - timedelta(hours=2), sends=2)
    me = TenantContext(clinic.tenant_id, "user-x", Role.PATIENT, emailed)
    assert clinic.call("GET", "/reminders/outbox", me)[0] == 200
    assert clinic.call("PUT", "/reminders/preferences", me, body={"preferred": "fax"})[0] == 400
    assert (
        clinic.call("POST", "/reminders", me, body={"kind": "bill", "patient": f"Patient/{emailed}"})[0]
        == 403
    )

    captured = capfd.readouterr()
    logs = log_records.text() + captured.out + captured.err
    [message, *_] = clinic.outbox(emailed)
    assert "reminder handled" in logs  # the capture works: the function's log lines are in it
    leaked = [
        value
        for value in (FAMILY, EMAIL, PHONE, OTHER_FAMILY, OTHER_EMAIL, message["text"], message["text"][:40])
        if value in logs
    ]
    assert leaked == []
