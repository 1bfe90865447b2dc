"""The clearinghouse inbox over the in-memory ledger and a dict clearinghouse: the fake
clearinghouse's 999, 277CA and 835 (devkit/clearinghouse_fake.py) to a real 837P matched,
recorded once, handed to the waiting workflow (its token cleared) or kept for it, and filed;
unmatched, unreadable and late answers quarantined with their reasons."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cairn.claims.inbound import MAX_FILE_BYTES, ClearinghouseInbox
from cairn.claims.ledger import InMemoryClaimsLedger
from cairn.claims.record import ClaimRecord, ClaimState
from cairn.claims.x12.claim_837p import write_837p
from devkit.clearinghouse_fake import answer_277ca, answer_835, answer_999
from tests.unit.claims.workflow_fakes import NOW, FakeClearinghouse, Resumes
from tests.unit.claims.x12.claims_factory import interchange, self_claim

FIRST, SECOND = "CRN-0001", "CRN-0002"  # CLM01s of the two claims of interchange 42


class Clinic:
    """One clinic's ledger holding two claims sent in interchange 42, its inbox and resumes."""

    def __init__(self, tenant_id: str = "acme", store: dict[Any, Any] | None = None) -> None:
        self.ledger = InMemoryClaimsLedger(tenant_id, {} if store is None else store)
        self.clearinghouse = FakeClearinghouse(tenant_id)
        self.resumes = Resumes()
        self.inbox = ClearinghouseInbox(self.ledger, self.clearinghouse, self.resumes, lambda: NOW)

    def send(self, status: ClaimState = ClaimState.SUBMITTED) -> str:
        """The two claims in the ledger as submitted in interchange 42; the 837P."""
        for number in (FIRST, SECOND):
            record = ClaimRecord(
                claim_id=f"claim-{number}",
                claim_number=number,
                status=status,
                payer_id="ACME1",
                payer_name="ACME HEALTH PLAN",
                charge_cents=12500,
                created="2026-11-23T14:05:00.000Z",
                control_number=number,
                interchange="42",
            )
            self.ledger.write(record, None)
            self.ledger.change(
                record.claim_id,
                lambda r: replace(r, submitted=r.created),
                control_number=number,
                interchange="42",
            )
        return write_837p(interchange(42), [self_claim(FIRST), self_claim(SECOND)]).text

    def wait(self, claim_id: str, what: str, token: str) -> None:
        self.ledger.change(claim_id, lambda r: replace(r, waiting={**r.waiting, what: token}))

    def receive(self, name: str, text: str | bytes) -> Any:
        return self.inbox.receive(self.clearinghouse.drop(name, text))

    def get(self, number: str) -> ClaimRecord:
        return self.ledger.get(f"claim-{number}")


@pytest.fixture
def clinic() -> Clinic:
    return Clinic()


# --- the 999 -------------------------------------------------------------------------------------


def test_an_accepted_999_accepts_every_claim_of_its_interchange(clinic: Clinic) -> None:
    outbound = clinic.send()

    received = clinic.receive("a.999", answer_999(outbound))

    assert received.kind == "999"
    assert sorted(received.matched) == [f"claim-{FIRST}", f"claim-{SECOND}"]
    assert received.reasons == []
    for number in (FIRST, SECOND):
        record = clinic.get(number)
        assert record.status is ClaimState.ACCEPTED
        assert record.received == {"999": "accepted"}
        assert record.events[-1].what == "999 A"
    assert clinic.clearinghouse.filed == [("tenants/acme/a.999", "processed", ())]
    assert clinic.clearinghouse.inbox == {}


def test_a_rejected_999_records_its_errors_and_leaves_the_state_for_the_workflow(clinic: Clinic) -> None:
    outbound = clinic.send()

    received = clinic.receive("r.999", answer_999(outbound, accept=False))

    assert received.reasons == []
    record = clinic.get(FIRST)
    assert record.status is ClaimState.SUBMITTED  # the workflow's Rejected999 step moves it on
    assert record.received == {"999": "rejected"}
    assert record.problems
    assert any("CLM" in problem for problem in record.problems), record.problems
    assert clinic.clearinghouse.filed[0][1] == "processed"


def test_a_999_for_an_interchange_this_clinic_never_sent_is_quarantined(clinic: Clinic) -> None:
    clinic.send()
    stray = write_837p(interchange(77), [self_claim("CRN-0077")]).text

    received = clinic.receive("stray.999", answer_999(stray))

    assert received.matched == []
    assert received.reasons == ["999 for group 77: this clinic sent no claims in that interchange"]
    assert clinic.clearinghouse.filed == [("tenants/acme/stray.999", "quarantine", tuple(received.reasons))]
    assert clinic.get(FIRST).status is ClaimState.SUBMITTED


def test_the_same_999_twice_is_recorded_once(clinic: Clinic) -> None:
    acknowledgement = answer_999(clinic.send())
    clinic.receive("a.999", acknowledgement)
    events = clinic.get(FIRST).events

    again = clinic.receive("again.999", acknowledgement)

    assert again.reasons == []
    assert clinic.get(FIRST).events == events


