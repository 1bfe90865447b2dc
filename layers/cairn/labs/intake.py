"""Receiving lab messages: split what a lab sent into messages, claim each in the ledger (a
control id seen before from the same lab is a duplicate: acknowledged, not stored twice), and
store each new one raw and encrypted before anything else is done with it.

A message whose header cannot be read, or that is not a results message, is refused here (its
raw copy is kept, the ledger says why, and the lab's outbox gets an AR). The others go to the
lab-ingestion workflow. The caller answers an HTTP request with `commit_acks`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from cairn.errors import MalformedRequest, PayloadTooLarge
from cairn.labs import acks, framing
from cairn.labs.ledger import (
    BaseLabLedger,
    LabMessage,
    MessageAlreadyReceived,
    MessageStatus,
    control_key,
    message_id,
)
from cairn.labs.model import AckCode, MalformedMessage, MessageHeader
from cairn.labs.outbox import BaseLabOutbox, OutboxKind
from cairn.labs.raw_messages import BaseRawMessages

RESULT_MESSAGE_TYPES = ("ORU^R01",)
MAX_PAYLOAD_BYTES = 5 * 1024 * 1024  # API Gateway takes 10 MB; a lab's batch file is far smaller


@dataclass(frozen=True)
class Received:
    """One message of a payload and what intake did with it."""

    entry: LabMessage
    header: MessageHeader | None
    duplicate: bool = False
    refused: MalformedMessage | None = None

    @property
    def needs_processing(self) -> bool:
        return not self.duplicate and self.refused is None


@dataclass(frozen=True)
class Intake:
    """Intake for one clinic and one lab."""

    lab_id: str
    ledger: BaseLabLedger
    raw: BaseRawMessages
    outbox: BaseLabOutbox
    now: Callable[[], datetime]

    def receive(self, payload: bytes | str, refuse_with: MalformedMessage | None = None) -> list[Received]:
        """Every message of `payload`, stored (or recognised as a duplicate), in order.
        `refuse_with` refuses every new message for that reason (still stored: nothing a lab
        sends is lost), e.g. a file dropped for a lab the clinic does not know."""
        size = len(payload.encode() if isinstance(payload, str) else payload)
        if size > MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge(
                f"the payload is {size} bytes; send at most {MAX_PAYLOAD_BYTES} bytes per request "
                "(split the batch file)")
        messages = framing.split_batch(framing.normalize(payload))
        if not messages:
            raise MalformedRequest(
                "the payload holds no HL7 v2 message: each message starts with an MSH segment")
        return [self._receive_one(message, refuse_with) for message in messages]

    def _receive_one(self, text: str, refuse_with: MalformedMessage | None) -> Received:
        header: MessageHeader | None = None
        refused: MalformedMessage | None = None
        try:
            header = framing.read_header(text)
            if refuse_with is not None:
                refused = refuse_with
            elif header.message_type not in RESULT_MESSAGE_TYPES:
                refused = MalformedMessage(
                    f"message type {header.message_type} is not accepted here: send results as ORU^R01",
                    "200", reject=True)
        except MalformedMessage as exc:
            refused = exc
        key = control_key(header.control_id if header else None, text)
        entry = LabMessage(lab_id=self.lab_id, control_key=key, received=self.now().isoformat(),
                           status=MessageStatus.RECEIVING,
                           message_type=header.message_type if header else "",
                           version=header.version if header else "")
        try:
            self.ledger.claim(entry)
        except MessageAlreadyReceived as seen:
            self._acknowledge_again(seen.existing, header)
            return Received(seen.existing, header, duplicate=True)
        raw_key = self.raw.store(self.lab_id, message_id(self.lab_id, key), text)
        if refused is None:
            entry = replace(entry, status=MessageStatus.RECEIVED, raw_key=raw_key)
            self.ledger.put(entry)
            return Received(entry, header)
        code = AckCode.APPLICATION_REJECT if refused.reject else AckCode.APPLICATION_ERROR
        entry = replace(entry, status=MessageStatus.QUARANTINED, raw_key=raw_key, reason=refused.reason,
                        hl7_error=refused.hl7_error, ack_code=code.value)
        self.ledger.put(entry)
        self.outbox.deliver(self.lab_id, OutboxKind.ACKS, key, acks.acknowledgement(
            header, code, control_id=ack_control_id(entry), now=self.now(), text=refused.reason,
            error=refused, raw_control_id=key))
        return Received(entry, header, refused=refused)

    def _acknowledge_again(self, existing: LabMessage, header: MessageHeader | None) -> None:
        """A resent message gets the acknowledgment its first copy got (once it has one)."""
        if not existing.ack_code:
            return
        code = AckCode(existing.ack_code)
        error = MalformedMessage(existing.reason, existing.hl7_error or "207") if existing.reason else None
        self.outbox.deliver(self.lab_id, OutboxKind.ACKS, existing.control_key, acks.acknowledgement(
            header, code, control_id=ack_control_id(existing), now=self.now(),
            text=existing.reason or "already received", error=error if code is not AckCode.APPLICATION_ACCEPT
            else None, raw_control_id=existing.control_key))


def ack_control_id(entry: LabMessage) -> str:
    """The control id of Cairn's acknowledgment of `entry` (stable: a resent ACK is the same)."""
    return "ACK" + entry.message_id[:17]


def commit_acks(received: list[Received], now: datetime) -> str:
    """The accept acknowledgments (CA/CR) answering an HTTP request: CA once a message is stored
    (or was already), CR with the reason when it is refused. The application acknowledgment
    (AA/AE/AR) follows in the lab's outbox when the workflow has processed it."""
    answers: list[str] = []
    for item in received:
        if item.refused is not None:
            answers.append(acks.acknowledgement(
                item.header, AckCode.COMMIT_REJECT, control_id=ack_control_id(item.entry), now=now,
                text=item.refused.reason, error=item.refused, raw_control_id=item.entry.control_key))
            continue
        text = (f"duplicate: received {item.entry.received}, not stored again" if item.duplicate
                else "stored; results follow in the application acknowledgment")
        answers.append(acks.acknowledgement(
            item.header, AckCode.COMMIT_ACCEPT, control_id=ack_control_id(item.entry), now=now,
            text=text, raw_control_id=item.entry.control_key))
    return "\r".join(answers) + "\r"
