"""Intake over fakes: every message stored raw before anything else, duplicates by control id
stored once and acknowledged again, refusals kept with an AR, and the accept ACKs a request gets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cairn.errors import MalformedRequest, PayloadTooLarge
from cairn.labs.intake import MAX_PAYLOAD_BYTES, commit_acks
from cairn.labs.ledger import MessageStatus
from cairn.labs.model import MalformedMessage, PatientIdentifier, PatientIdentity
from cairn.labs.outbox import OutboxKind
from cairn.labs.workflow import execution_name, workflow_items
from devkit.lab_messages import batch_file, with_separators
from multitenant.context import TenantContext
from tests.unit.labs.lab_fakes import (
    NOW,
    FakeLabLedger,
    FakeLabOutbox,
    FakeRawMessages,
    intake_for,
    potassium_result,
    segments,
)

ACME = TenantContext.system("acme", "test")
LAB = "acme-lab"
PATIENT = PatientIdentity((PatientIdentifier("MRN-1", "ACME", "MR"),), "Nguyen", ("Lan",), "1970-01-31",
                          "female")


def message(control: str) -> str:
    return potassium_result(PATIENT, control)


def test_a_message_is_stored_raw_then_recorded_received() -> None:
    intake = intake_for(ACME)

    [received] = intake.receive(message("C-1").encode())

    assert received.needs_processing
    entry = received.entry
    assert (entry.control_key, entry.status, entry.message_type) == ("C-1", MessageStatus.RECEIVED, "ORU^R01")
    assert isinstance(intake.raw, FakeRawMessages)
    assert intake.raw.stored[(LAB, entry.message_id)].startswith("MSH|")
    assert entry.raw_key.endswith(f"{entry.message_id}.hl7.enc")


def test_a_batch_file_with_a_bom_and_crlf_gives_each_message_in_order() -> None:
    intake = intake_for(ACME)
    payload = "\ufeff" + batch_file([message("B-1"), message("B-2"), message("B-3")]).replace("\r", "\r\n")

    received = intake.receive(payload.encode())

    assert [r.entry.control_key for r in received] == ["B-1", "B-2", "B-3"]
    assert all(r.needs_processing for r in received)


def test_a_resent_message_is_a_duplicate_stored_once_and_acknowledged_as_the_first_was() -> None:
    intake = intake_for(ACME)
    [first] = intake.receive(message("D-1"))
    assert isinstance(intake.ledger, FakeLabLedger)
    intake.ledger.put(replace(first.entry, status=MessageStatus.PROCESSED, ack_code="AA"))
    assert isinstance(intake.raw, FakeRawMessages)
    stored = dict(intake.raw.stored)

    [again] = intake.receive(message("D-1"))

    assert again.duplicate
    assert not again.needs_processing
    assert intake.raw.stored == stored
    assert isinstance(intake.outbox, FakeLabOutbox)
    ack = intake.outbox.delivered[(LAB, OutboxKind.ACKS, "D-1")]
    assert segments(ack, "MSA")[0][1:3] == ["AA", "D-1"]
    acks = commit_acks([again], NOW)
    assert segments(acks, "MSA")[0][1] == "CA"
    assert "duplicate" in segments(acks, "MSA")[0][3]


def test_a_claim_left_receiving_by_a_crash_is_taken_again() -> None:
    intake = intake_for(ACME)
    [first] = intake.receive(message("R-1"))
    assert isinstance(intake.ledger, FakeLabLedger)
    intake.ledger.put(replace(first.entry, status=MessageStatus.RECEIVING))

    [again] = intake.receive(message("R-1"))

    assert again.needs_processing


@pytest.mark.parametrize(("broken", "code"), [
    (with_separators(message("S-1"), "|", "^~"), "102"),  # wrong encoding characters
    ("PID|1||X\rOBX|1|NM|2823-3^K^LN||4.1", "100"),  # no MSH at all
    (message("V-1").replace("|2.5.1", "|2.6", 1), "203"),  # a version Cairn does not read
])
def test_an_unreadable_message_is_kept_quarantined_with_an_ar_and_refused_with_cr(
        broken: str, code: str) -> None:
    intake = intake_for(ACME)

    [received] = intake.receive(broken)

    assert received.refused is not None
    entry = received.entry
    assert entry.status is MessageStatus.QUARANTINED
    assert (entry.hl7_error, entry.ack_code) == (code, "AR")
    assert isinstance(intake.raw, FakeRawMessages)
    assert intake.raw.stored[(LAB, entry.message_id)]  # nothing lost
    assert isinstance(intake.outbox, FakeLabOutbox)
    ar = intake.outbox.delivered[(LAB, OutboxKind.ACKS, entry.control_key)]
    assert segments(ar, "MSA")[0][1] == "AR"
    cr = commit_acks([received], NOW)
    assert segments(cr, "MSA")[0][1] == "CR"
    assert segments(cr, "ERR")[0][3].startswith(code)


def test_a_message_that_is_not_a_result_is_refused_200_and_a_refusal_reason_refuses_all() -> None:
    intake = intake_for(ACME)
    order = message("O-1").replace("ORU^R01^ORU_R01", "ORM^O01", 1)

    [refused] = intake.receive(order)
    [unknown_lab] = intake.receive(message("U-1"), refuse_with=MalformedMessage("lab unknown", "207",
                                                                                 reject=True))

    assert (refused.entry.hl7_error, refused.entry.ack_code) == ("200", "AR")
    assert (unknown_lab.entry.status, unknown_lab.entry.reason) == (MessageStatus.QUARANTINED, "lab unknown")


def test_empty_and_oversized_payloads_are_refused_with_what_to_do() -> None:
    intake = intake_for(ACME)

    with pytest.raises(MalformedRequest, match="MSH"):
        intake.receive(b"\r\n\r\n")
    with pytest.raises(PayloadTooLarge, match="split the batch"):
        intake.receive(b"x" * (MAX_PAYLOAD_BYTES + 1))


def test_the_workflow_gets_new_messages_and_stranded_resends_under_a_stable_name() -> None:
    intake = intake_for(ACME)
    received = intake.receive(batch_file([message("W-1"), message("W-2")]))
    resent = intake.receive(message("W-1"))  # still "received": its workflow may never have started

    items = workflow_items(received) + workflow_items(resent)

    assert items == [{"control_key": "W-1", "patient": None}, {"control_key": "W-2", "patient": None},
                     {"control_key": "W-1", "patient": None}]
    assert execution_name("api", "acme", LAB, ["W-1"]) == execution_name("api", "acme", LAB, ["W-1"])
    assert execution_name("api", "acme", LAB, ["W-1"]) != execution_name("api", "beta", LAB, ["W-1"])