# --- the 277CA -----------------------------------------------------------------------------------


def test_an_accepted_277ca_acknowledges_the_claim_with_the_payers_claim_number(clinic: Clinic) -> None:
    outbound = clinic.send(ClaimState.ACCEPTED)

    received = clinic.receive("a.277", answer_277ca(outbound))

    assert received.kind == "277CA"
    assert received.reasons == []
    first, second = clinic.get(FIRST), clinic.get(SECOND)
    assert first.status is ClaimState.ACKNOWLEDGED
    assert first.received == {"277CA": "accepted"}
    assert (first.payer_claim_number, second.payer_claim_number) == ("0000000420001", "0000000420002")
    assert first.events[-1].what == "277CA A2:20"


def test_a_rejected_277ca_records_the_payers_reason_and_keeps_the_state(clinic: Clinic) -> None:
    outbound = clinic.send(ClaimState.ACCEPTED)

    clinic.receive("r.277", answer_277ca(outbound, rejected={FIRST: "SUBSCRIBER NOT FOUND"}))

    first = clinic.get(FIRST)
    assert first.status is ClaimState.ACCEPTED
    assert first.received == {"277CA": "rejected"}
    assert first.problems == ("277CA A7:21: SUBSCRIBER NOT FOUND",)
    assert first.payer_claim_number == ""
    assert clinic.get(SECOND).status is ClaimState.ACKNOWLEDGED


def test_a_277ca_claim_this_clinic_does_not_have_is_quarantined_and_the_rest_recorded(
    clinic: Clinic,
) -> None:
    outbound = clinic.send(ClaimState.ACCEPTED)
    answer = answer_277ca(outbound).replace(f"TRN*2*{SECOND}~", "TRN*2*NOSUCH-9~")

    received = clinic.receive("part.277", answer)

    assert received.matched == [f"claim-{FIRST}"]
    assert received.reasons == ["277CA for control number NOSUCH-9: no such claim here"]
    assert received.folder == "quarantine"
    assert clinic.get(FIRST).status is ClaimState.ACKNOWLEDGED
    assert clinic.get(SECOND).status is ClaimState.ACCEPTED


# --- the 835 -------------------------------------------------------------------------------------


def test_an_835_is_kept_pending_for_the_workflow_to_post(clinic: Clinic) -> None:
    outbound = clinic.send(ClaimState.ACKNOWLEDGED)

    received = clinic.receive("p.835", answer_835(outbound))

    assert received.kind == "835"
    assert received.reasons == []
    first = clinic.get(FIRST)
    [posted] = first.pending
    assert posted.trace_number == "EFT000000042"
    assert posted.payer_id == "ACME1"
    assert posted.payment.control_number == FIRST
    assert posted.payment.paid_cents == 80_00  # 80% of 125.00 allowed, less 20% coinsurance
    assert first.received == {"835": "EFT000000042"}
    assert first.status is ClaimState.ACKNOWLEDGED  # posting is the workflow's step
    assert first.paid_cents == 0


def test_a_replayed_835_is_pending_once_and_resumes_once(clinic: Clinic) -> None:
    remittance = answer_835(clinic.send(ClaimState.ACKNOWLEDGED))
    clinic.wait(f"claim-{FIRST}", "835", "token-835")
    clinic.receive("p.835", remittance)

    again = clinic.receive("again.835", remittance)

    assert again.reasons == []
    assert again.resumed == 0
    assert len(clinic.get(FIRST).pending) == 1
    assert clinic.resumes.calls == [("token-835", {"posted": "EFT000000042"})]


def test_an_835_for_a_control_number_this_clinic_does_not_have_is_quarantined(clinic: Clinic) -> None:
    outbound = clinic.send(ClaimState.ACKNOWLEDGED)
    stray = answer_835(outbound).replace(f"CLP*{SECOND}*", "CLP*NOSUCH-9*")

    received = clinic.receive("stray.835", stray)

    assert received.matched == [f"claim-{FIRST}"]
    assert received.reasons == ["835 EFT000000042 pays control number NOSUCH-9: no such claim here"]
    assert clinic.clearinghouse.filed[0][1:] == ("quarantine", tuple(received.reasons))
    assert clinic.get(SECOND).pending == ()


# --- answers in the wrong state ------------------------------------------------------------------


def test_an_answer_that_comes_while_the_claim_expects_none_is_quarantined_unrecorded(
    clinic: Clinic,
) -> None:
    outbound = clinic.send(ClaimState.VOIDED)
    before = clinic.get(FIRST)

    received = clinic.receive("late.835", answer_835(outbound))

    assert received.matched == []
    assert received.reasons == [
        f"835 for claim {number} came while the claim is voided: nothing was recorded; "
        "the file is kept here for the billing staff"
        for number in ("CRN-0001", "CRN-0002")
    ]
    assert received.folder == "quarantine"
    assert clinic.get(FIRST) == before


