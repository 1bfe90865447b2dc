"""Intake over fakes, beyond test_lab_intake.py: the layout of the accept ACKs a request gets
for a mixed batch, what a resent message re-delivers (nothing before its first ACK, the same
refusal after), unreadable messages keyed by content, and the size limit in bytes."""

from __future__ import annotations

import re

import hl7
import pytest

from cairn.errors import PayloadTooLarge
from cairn.labs.framing import unescape
from cairn.labs.intake import MAX_PAYLOAD_BYTES, ack_control_id, commit_acks
from cairn.labs.ledger import MessageStatus, control_key
from cairn.labs.model import MalformedMessage, PatientIdentifier, PatientIdentity
from cairn.labs.outbox import OutboxKind
from devkit.lab_messages import batch_file
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
PATIENT = PatientIdentity((PatientIdentifier("MRN-2", "ACME", "MR"),), "Moreau", ("Ines",), "1955-05-05",
                          "female")
UNREADABLE = "PID|1||X\rOBX|1|NM|2823-3^K^LN||4.1"


def message(control: str) -> str:
    return potassium_result(PATIENT, control, seed=4)




def test_commit_acks_answer_each_message_in_order_with_one_msa_and_an_err_only_for_a_refusal() -> None:
    intake = intake_for(ACME)
    intake.receive(message("A-1"))
    not_a_result = message("A-2").replace("ORU^R01^ORU_R01", "ORM^O01", 1)
    received = intake.receive(batch_file([message("A-1"), not_a_result, message("A-3")]))

    acks = commit_acks(received, NOW)

    parsed = [hl7.parse(text) for text in re.split(r"\r(?=MSH\|)", acks.rstrip("\r"))]
    assert len(parsed) == 3
    assert [(str(m.segment("MSA")(1)), str(m.segment("MSA")(2))) for m in parsed] == [
        ("CA", "A-1"), ("CR", "A-2"), ("CA", "A-3")]
    assert [len(segments(str(m), "ERR")) for m in parsed] == [0, 1, 0]
    assert segments(acks, "ERR")[0][3].startswith("200^")
    assert "send results as ORU^R01" in unescape(segments(acks, "ERR")[0][8])  # escaped in ERR-8
    assert [m.segment("MSH")(10)[0] for m in parsed] == [ack_control_id(r.entry) for r in received]
    assert "duplicate" in str(parsed[0].segment("MSA")(3))
    assert "stored" in str(parsed[2].segment("MSA")(3))


def test_a_resend_before_the_first_copy_is_acknowledged_delivers_nothing_to_the_outbox() -> None:
    intake = intake_for(ACME)
    intake.receive(message("W-1"))

    [again] = intake.receive(message("W-1"))

    assert again.duplicate
    assert again.entry.status is MessageStatus.RECEIVED
    assert isinstance(intake.outbox, FakeLabOutbox)
    assert intake.outbox.delivered == {}


def test_a_resent_refused_message_gets_the_same_refusal_and_is_stored_once() -> None:
    intake = intake_for(ACME)
    [first] = intake.receive(message("V-1").replace("|2.5.1", "|2.6", 1))
    assert isinstance(intake.outbox, FakeLabOutbox)
    key = first.entry.control_key  # the header cannot be read: keyed by content
    refusal = intake.outbox.delivered[(LAB, OutboxKind.ACKS, key)]

    [again] = intake.receive(message("V-1").replace("|2.5.1", "|2.6", 1))

    assert again.duplicate
    assert again.entry == first.entry
    resent = intake.outbox.delivered[(LAB, OutboxKind.ACKS, key)]
    assert segments(resent, "MSA") == segments(refusal, "MSA")
    assert segments(resent, "ERR") == segments(refusal, "ERR")
    assert isinstance(intake.raw, FakeRawMessages)
    assert len(intake.raw.stored) == 1


def test_an_unreadable_message_is_keyed_by_its_content_so_a_resend_is_one_entry() -> None:
    intake = intake_for(ACME)

    [first] = intake.receive(UNREADABLE)
    [again] = intake.receive(UNREADABLE)

    key = control_key(None, UNREADABLE)
    assert key.startswith("sha256-")
    assert first.entry.control_key == key
    assert first.header is None
    assert again.duplicate
    assert isinstance(intake.ledger, FakeLabLedger)
    assert list(intake.ledger.items) == [(LAB, key)]
    assert segments(commit_acks([first], NOW), "MSA")[0][1:3] == ["CR", key]


def test_a_refusal_reason_refuses_new_messages_but_a_duplicate_stays_a_duplicate() -> None:
    intake = intake_for(ACME)
    intake.receive(message("K-1"))
    reason = MalformedMessage("lab unknown to the clinic", "207", reject=True)

    old, new = intake.receive(batch_file([message("K-1"), message("K-2")]), refuse_with=reason)

    assert (old.duplicate, old.refused, old.entry.status) == (True, None, MessageStatus.RECEIVED)
    assert new.refused is reason
    assert (new.entry.status, new.entry.ack_code, new.entry.hl7_error) == (
        MessageStatus.QUARANTINED, "AR", "207")


def test_the_size_limit_counts_bytes_not_characters() -> None:
    intake = intake_for(ACME)
    wide = "é" * (MAX_PAYLOAD_BYTES // 2 + 1)  # fewer characters than the limit, more bytes

    with pytest.raises(PayloadTooLarge):
        intake.receive(wide)
    assert isinstance(intake.ledger, FakeLabLedger)
    assert intake.ledger.items == {}
