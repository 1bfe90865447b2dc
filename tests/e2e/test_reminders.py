"""Reminders over HTTP against a running `cairn dev`, with real tokens: the demo patient's booked
visits have their reminder workflows waiting; a patient sets their channels; staff set a recall
and cancel it; the patient reads their own outbox; `cairn clock` shows the virtual clock. The
clock is not advanced here: the other e2e tests read the audit trail by today's date."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jwt
import pytest
import requests

from tests.e2e.cairn_dev import CairnDev, cairn_command

pytestmark = pytest.mark.e2e
CLINIC = "demo-clinic"
NEW_YORK = ZoneInfo("America/New_York")  # the demo clinic's zone (devkit/schedule_demo.py)


def _call(
    dev: CairnDev, method: str, path: str, role: str, body: Any = None, **params: str
) -> requests.Response:
    return requests.request(
        method, f"{dev.api_url}{path}", headers=dev.auth(CLINIC, role), json=body, params=params, timeout=60
    )


def _patient_id(dev: CairnDev) -> str:
    return str(
        jwt.decode(dev.token(CLINIC, "patient"), options={"verify_signature": False})["custom:patient_id"]
    )


def test_the_demo_patient_sets_their_channels_and_reads_their_outbox(cairn_dev: CairnDev) -> None:
    before = _call(cairn_dev, "GET", "/reminders/preferences", "patient")
    assert before.status_code == 200
    channel = "email" if before.json()["channels"]["email"] else None

    saved = _call(
        cairn_dev, "PUT", "/reminders/preferences", "patient", {"preferred": channel, "optedOut": []}
    )
    outbox = _call(cairn_dev, "GET", "/reminders/outbox", "patient")

    assert saved.status_code == 200, saved.text
    assert saved.json()["preferred"] == channel
    assert outbox.status_code == 200
    assert all(m["patient"] == f"Patient/{_patient_id(cairn_dev)}" for m in outbox.json()["messages"])


def test_staff_set_a_recall_for_the_demo_patient_list_it_and_cancel_it(cairn_dev: CairnDev) -> None:
    patient = _patient_id(cairn_dev)
    today = date.today()
    months = today.year * 12 + today.month - 1
    last_visit = date((months - 10) // 12, (months - 10) % 12 + 1, 1)  # a year after: due in two months
    due = date(last_visit.year + 1, last_visit.month, 1)
    reminded = datetime.combine(due - timedelta(days=14), time(10), NEW_YORK).astimezone(UTC)
    body = {
        "kind": "recall",
        "patient": f"Patient/{patient}",
        "recall": "annual-wellness-visit",
        "lastVisitDate": last_visit.isoformat(),
    }

    created = _call(cairn_dev, "POST", "/reminders", "nurse", body)
    listed = _call(cairn_dev, "GET", "/reminders", "physician", patient=patient)
    cancelled = _call(cairn_dev, "DELETE", f"/reminders/{created.json()['id']}", "nurse")
    mine = _call(cairn_dev, "GET", "/reminders", "patient")

    assert created.status_code in (200, 201), created.text
    assert created.json()["firstReminder"] == reminded.strftime("%Y-%m-%dT%H:%M:%SZ")  # 10:00 local
    assert created.json()["id"] in [r["id"] for r in listed.json()["reminders"]]
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert created.json()["id"] in [r["id"] for r in mine.json()["reminders"]]


def test_the_physician_may_not_read_the_outbox(cairn_dev: CairnDev) -> None:
    answer = _call(cairn_dev, "GET", "/reminders/outbox", "physician")

    assert (answer.status_code, answer.json()["error"]) == (403, "forbidden")


def test_cairn_clock_shows_the_virtual_clock_of_the_running_stack(cairn_dev: CairnDev) -> None:
    shown = subprocess.run(
        [*cairn_command(), "clock", "--state-dir", str(cairn_dev.state_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert shown.returncode == 0, shown.stderr
    assert "(real time + " in shown.stdout