def test_a_999_that_contradicts_the_one_recorded_is_quarantined(clinic: Clinic) -> None:
    outbound = clinic.send()
    clinic.receive("a.999", answer_999(outbound))

    received = clinic.receive("r.999", answer_999(outbound, accept=False))

    assert received.folder == "quarantine"
    assert all("came while the claim is accepted" in reason for reason in received.reasons)
    assert clinic.get(FIRST).received == {"999": "accepted"}


# --- handing the answer to the workflow ----------------------------------------------------------


def test_a_waiting_workflow_is_resumed_with_its_token_and_the_token_cleared(clinic: Clinic) -> None:
    outbound = clinic.send()
    clinic.wait(f"claim-{FIRST}", "999", "token-first")

    received = clinic.receive("a.999", answer_999(outbound, accept=False))

    assert received.resumed == 1
    assert clinic.resumes.calls == [("token-first", {"accepted": False})]
    assert clinic.get(FIRST).waiting == {}
    assert clinic.get(SECOND).received == {"999": "rejected"}  # recorded, no workflow waits yet


def test_a_token_that_no_longer_waits_is_cleared_without_counting_a_resume(clinic: Clinic) -> None:
    clinic.resumes.waiting = False  # timed out meanwhile
    outbound = clinic.send(ClaimState.ACCEPTED)
    clinic.wait(f"claim-{FIRST}", "277CA", "token-gone")
    clinic.wait(f"claim-{FIRST}", "835", "token-later")

    received = clinic.receive("a.277", answer_277ca(outbound))

    assert received.resumed == 0
    assert clinic.resumes.calls == [("token-gone", {"accepted": True})]
    assert clinic.get(FIRST).waiting == {"835": "token-later"}


def test_an_answer_before_the_workflow_waits_is_recorded_and_nobody_resumed(clinic: Clinic) -> None:
    outbound = clinic.send()

    received = clinic.receive("early.999", answer_999(outbound))

    assert received.resumed == 0
    assert clinic.resumes.calls == []
    assert clinic.get(FIRST).received == {"999": "accepted"}


# --- files that are not answers ------------------------------------------------------------------


def test_a_file_already_handled_is_left_alone(clinic: Clinic) -> None:
    assert clinic.inbox.receive("tenants/acme/gone.999") is None
    assert clinic.clearinghouse.filed == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"this is not an X12 file", "ISA"),
        (write_837p(interchange(5), [self_claim()]).text.encode(), "837"),
        (b"\xff" * (MAX_FILE_BYTES + 1), f"the most read is {MAX_FILE_BYTES:,}"),
    ],
    ids=["not-x12", "an-837", "too-large"],
)
def test_a_file_that_is_no_answer_is_quarantined_with_one_reason(
    clinic: Clinic, body: bytes, reason: str
) -> None:
    received = clinic.receive("odd.txt", body)

    assert received.kind == "unknown"
    assert len(received.reasons) == 1
    assert reason in received.reasons[0]
    assert clinic.clearinghouse.folders[("quarantine", "odd.txt")] == body


def test_another_clinics_answer_matches_none_of_this_clinics_claims() -> None:
    store: dict[Any, Any] = {}
    acme, birch = Clinic("acme", store), Clinic("birch", store)
    outbound = acme.send()

    received = birch.receive("theirs.999", answer_999(outbound))

    assert received.folder == "quarantine"
    assert acme.get(FIRST).status is ClaimState.SUBMITTED
    assert acme.get(FIRST).received == {}


# --- answers to an earlier submission ------------------------------------------------------------


def resubmitted(clinic: Clinic, status: ClaimState) -> None:
    """The first claim sent again as attempt 2 (CLM01 CRN-0001-2, interchange 43), now `status`,
    its workflow waiting for the 277CA."""
    clinic.ledger.change(
        f"claim-{FIRST}",
        lambda r: replace(
            r,
            attempt=2,
            control_number=f"{FIRST}-2",
            interchange="43",
            status=status,
            received={"999": "accepted"} if status is ClaimState.ACCEPTED else {},
            waiting={"277CA" if status is ClaimState.ACCEPTED else "999": "token-attempt-2"},
        ),
        control_number=f"{FIRST}-2",
        interchange="43",
    )


def test_a_late_277ca_for_an_earlier_attempt_is_not_taken_as_the_latest_ones(clinic: Clinic) -> None:
    outbound = clinic.send()
    resubmitted(clinic, ClaimState.ACCEPTED)

    clinic.receive("late.277", answer_277ca(outbound, rejected={FIRST: "SUBSCRIBER NOT FOUND"}))

    record = clinic.get(FIRST)
    assert record.received == {"999": "accepted"}
    assert record.problems == ()
    assert clinic.resumes.calls == []


def test_a_late_999_for_an_earlier_attempts_file_is_not_taken_as_the_latest_ones(clinic: Clinic) -> None:
    outbound = clinic.send()
    resubmitted(clinic, ClaimState.SUBMITTED)

    clinic.receive("late.999", answer_999(outbound, accept=False))

    record = clinic.get(FIRST)
    assert record.received == {}
    assert record.status is ClaimState.SUBMITTED
    assert clinic.resumes.calls == []
