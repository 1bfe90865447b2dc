"""Scheduling over HTTP against a running `cairn dev`, with real tokens: the demo clinic's
schedule offers free slots; many concurrent bookings of one slot give exactly one 201 and 409s
for the rest; the patient's own login books, sees and cancels a visit; the agenda lists it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import requests

from devkit.schedule_demo import DEMO_SCHEDULE
from tests.e2e.cairn_dev import CairnDev

pytestmark = pytest.mark.e2e
CLINIC = "demo-clinic"
VISIT_TYPES = "https://cairn.health/fhir/CodeSystem/visit-type"
CONTENDERS = 8


def _get(dev: CairnDev, path: str, role: str, **params: str) -> requests.Response:
    return requests.get(f"{dev.api_url}{path}", headers=dev.auth(CLINIC, role), params=params, timeout=60)


def _schedule(dev: CairnDev) -> str:
    bundle = _get(dev, "/fhir/R4/Schedule", "admin", identifier=f"{DEMO_SCHEDULE}|main").json()
    return str(bundle["entry"][0]["resource"]["id"])


def _free(
    dev: CairnDev, schedule: str, role: str, days_ahead: int, visit: str = "follow-up"
) -> list[dict[str, Any]]:
    day = (datetime.now(UTC) + timedelta(days=days_ahead)).date().isoformat()
    answer = _get(
        dev,
        "/fhir/R4/Slot",
        role,
        schedule=schedule,
        status="free",
        start=f"ge{day}",
        **{"appointment-type": visit},
    )
    assert answer.status_code == 200, answer.text
    return [entry["resource"] for entry in answer.json().get("entry", [])]


def _booking(slot: dict[str, Any], patient: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "slot": [{"reference": f"Slot/{slot['id']}"}],
        "appointmentType": {"coding": [{"system": VISIT_TYPES, "code": "follow-up"}]},
    }
    if patient:
        body["participant"] = [{"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}]
    return body


def _patient_id(dev: CairnDev) -> str:
    claims = jwt.decode(dev.token(CLINIC, "patient"), options={"verify_signature": False})
    return str(claims["custom:patient_id"])


def test_concurrent_bookings_of_one_slot_give_exactly_one_success(cairn_dev: CairnDev) -> None:
    schedule = _schedule(cairn_dev)
    slot = _free(cairn_dev, schedule, "admin", days_ahead=20)[0]
    patient = _patient_id(cairn_dev)
    headers = {**cairn_dev.auth(CLINIC, "admin"), "Content-Type": "application/fhir+json"}
    start = threading.Barrier(CONTENDERS)
    statuses: list[int] = []

    def contend() -> None:
        start.wait()
        answer = requests.post(
            f"{cairn_dev.api_url}/fhir/R4/Appointment",
            json=_booking(slot, patient),
            headers=headers,
            timeout=120,
        )
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=contend) for _ in range(CONTENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert sorted(statuses) == [201] + [409] * (CONTENDERS - 1)
    booked = _get(cairn_dev, "/fhir/R4/Appointment", "admin", slot=f"Slot/{slot['id']}").json()
    assert [e["resource"]["status"] for e in booked.get("entry", [])] == ["booked"]


def test_the_patient_books_sees_and_cancels_their_own_visit(cairn_dev: CairnDev) -> None:
    schedule = _schedule(cairn_dev)
    slot = _free(cairn_dev, schedule, "patient", days_ahead=25)[0]
    headers = {**cairn_dev.auth(CLINIC, "patient"), "Content-Type": "application/fhir+json"}
    answer = requests.post(
        f"{cairn_dev.api_url}/fhir/R4/Appointment", json=_booking(slot, None), headers=headers, timeout=60
    )
    assert answer.status_code == 201, answer.text
    visit = answer.json()
    mine = _get(cairn_dev, "/fhir/R4/Appointment", "patient", _id=visit["id"]).json()
    assert [e["resource"]["id"] for e in mine["entry"]] == [visit["id"]]
    day = slot["start"][:10]
    agenda = _get(cairn_dev, "/scheduling/agenda", "admin", date=day).json()
    assert visit["id"] in [v["appointment"] for v in agenda["visits"]]
    cancelled = requests.post(
        f"{cairn_dev.api_url}/fhir/R4/Appointment/{visit['id']}/$cancel", headers=headers, timeout=60
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert slot["id"] in [s["id"] for s in _free(cairn_dev, schedule, "patient", days_ahead=25)]


def test_another_clinic_cannot_book_this_clinics_schedule(cairn_dev: CairnDev) -> None:
    schedule = _schedule(cairn_dev)
    slot = _free(cairn_dev, schedule, "admin", days_ahead=30)[0]
    headers = {**cairn_dev.auth("second-clinic", "admin"), "Content-Type": "application/fhir+json"}
    answer = requests.post(
        f"{cairn_dev.api_url}/fhir/R4/Appointment",
        json=_booking(slot, _patient_id(cairn_dev)),
        headers=headers,
        timeout=60,
    )
    assert answer.status_code == 404, answer.text
    assert slot["id"] in [s["id"] for s in _free(cairn_dev, schedule, "admin", days_ahead=30)]


def test_the_demo_patient_has_visits_booked_by_the_seed(cairn_dev: CairnDev) -> None:
    booked = _get(cairn_dev, "/fhir/R4/Appointment", "patient", status="booked").json()
    kinds = {c["code"] for e in booked.get("entry", []) for c in e["resource"]["appointmentType"]["coding"]}
    assert {"follow-up", "annual-wellness"} <= kinds
    past = _get(cairn_dev, "/fhir/R4/Appointment", "patient", status="fulfilled").json()
    assert past.get("entry"), "the seed records a past visit"
    settings = _get(cairn_dev, "/scheduling/settings", "admin").json()
    assert settings["time_zone"] == "America/New_York"
