"""The claims workflow's steps over the real RecordService on FakeRecords (validation, write
guards, audit), the in-memory ledger and a dict clearinghouse, with the fake clearinghouse's
answers read by the real inbox: build, scrub, generate, submit, wait, the Tasks of what goes
wrong, posting a remittance and a void."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.claims.inbound import ClearinghouseInbox
from cairn.claims.record import ClaimState
from cairn.claims.steps import OVERDUE_REMINDERS, ClaimSteps, control_number, file_name
from cairn.claims.tasks import TASK_SYSTEM
from cairn.claims.x12.validation import validate_837p
from cairn.errors import CairnError, ResourceNotFound
from cairn.note_records import NoteRecords
from cairn.notes import sign_note
from devkit.clearinghouse_fake import answer_277ca, answer_835, answer_999
from multitenant.context import Role
from tests.unit.claims.conftest import MEMBER_ID
from tests.unit.claims.workflow_fakes import (
    CHARGE_CENTS,
    OTHER_TENANT,
    SETTINGS,
    ClaimsClinic,
    Resumes,
)
from tests.unit.fakes import current_resources

NOT_SIGNED = "encounter: its note is not signed yet; a claim bills a signed encounter"
NO_MEMBER_ID = "coverage.member_id: the subscriber's member id is missing (Coverage.subscriberId)"


@pytest.fixture
def clinic() -> ClaimsClinic:
    clinic = ClaimsClinic()
    clinic.seed()
    return clinic


@pytest.fixture
def resumes() -> Resumes:
    return Resumes()


@pytest.fixture
def steps(clinic: ClaimsClinic, resumes: Resumes) -> ClaimSteps:
    return clinic.steps(resumes)


@pytest.fixture
def claim_id(clinic: ClaimsClinic) -> str:
    return clinic.coded()


def resources(clinic: ClaimsClinic, resource_type: str) -> list[dict[str, Any]]:
    return [
        resource
        for (tenant, kind, _), resource in current_resources(clinic.store).items()
        if (tenant, kind) == ("acme", resource_type) and resource is not None
    ]


def submitted(steps: ClaimSteps, claim_id: str, attempt: int = 1) -> None:
    steps.build(claim_id, attempt, "submit")
    assert steps.scrub(claim_id) == {"passed": True}
    assert steps.generate(claim_id)["valid"] is True
    steps.submit(claim_id)


def answered(clinic: ClaimsClinic, resumes: Resumes, claim_id: str, **answer_835_options: Any) -> None:
    """The fake clearinghouse's 999, 277CA and 835 to the claim's 837P, through the real inbox."""
    inbox = ClearinghouseInbox(clinic.ledger(), clinic.clearinghouse(), resumes, clinic.clock)
    outbound = clinic.clearinghouse().outbound(clinic.ledger().get(claim_id))
    for name, text in (
        ("a.999", answer_999(outbound)),
        ("a.277", answer_277ca(outbound)),
        ("a.835", answer_835(outbound, **answer_835_options)),
    ):
        assert inbox.receive(clinic.clearinghouse().drop(name, text)).reasons == []  # type: ignore[union-attr]


def task_of(clinic: ClaimsClinic, claim_id: str) -> dict[str, Any]:
    return clinic.records().read("Task", clinic.ledger().get(claim_id).task_id)


def reasons(task: dict[str, Any]) -> list[str]:
    return [i["valueString"] for i in task["input"]]


def kind(task: dict[str, Any]) -> str:
    return str(task["code"]["coding"][0]["code"])


# --- build ---------------------------------------------------------------------------------------


def test_build_numbers_the_attempt_as_an_original(
    steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str
) -> None:
    built = steps.build(claim_id, 1, "submit")

    record = clinic.ledger().get(claim_id)
    assert built == {"control_number": f"{record.claim_number}-1", "frequency": "1"}
    assert (record.attempt, record.control_number, record.frequency) == (1, built["control_number"], "1")
    assert record.events[-1].what == "attempt 1"


def test_building_the_same_attempt_again_changes_nothing(
    steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str
) -> None:
    steps.build(claim_id, 1, "submit")
    before = clinic.ledger().read(claim_id)

    steps.build(claim_id, 1, "submit")

    assert clinic.ledger().read(claim_id) == before


def test_a_new_attempt_forgets_the_last_ones_answers_and_replaces_what_the_payer_has(
    steps: ClaimSteps, clinic: ClaimsClinic, resumes: Resumes, claim_id: str
) -> None:
    submitted(steps, claim_id)
    answered(clinic, resumes, claim_id)
    steps.wait(claim_id, "835", "token-old")  # the 835 came first: handed over at once

    assert steps.build(claim_id, 2, "submit")["frequency"] == "7"
    record = clinic.ledger().get(claim_id)
    assert record.control_number == f"{record.claim_number}-2"
    assert (record.received, record.waiting, record.pending, record.overdue) == ({}, {}, (), 0)
    assert steps.build(claim_id, 3, "void")["frequency"] == "8"


# --- scrub ---------------------------------------------------------------------------------------


def test_a_failed_scrub_lists_every_problem_on_one_task() -> None:
    clinic = ClaimsClinic()
    clinic.seed(member_id="", signed=False)
    claim_id = clinic.coded()
    steps = clinic.steps(Resumes())
    steps.build(claim_id, 1, "submit")

    assert steps.scrub(claim_id) == {"passed": False, "problems": 2}

    record = clinic.ledger().get(claim_id)
    assert record.status is ClaimState.SCRUB_FAILED
    assert record.problems == (NOT_SIGNED, NO_MEMBER_ID)
    task = task_of(clinic, claim_id)
    assert kind(task) == "scrub-failed"
    assert task["status"] == "requested"
    assert reasons(task) == [NOT_SIGNED, NO_MEMBER_ID]
    assert task["focus"] == {"reference": f"Claim/{claim_id}"}
    assert task["for"] == {"reference": "Patient/pat-ana"}
    assert "Rivera" not in str(task)

    steps.scrub(claim_id)  # still failing: the same Task rewritten, not a second one
    assert len(resources(clinic, "Task")) == 1


def test_a_passing_scrub_completes_the_claims_open_task() -> None:
    clinic = ClaimsClinic()
    clinic.seed(member_id="", signed=False)
    claim_id = clinic.coded()
    steps = clinic.steps(Resumes())
    steps.build(claim_id, 1, "submit")
    steps.scrub(claim_id)
    task_id = clinic.ledger().get(claim_id).task_id

    chart = clinic.records(clinic.context(Role.PHYSICIAN))
    [note] = resources(clinic, "Composition")
    sign_note(NoteRecords(chart), str(note["id"]), clock=clinic.clock)
    system = clinic.records()
    coverage = system.read("Coverage", "cov-ana")
    system.update("Coverage", "cov-ana", {**coverage, "subscriberId": MEMBER_ID})

    assert steps.scrub(claim_id) == {"passed": True}
    assert system.read("Task", task_id)["status"] == "completed"


def test_a_payer_the_clinic_has_not_set_up_fails_the_scrub(clinic: ClaimsClinic, claim_id: str) -> None:
    steps = clinic.steps(
        Resumes(), settings={**SETTINGS, "payers": [{"payer_id": "OTHER1", "name": "Other"}]}
    )
    steps.build(claim_id, 1, "submit")

    assert steps.scrub(claim_id)["passed"] is False
    assert any("EMP01" in problem for problem in clinic.ledger().get(claim_id).problems)


# --- generate and submit -------------------------------------------------------------------------


def test_generate_stages_an_837p_that_validates(
    steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str
) -> None:
    steps.build(claim_id, 1, "submit")
    steps.scrub(claim_id)

    assert steps.generate(claim_id) == {"valid": True, "interchange": "1"}

    record = clinic.ledger().get(claim_id)
    name = file_name(record, 1, 1)
    assert record.outbox_key == name == f"{record.claim_number}-1.000000001.837"
    assert record.interchange == "1"
    staged = clinic.clearinghouse().read("generated", name).decode()
    assert validate_837p(staged) == ()
    assert f"CLM*{record.control_number}*135***11:B:1*Y*A*Y*Y~" in staged
    assert "NM1*IL*1*RIVERA*ANA" in staged
    assert ("outbox", name) not in clinic.clearinghouse().folders


def test_generate_without_a_clearinghouse_enrolment_goes_on_a_task(
    clinic: ClaimsClinic, claim_id: str
) -> None:
    steps = clinic.steps(Resumes(), settings={k: v for k, v in SETTINGS.items() if k != "submitter"})
    steps.build(claim_id, 1, "submit")

    assert steps.generate(claim_id) == {"valid": False}

    record = clinic.ledger().get(claim_id)
    assert record.status is ClaimState.SCRUB_FAILED
    assert reasons(task_of(clinic, claim_id)) == [
        "claims settings: the clearinghouse enrolment (submitter) is not set"
    ]
    assert clinic.clearinghouse().folders == {}


def test_submit_hands_the_file_in_and_writes_the_look_ups(
    steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str
) -> None:
    steps.build(claim_id, 1, "submit")
    steps.generate(claim_id)
    name = clinic.ledger().get(claim_id).outbox_key

    assert steps.submit(claim_id) == {"submitted": control_number(clinic.ledger().get(claim_id), 1)}

    record = clinic.ledger().get(claim_id)
    assert record.status is ClaimState.SUBMITTED
    assert record.submitted == "2026-12-01T15:00:00.000Z"
    assert record.outbox_key == f"tenants/acme/clearinghouse/outbox/{name}"
    assert clinic.clearinghouse().read("outbox", name) == clinic.clearinghouse().read("generated", name)
    assert clinic.ledger().claim_for_control_number(record.control_number) == claim_id
    assert clinic.ledger().claims_for_interchange("1") == (claim_id,)


def test_a_retried_submit_sends_the_same_file_again(
    steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str
) -> None:
    steps.build(claim_id, 1, "submit")
    steps.generate(claim_id)
    steps.submit(claim_id)
    first = clinic.ledger().read(claim_id)
    name = clinic.ledger().get(claim_id).outbox_key.rsplit("/", 1)[-1]

    assert steps.submit(claim_id) == {"submitted": clinic.ledger().get(claim_id).control_number}

    assert clinic.ledger().read(claim_id) == first  # the step's second run changes nothing
    assert [key for key in clinic.clearinghouse().folders if key[0] == "outbox"] == [("outbox", name)]


# --- wait ----------------------------------------------------------------------------------------


def test_wait_leaves_the_token_for_the_inbox(
    steps: ClaimSteps, clinic: ClaimsClinic, resumes: Resumes, claim_id: str
) -> None:
    submitted(steps, claim_id)

    assert steps.wait(claim_id, "999", "token-999") == {"waiting": "999"}

    assert clinic.ledger().get(claim_id).waiting == {"999": "token-999"}
    assert resumes.calls == []


def test_an_answer_recorded_before_the_wait_resumes_it_at_once(
    steps: ClaimSteps, clinic: ClaimsClinic, resumes: Resumes, claim_id: str
) -> None:
    submitted(steps, claim_id)
    answered(clinic, resumes, claim_id)

    for what, token in (("999", "t1"), ("277CA", "t2"), ("835", "t3")):
        steps.wait(claim_id, what, token)

    assert resumes.calls == [
        ("t1", {"accepted": True}),
        ("t2", {"accepted": True}),
        ("t3", {"posted": "EFT000000001"}),
    ]
    assert clinic.ledger().get(claim_id).waiting == {}


def test_waiting_for_something_unknown_is_refused(steps: ClaimSteps, claim_id: str) -> None:
    with pytest.raises(CairnError, match="nothing called '997' is waited for; one of 999, 277CA, 835"):
        steps.wait(claim_id, "997", "token")


# --- what needs a person -------------------------------------------------------------------------


def test_a_rejection_goes_on_a_task_with_the_recorded_reasons(
    steps: ClaimSteps, clinic: ClaimsClinic, resumes: Resumes, claim_id: str
) -> None:
    submitted(steps, claim_id)
    inbox = ClearinghouseInbox(clinic.ledger(), clinic.clearinghouse(), resumes, clinic.clock)
    outbound = clinic.clearinghouse().outbound(clinic.ledger().get(claim_id))
    inbox.receive(clinic.clearinghouse().drop("r.999", answer_999(outbound, accept=False)))

    assert steps.rejected(claim_id, "999") == {"rejected": "999"}

    record = clinic.ledger().get(claim_id)
    assert record.status is ClaimState.REJECTED
    task = task_of(clinic, claim_id)
    assert kind(task) == "rejected-999"
    assert reasons(task) == list(record.problems)
    assert record.problems


def test_a_rejection_without_reasons_says_so(steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str) -> None:
    submitted(steps, claim_id)

    steps.rejected(claim_id, "277CA")

    task = task_of(clinic, claim_id)
    assert (kind(task), task["priority"]) == ("rejected-277CA", "urgent")
    assert reasons(task) == ["the 277CA rejected it without a reason"]


def test_each_overdue_reminder_rewrites_the_task_until_the_last(
    steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str
) -> None:
    submitted(steps, claim_id)
    number = clinic.ledger().get(claim_id).control_number

    again = [steps.overdue(claim_id, "999")["again"] for _ in range(OVERDUE_REMINDERS)]

    assert again == [True, True, False]
    record = clinic.ledger().get(claim_id)
    assert record.overdue == OVERDUE_REMINDERS
    assert record.status is ClaimState.SUBMITTED
    task = task_of(clinic, claim_id)
    assert kind(task) == "overdue-999"
    assert reasons(task) == [f"no 999 for control number {number} after about 144 hours (reminder 3 of 3)"]
    assert len(resources(clinic, "Task")) == 1


def test_an_overdue_remittance_counts_in_days(steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str) -> None:
    submitted(steps, claim_id)

    steps.overdue(claim_id, "835")

    assert "after about 1080 hours (reminder 1 of 3)" in reasons(task_of(clinic, claim_id))[0]


def test_a_stalled_claim_goes_on_an_urgent_task(
    steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str
) -> None:
    submitted(steps, claim_id)

    assert steps.stalled(claim_id) == {"stalled": True}

    assert clinic.ledger().get(claim_id).status is ClaimState.STALLED
    task = task_of(clinic, claim_id)
    assert (kind(task), task["priority"]) == ("stalled", "urgent")
    assert task["code"]["coding"][0]["system"] == TASK_SYSTEM


def test_a_workflow_failure_is_recorded_by_its_error_type_only(
    steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str
) -> None:
    steps.failed(claim_id, {"Error": "States.TaskFailed", "Cause": "Patient Rivera, born 1980-04-12"})

    task = task_of(clinic, claim_id)
    assert kind(task) == "failed"
    assert reasons(task) == ["the workflow stopped with States.TaskFailed"]
    assert "Rivera" not in str(task)
    assert clinic.ledger().get(claim_id).status is ClaimState.CODED


# --- post ----------------------------------------------------------------------------------------


def test_a_paid_remittance_is_posted_with_its_response_and_the_patients_invoice(
    steps: ClaimSteps, clinic: ClaimsClinic, resumes: Resumes, claim_id: str
) -> None:
    submitted(steps, claim_id)
    steps.overdue(claim_id, "835")  # an open Task the payment completes
    answered(clinic, resumes, claim_id)

    assert steps.post(claim_id) == {"denied": False}

    record = clinic.ledger().get(claim_id)
    allowed = CHARGE_CENTS * 80 // 100
    assert record.status is ClaimState.PAID
    assert record.pending == ()
    assert len(record.remittances) == 1
    assert (record.paid_cents, record.patient_responsibility_cents) == (allowed - allowed // 5, allowed // 5)
    [response] = resources(clinic, "ClaimResponse")
    assert record.claim_response_id == response["id"]
    assert response["request"] == {"reference": f"Claim/{claim_id}"}
    assert response["outcome"] == "complete"
    [invoice] = resources(clinic, "Invoice")
    assert record.invoice_id == invoice["id"]
    assert invoice["totalNet"]["value"] == allowed // 5 / 100
    assert task_of(clinic, claim_id)["status"] == "completed"
    written = [e for _, e in clinic.record_audit if e.subtype == "post-remittance"]
    assert [(e.entity_type, e.entity_id) for e in written] == [("Claim", claim_id)]


def test_a_retried_post_writes_the_response_and_the_invoice_once(
    steps: ClaimSteps, clinic: ClaimsClinic, resumes: Resumes, claim_id: str
) -> None:
    submitted(steps, claim_id)
    answered(clinic, resumes, claim_id)
    before = dict(clinic.ledgers)
    steps.post(claim_id)
    clinic.ledgers.clear()  # the step failed after writing the record, before the ledger: it runs again
    clinic.ledgers.update(before)

    steps.post(claim_id)

    assert len(resources(clinic, "ClaimResponse")) == 1
    assert len(resources(clinic, "Invoice")) == 1
    assert clinic.ledger().get(claim_id).status is ClaimState.PAID


def test_a_denial_is_posted_and_goes_on_a_denied_task(
    steps: ClaimSteps, clinic: ClaimsClinic, resumes: Resumes, claim_id: str
) -> None:
    submitted(steps, claim_id)
    control = clinic.ledger().get(claim_id).control_number
    answered(clinic, resumes, claim_id, denied={control: "50"})

    assert steps.post(claim_id) == {"denied": True}

    record = clinic.ledger().get(claim_id)
    assert record.status is ClaimState.DENIED
    assert record.paid_cents == 0
    assert record.closed == "2026-12-01T15:00:00.000Z"
    assert resources(clinic, "Invoice") == []
    task = task_of(clinic, claim_id)
    assert (kind(task), task["priority"]) == ("denied", "urgent")
    assert any(reason.startswith("CO-50") for reason in reasons(task)), reasons(task)
    assert len(resources(clinic, "ClaimResponse")) == 1


# --- voided --------------------------------------------------------------------------------------


def test_an_accepted_void_cancels_the_claim_and_completes_its_task(
    steps: ClaimSteps, clinic: ClaimsClinic, claim_id: str
) -> None:
    submitted(steps, claim_id)
    steps.stalled(claim_id)

    assert steps.voided(claim_id) == {"voided": True}
    steps.voided(claim_id)  # again, as a retried step: nothing more

    record = clinic.ledger().get(claim_id)
    assert record.status is ClaimState.VOIDED
    assert record.closed == "2026-12-01T15:00:00.000Z"
    assert [e.what for e in record.events].count("voided") == 1
    assert clinic.records().read("Claim", claim_id)["status"] == "cancelled"
    assert task_of(clinic, claim_id)["status"] == "completed"


# --- one clinic's steps ---------------------------------------------------------------------------


def test_another_clinics_steps_find_none_of_this_clinics_claims(clinic: ClaimsClinic, claim_id: str) -> None:
    theirs = clinic.steps(Resumes(), tenant=OTHER_TENANT)

    with pytest.raises(ResourceNotFound):
        theirs.build(claim_id, 1, "submit")
    with pytest.raises(ResourceNotFound):
        theirs.scrub(claim_id)
    assert clinic.ledger().get(claim_id).events[-1].what == "coded"
