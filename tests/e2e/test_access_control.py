"""Access control over HTTP, against a running `cairn dev`: user administration, sign-out and
break-glass through the local API front and the real authorizer."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
import requests

from devkit.demo_data import demo_patient
from multitenant.permissions import CONFIDENTIALITY_SYSTEM
from tests.e2e.cairn_dev import CairnDev

pytestmark = pytest.mark.e2e

DEMO = "demo-clinic"
SECOND = "second-clinic"
REASON = "covering the ED tonight, patient unresponsive"


def test_an_admin_lists_exactly_their_clinics_users(cairn_dev: CairnDev) -> None:
    response = requests.get(f"{cairn_dev.api_url}/users", headers=cairn_dev.auth(DEMO, "admin"), timeout=30)

    assert response.status_code == 200
    emails = {user["email"] for user in response.json()["users"]}
    assert {f"physician@{DEMO}.example", f"nurse@{DEMO}.example"} <= emails
    assert not [email for email in emails if SECOND in email]


def test_an_invited_user_belongs_to_the_inviting_clinic_and_no_other_admin_can_touch_them(
    cairn_dev: CairnDev,
) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@{DEMO}.example"
    invited = requests.post(f"{cairn_dev.api_url}/users", headers=cairn_dev.auth(DEMO, "admin"),
                            json={"email": email, "role": "nurse", "tenant_id": SECOND}, timeout=30)
    assert invited.status_code == 201
    username = invited.json()["username"]

    other = requests.put(f"{cairn_dev.api_url}/users/{username}/role", json={"role": "admin"},
                         headers=cairn_dev.auth(SECOND, "admin"), timeout=30)
    assert other.status_code == 404
    listed = requests.get(f"{cairn_dev.api_url}/users", headers=cairn_dev.auth(DEMO, "admin"), timeout=30)
    (user,) = [u for u in listed.json()["users"] if u["username"] == username]
    assert user["role"] == "nurse"


def test_staff_other_than_admins_cannot_administer_users(cairn_dev: CairnDev) -> None:
    response = requests.post(f"{cairn_dev.api_url}/users", headers=cairn_dev.auth(DEMO, "physician"),
                             json={"email": "x@demo-clinic.example", "role": "admin"}, timeout=30)
    assert response.status_code == 403


def test_user_administration_needs_a_token(cairn_dev: CairnDev) -> None:
    assert requests.get(f"{cairn_dev.api_url}/users", timeout=30).status_code == 401


def test_sign_out_revokes_refresh_tokens_and_an_issued_id_token_lasts_its_short_lifetime(
    cairn_dev: CairnDev,
) -> None:
    signed_out = requests.post(f"{cairn_dev.api_url}/auth/sign-out", headers=cairn_dev.auth(SECOND, "nurse"),
                               timeout=30)
    assert signed_out.json() == {"signed_out": True}
    assert requests.get(f"{cairn_dev.api_url}/fhir/R4/Patient", headers=cairn_dev.auth(SECOND, "nurse"),
                        timeout=30).status_code == 200


def _restricted_patient(cairn_dev: CairnDev) -> dict[str, Any]:
    patient = demo_patient(random.Random(4242))
    patient["meta"] = {"security": [{"system": CONFIDENTIALITY_SYSTEM, "code": "R"}]}
    headers = {**cairn_dev.auth(DEMO, "admin"), "Content-Type": "application/fhir+json"}
    response = requests.post(f"{cairn_dev.api_url}/fhir/R4/Patient", json=patient, headers=headers,
                             timeout=30)
    assert response.status_code == 201
    return dict(response.json())


def test_a_physician_breaks_the_glass_and_the_admin_sees_it(cairn_dev: CairnDev) -> None:
    patient = _restricted_patient(cairn_dev)
    url = f"{cairn_dev.api_url}/fhir/R4/Patient/{patient['id']}"
    physician = cairn_dev.auth(DEMO, "physician")
    assert requests.get(url, headers=physician, timeout=30).status_code == 403

    opened = requests.post(
        f"{cairn_dev.api_url}/access/break-glass/{patient['id']}", timeout=30,
        headers={**physician, "Content-Type": "application/fhir+json"},
        json={"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": REASON}]})
    assert opened.status_code == 201
    assert requests.get(url, headers=physician, timeout=30).status_code == 200

    report = requests.get(f"{cairn_dev.api_url}/access/break-glass", headers=cairn_dev.auth(DEMO, "admin"),
                          timeout=30).json()
    reasons = [p["valueString"] for entry in report["entry"] for p in entry["resource"]["parameter"]
               if p["name"] == "reason"]
    assert REASON in reasons
    second = requests.get(f"{cairn_dev.api_url}/access/break-glass", headers=cairn_dev.auth(SECOND, "admin"),
                          timeout=30).json()
    assert second["total"] == 0
