"""Labs over HTTP against a running `cairn dev`, with real tokens: the demo lab's results file
(seeded through the S3 inbox) is in the physician's inbox; a lab system posts a result for a demo
patient and gets its accept ACK; the physician signs it; only then does the patient's own login
see it through the FHIR API; the application ACK is in the lab's outbox."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
import requests

from cairn.labs.model import PatientIdentifier, PatientIdentity
from devkit.lab_demo import DEMO_LAB
from devkit.lab_messages import PANELS, Outcome, panel_results, result_message
from tests.e2e.cairn_dev import CairnDev

pytestmark = pytest.mark.e2e
CLINIC = "demo-clinic"
HL7 = {"Content-Type": "x-application/hl7-v2+er7"}


def _get(dev: CairnDev, path: str, role: str, **params: str) -> requests.Response:
    return requests.get(f"{dev.api_url}{path}", headers=dev.auth(CLINIC, role), params=params, timeout=60)


def _linked_patient(dev: CairnDev) -> dict[str, Any]:
    """The Patient the demo patient login is linked to, read as the physician."""
    claims = jwt.decode(dev.token(CLINIC, "patient"), options={"verify_signature": False})
    patient_id = claims["custom:patient_id"]
    answer = _get(dev, f"/fhir/R4/Patient/{patient_id}", "physician")
    assert answer.status_code == 200
    patient: dict[str, Any] = answer.json()
    return patient


def _wait_for_review(dev: CairnDev, control: str, timeout: float = 120) -> dict[str, Any]:
    """The inbox item of the report filed from message `control`, once the workflow filed it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = _get(dev, f"/labs/{DEMO_LAB}/messages", "admin").json()["messages"]
        entry = next((m for m in messages if m["controlId"] == control), None)
        if entry and entry["status"] == "processed":  # filed and flagged: its review is open
            inbox = _get(dev, "/lab-results/inbox", "physician", _count="200").json()["results"]
            report = next(r for r in entry["references"] if r.startswith("DiagnosticReport/"))
            return dict(next(item for item in inbox if item["report"] == report))
        time.sleep(0.5)
    raise AssertionError(f"message {control} was not filed within {timeout} s")


def test_the_seeded_demo_results_wait_in_the_physicians_inbox(cairn_dev: CairnDev) -> None:
    answer = _get(cairn_dev, "/lab-results/inbox", "physician")

    assert answer.status_code == 200
    items = answer.json()["results"]
    assert items, "cairn dev seeds lab results for the demo clinic"
    assert items[0]["priority"] == "stat"  # the critical panel comes first


def test_a_result_posted_by_the_lab_is_signed_then_seen_by_the_patient(cairn_dev: CairnDev) -> None:
    patient = _linked_patient(cairn_dev)
    name = patient["name"][0]
    who = PatientIdentity(
        identifiers=tuple(PatientIdentifier(str(i["value"])) for i in patient.get("identifier", [])[:2]),
        family=name["family"], given=tuple(name.get("given", [])), birth_date=patient["birthDate"],
        sex=patient.get("gender"))
    control = f"E2E-{int(time.time() * 1000)}"
    message = result_message(patient=who, control_id=control, placer=None, filler=f"F{control}",
                             tests=panel_results(PANELS["potassium"], seed=7, outcome=Outcome.ABNORMAL),
                             panel=PANELS["potassium"], collected=datetime.now(UTC).replace(microsecond=0))

    posted = requests.post(f"{cairn_dev.api_url}/labs/{DEMO_LAB}/hl7", data=message.encode(),
                           headers={**cairn_dev.auth(CLINIC, "lab_interface"), **HL7}, timeout=60)

    assert posted.status_code == 200, posted.text
    assert f"MSA|CA|{control}" in posted.text
    item = _wait_for_review(cairn_dev, control)
    report_id = item["report"].split("/")[1]
    hidden = requests.get(f"{cairn_dev.api_url}/fhir/R4/DiagnosticReport/{report_id}",
                          headers=cairn_dev.auth(CLINIC, "patient"), timeout=60)
    assert hidden.status_code == 404
    signed = requests.post(f"{cairn_dev.api_url}/lab-results/{report_id}/sign", json={"comment": "Seen"},
                           headers=cairn_dev.auth(CLINIC, "physician"), timeout=60)
    assert signed.status_code == 200, signed.text
    shown = requests.get(f"{cairn_dev.api_url}/fhir/R4/DiagnosticReport/{report_id}",
                         headers=cairn_dev.auth(CLINIC, "patient"), timeout=60)
    assert shown.status_code == 200
    assert shown.json()["subject"] == {"reference": f"Patient/{patient['id']}"}


def test_the_lab_system_account_reads_no_chart(cairn_dev: CairnDev) -> None:
    answer = _get(cairn_dev, "/fhir/R4/Patient", "lab_interface")

    assert answer.status_code == 403
