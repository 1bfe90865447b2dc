"""Insurance claims over HTTP against a running `cairn dev`, with the demo clinic's billing user:
right after start-up the clinic's clearinghouse outbox holds the 837P files its demo claims made
(valid under pyx12); an 835 handed into its inbox posts a payment; another clinic finds none of
it; the patient reads their own claims as FHIR."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
import requests

from cairn.claims.x12.validation import validate_837p
from devkit.clearinghouse_fake import answer_835
from tests.e2e.cairn_dev import CairnDev
from tests.polling import eventually

pytestmark = pytest.mark.e2e
CLINIC = "demo-clinic"


def get(dev: CairnDev, path: str, tenant: str = CLINIC, role: str = "billing") -> requests.Response:
    return requests.get(f"{dev.api_url}{path}", headers=dev.auth(tenant, role), timeout=30)


def claims(dev: CairnDev, tenant: str = CLINIC) -> list[dict[str, Any]]:
    answer = get(dev, "/claims", tenant)
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()["claims"]
    return listed


def test_the_demo_clinics_outbox_holds_valid_837p_files_right_after_start_up(cairn_dev: CairnDev) -> None:
    listed = get(cairn_dev, "/claims/files/outbox")
    assert listed.status_code == 200, listed.text
    names = [f["name"] for f in listed.json()["files"] if f["name"].endswith(".837")]
    assert names
    for name in names:
        file = get(cairn_dev, f"/claims/files/outbox/{name}")
        assert file.status_code == 200
        content = file.json()["content"]
        assert content.startswith("ISA*")
        assert validate_837p(content) == ()
    statuses = {c["status"] for c in claims(cairn_dev)}
    assert "paid" in statuses  # the fake clearinghouse carried one all the way
    assert "acknowledged" in statuses  # and left one waiting for its 835


def test_an_835_handed_into_the_inbox_posts_the_payment(cairn_dev: CairnDev) -> None:
    waiting = next(c for c in claims(cairn_dev) if c["status"] == "acknowledged")
    outbound = get(cairn_dev, f"/claims/files/outbox/{waiting['outbox_key'].rsplit('/', 1)[-1]}").json()[
        "content"
    ]
    handed = requests.post(
        f"{cairn_dev.api_url}/claims/inbox",
        headers=cairn_dev.auth(CLINIC, "billing"),
        json={"name": f"{waiting['control_number']}.835.txt", "content": answer_835(outbound)},
        timeout=30,
    )
    assert handed.status_code == 202, handed.text

    def paid() -> dict[str, Any] | None:
        shown = get(cairn_dev, f"/claims/{waiting['claim_id']}").json()
        return shown if shown["status"] == "paid" else None

    shown = eventually(paid, "the 835 to be posted")
    assert 0 < shown["paid"] < shown["charge"]
    assert shown["patient_responsibility"] > 0
    assert shown["invoice_id"]
    report = get(cairn_dev, "/claims/reports").json()
    assert report["payments_by_payer"]


def test_another_clinic_finds_none_of_the_demo_clinics_claims(cairn_dev: CairnDev) -> None:
    theirs = claims(cairn_dev)[0]
    assert get(cairn_dev, f"/claims/{theirs['claim_id']}", "second-clinic").status_code == 404
    assert theirs["claim_id"] not in {c["claim_id"] for c in claims(cairn_dev, "second-clinic")}
    outbox = get(cairn_dev, "/claims/files/outbox", "second-clinic").json()["files"]
    assert not any(theirs["control_number"] in f["name"] for f in outbox)
    # Billing staff may read Claims: another clinic's is simply not there for them.
    assert get(cairn_dev, f"/fhir/R4/Claim/{theirs['claim_id']}", "second-clinic").status_code == 404


def test_the_patient_reads_their_own_claims_as_fhir_and_not_the_ledger(cairn_dev: CairnDev) -> None:
    assert get(cairn_dev, "/claims", role="patient").status_code == 403
    token = cairn_dev.token(CLINIC, "patient")
    patient = jwt.decode(token, options={"verify_signature": False})["custom:patient_id"]
    bundle = get(cairn_dev, "/fhir/R4/Claim", role="patient")
    assert bundle.status_code == 200, bundle.text
    entries = bundle.json().get("entry", [])
    assert entries  # the demo's first claim is this patient's (devkit/claims_demo.py)
    assert {e["resource"]["patient"]["reference"] for e in entries} == {f"Patient/{patient}"}
    everyone = {c["claim_id"] for c in claims(cairn_dev)}
    assert {e["resource"]["id"] for e in entries} < everyone  # not the other patients' claims
