"""Billing over HTTP against a running `cairn dev` and its fake Stripe, with real tokens (and a
minted billing clerk's, signed with the emulator's own Cognito key, since no demo user bills):
a clinic signs up through Checkout and is onboarded with its seats; a visit is billed at the
clinic's fee schedule, read and printed by its patient, paid through Checkout on the clinic's
connected account, and partly refunded; another clinic finds none of it."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import jwt
import pytest
import requests

from devkit.deployment import Deployment
from tests.e2e.cairn_dev import CairnDev
from tests.e2e.test_isolation_matrix import _moto_private_jwk
from tests.polling import eventually

pytestmark = pytest.mark.e2e
CLINIC = "demo-clinic"


def billing_token(dev: CairnDev) -> str:
    """A billing clerk of the demo clinic: the physician's verified claims with the billing role."""
    claims = jwt.decode(dev.token(CLINIC, "physician"), options={"verify_signature": False})
    now = int(time.time())
    claims.update(
        {
            "custom:role": "billing",
            "sub": "minted-billing",
            "cognito:username": "minted-billing",
            "iat": now,
            "exp": now + 900,
        }
    )
    return jwt.encode(
        claims, jwt.PyJWK(json.loads(_moto_private_jwk())).key, algorithm="RS256", headers={"kid": "dummy"}
    )


def call(dev: CairnDev, method: str, path: str, token: str | None, body: Any = None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(
        method,
        f"{dev.api_url}{path}",
        headers=headers,
        timeout=60,
        data=json.dumps(body) if body is not None else None,
    )


def fake(deployment: Deployment, path: str) -> Any:
    response = requests.request(
        "GET" if path == "/events" else "POST", f"{deployment.stripe_url}/_fake{path}", timeout=120
    )
    assert response.ok, response.text
    return response.json()


def test_a_clinic_signs_up_through_checkout_and_is_onboarded_with_its_tier_and_seats(
    cairn_dev: CairnDev,
) -> None:
    deployment = Deployment.read(cairn_dev.state_dir)
    refused = call(
        cairn_dev,
        "POST",
        "/billing/signup",
        None,
        {
            "tenant_id": "willow",
            "name": "Willow",
            "tier": "starter",
            "seats": 9,
            "admin_email": "not-an-email",
        },
    )
    assert refused.status_code == 400
    assert "seats must be a whole number from 1 to 5" in refused.json()["message"]
    assert "admin_email" in refused.json()["message"]

    started = call(
        cairn_dev,
        "POST",
        "/billing/signup",
        None,
        {
            "tenant_id": "willow",
            "name": "Willow Family Practice",
            "tier": "practice",
            "seats": 4,
            "admin_email": "admin@willow.example",
        },
    )
    assert started.status_code == 201, started.text
    assert requests.get(started.json()["url"], timeout=30).ok  # the fake's checkout page
    deliveries = fake(deployment, f"/checkout/sessions/{started.json()['session']}/complete")
    assert deliveries[0]["statuses"][-1] == 200

    tenants = boto3.client(
        "dynamodb",
        endpoint_url=deployment.endpoint_url,
        region_name=deployment.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def tenant() -> dict[str, Any] | None:
        item = tenants.get_item(TableName=deployment.tables["tenants"], Key={"tenant_id": {"S": "willow"}})
        return item.get("Item")

    eventually(lambda: (t := tenant()) and t["status"]["S"] == "active", "willow onboarded")
    for delivery in deliveries[1:]:  # met the clinic while it was still being onboarded: Stripe retries
        if delivery["statuses"][-1] != 200:
            assert fake(deployment, f"/events/{delivery['event']}/redeliver")["statuses"][-1] == 200
    onboarded = tenant()
    assert onboarded is not None
    assert (onboarded["tier"]["S"], onboarded["seats"]["N"]) == ("practice", "4")


def test_a_visit_is_billed_printed_paid_and_refunded_and_another_clinic_sees_none_of_it(
    cairn_dev: CairnDev,
) -> None:
    deployment = Deployment.read(cairn_dev.state_dir)
    admin, physician, patient = (cairn_dev.token(CLINIC, role) for role in ("admin", "physician", "patient"))
    clerk = billing_token(cairn_dev)
    patient_id = jwt.decode(patient, options={"verify_signature": False})["custom:patient_id"]
    encounter = call(
        cairn_dev,
        "POST",
        "/fhir/R4/Encounter",
        physician,
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [{"text": "Follow-up visit"}],
            "subject": {"reference": f"Patient/{patient_id}"},
            "period": {"start": "2026-11-30T10:00:00Z", "end": "2026-11-30T10:20:00Z"},
        },
    )
    assert encounter.status_code == 201, encounter.text
    fees = {
        "fees": [
            {"code": "99213", "display": "Office visit, established patient", "amount": 120.0},
            {"code": "36415", "display": "Venipuncture", "amount": 15.5},
        ]
    }
    assert call(cairn_dev, "PUT", "/billing/fee-schedule", admin, fees).status_code == 200
    assert call(cairn_dev, "PUT", "/billing/fee-schedule", physician, fees).status_code == 403

    billed = call(
        cairn_dev,
        "POST",
        "/billing/invoices",
        clerk,
        {
            "encounter": f"Encounter/{encounter.json()['id']}",
            "charges": [{"code": "99213"}, {"code": "36415"}],
        },
    )
    assert billed.status_code == 201, billed.text
    invoice = billed.json()
    assert (invoice["status"], invoice["amount_due"], invoice["visit_type"]) == (
        "due",
        135.5,
        "Follow-up visit",
    )

    mine = call(cairn_dev, "GET", "/billing/invoices", patient).json()["invoices"]
    assert invoice["invoice_id"] in [i["invoice_id"] for i in mine]  # with the demo claim's share, if any
    assert {i["patient"] for i in mine} == {f"Patient/{patient_id}"}
    pdf = requests.get(
        f"{cairn_dev.api_url}/billing/invoices/{invoice['invoice_id']}/pdf",
        timeout=60,
        headers={"Authorization": f"Bearer {patient}", "Accept": "application/pdf"},
    )
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-1.4")
    other = cairn_dev.token("second-clinic", "physician")
    assert call(cairn_dev, "GET", f"/billing/invoices/{invoice['invoice_id']}", other).status_code in (
        403,
        404,
    )

    assert call(cairn_dev, "POST", "/billing/connect", admin).status_code == 200
    session = call(cairn_dev, "POST", f"/billing/invoices/{invoice['invoice_id']}/checkout", patient)
    assert session.status_code == 201, session.text
    deliveries = fake(deployment, f"/checkout/sessions/{session.json()['session']}/complete")
    assert [d["statuses"][-1] for d in deliveries] == [200, 200]
    paid = call(cairn_dev, "GET", f"/billing/invoices/{invoice['invoice_id']}", patient).json()
    assert (paid["status"], paid["amount_due"], len(paid["payments"])) == ("paid", 0, 1)
    assert paid["payments"][0]["receipt"].startswith("R-")

    refund = call(
        cairn_dev,
        "POST",
        f"/billing/invoices/{invoice['invoice_id']}/refund",
        clerk,
        {"payment": paid["payments"][0]["stripe_id"], "amount": 15.5},
    )
    assert refund.status_code == 202, refund.text
    refunded = eventually(
        lambda: (
            (shown := call(cairn_dev, "GET", f"/billing/invoices/{invoice['invoice_id']}", clerk).json())[
                "refunds"
            ]
            and shown
        ),
        "the refund posted",
    )
    assert (refunded["status"], refunded["amount_due"]) == ("due", 15.5)
