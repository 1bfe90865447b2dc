"""What the claims functions log while a claim is coded, scrubbed, sent, acknowledged, paid, and
while a broken file is quarantined: ids, steps, counts and outcomes, never the patient's name,
member id or birth date, nor a diagnosis or a service code of the claim."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from cairn.aws import AwsClients
from cairn.claims.record import ClaimState
from devkit.deployment import Deployment
from tests.integration.claims.support import ClaimsClinic
from tests.integration.function_logs import Records, logged_by

SERVICES = ("claims-api", "claims", "clearinghouse-inbox")
FAMILY = "Quillfeather"
MEMBER_ID = "ZQX987654321"


@pytest.fixture
def log_records() -> Iterator[Records]:
    """What the functions' Powertools loggers (named after their services) log during the test."""
    with logged_by(*SERVICES) as kept:
        yield kept


def test_a_claims_lifecycle_and_a_quarantined_file_log_no_phi(
    clients: AwsClients, deployment: Deployment, log_records: Records
) -> None:
    clinic = ClaimsClinic("claims-logs", clients, deployment)
    clinic.set_up()
    _, coverage, encounter = clinic.patient(FAMILY, member_id=MEMBER_ID)
    status, coded = clinic.code(
        encounter, coverage, diagnoses=["E11.65"], services=[{"code": "80053", "diagnoses": [1]}]
    )
    assert status == 201, coded
    claim_id = str(coded["claim_id"])
    clinic.wait_for(claim_id, ClaimState.SUBMITTED)
    for what, state in (
        ("999", ClaimState.ACCEPTED),
        ("277CA", ClaimState.ACKNOWLEDGED),
        ("835", ClaimState.PAID),
    ):
        clinic.wait_for_waiting(claim_id, what)
        clinic.answer(clinic.ledger().get(claim_id), what)
        clinic.wait_for(claim_id, state)
    clinic.drop("broken.835", f"ISA*{MEMBER_ID}*{FAMILY}")
    assert clinic.filed("broken.835")[0] == "quarantine"

    deadline = time.monotonic() + 30  # the inbox logs a file once it has filed it away
    while len(read := [r for r in log_records.records if r.getMessage() == "clearinghouse file read"]) < 4:
        assert time.monotonic() < deadline, "the inbox logs each file it read"
        time.sleep(0.1)
    assert all({"kind", "matched", "quarantined"} <= set(r.__dict__) for r in read)
    logged = log_records.text()
    for secret in (FAMILY, MEMBER_ID, "1970-04-01", "E11.65", "E1165", "80053"):
        assert secret not in logged
