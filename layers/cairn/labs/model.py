"""What Cairn reads out of and writes into HL7 v2 lab messages: the contract between the codec
(framing, ORU mapping, ACKs, orders) and the workflow that matches, stores and releases results.

Plain data, no parsing here. FHIR content is carried as dicts, ready for the record service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AckCode(StrEnum):
    """MSA-1. Application acknowledgments (AA/AE/AR) are written by the workflow once a message
    is processed; accept acknowledgments (CA/CE/CR) answer the HTTP request once it is stored."""

    APPLICATION_ACCEPT = "AA"
    APPLICATION_ERROR = "AE"
    APPLICATION_REJECT = "AR"
    COMMIT_ACCEPT = "CA"
    COMMIT_ERROR = "CE"
    COMMIT_REJECT = "CR"


class Severity(StrEnum):
    """How urgent a result is for the ordering clinician, from its abnormal flags (OBX-8)."""

    NORMAL = "normal"
    ABNORMAL = "abnormal"
    CRITICAL = "critical"


class MalformedMessage(ValueError):
    """A message Cairn cannot read. `reason` says what is wrong in words a lab's interface
    analyst can act on and never quotes PHI; `hl7_error` is the HL7 table 0357 code for ERR-3
    (100 segment sequence error, 101 required field missing, 102 data type error, 200 unsupported
    message type, 201 unsupported event code, 203 unsupported version id, 207 application error).
    `reject` means the message is refused as a whole (AR) rather than failed in processing (AE)."""

    def __init__(self, reason: str, hl7_error: str = "207", *, reject: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hl7_error = hl7_error
        self.reject = reject


@dataclass(frozen=True)
class MessageHeader:
    """MSH: who sent what, when. `control_id` (MSH-10) identifies the message for its sender."""

    control_id: str
    message_type: str  # "ORU^R01", "ORM^O01", ...: MSH-9.1^MSH-9.2
    version: str  # MSH-12, e.g. "2.5.1"
    sending_application: str
    sending_facility: str
    receiving_application: str
    receiving_facility: str
    sent_at: str | None = None  # MSH-7 as a FHIR dateTime
    processing_id: str = "P"  # MSH-11


@dataclass(frozen=True)
class PatientIdentifier:
    """One PID-3 repetition."""

    value: str
    assigning_authority: str = ""
    type_code: str = ""  # MR, PI, ...


@dataclass(frozen=True)
class PatientIdentity:
    """PID: what the lab says about the patient, used to match a Patient of the clinic."""

    identifiers: tuple[PatientIdentifier, ...]
    family: str
    given: tuple[str, ...] = ()
    birth_date: str | None = None  # YYYY-MM-DD (or YYYY-MM / YYYY when the lab sent less)
    sex: str | None = None  # FHIR administrative gender


@dataclass(frozen=True)
class OrderNumbers:
    """ORC-2/OBR-2 (placer: the number Cairn gave the order) and ORC-3/OBR-3 (filler: the lab's)."""

    placer: str | None = None
    filler: str | None = None


@dataclass(frozen=True)
class ResultGroup:
    """One OBR with its OBX (and NTE, SPM) segments, mapped to FHIR.

    `report` is a DiagnosticReport and `observations` its Observations, without id, subject,
    basedOn, performer or result references: the workflow adds those once it knows the patient
    and the order. Each observation dict carries its position in the message as the key
    "_sequence" (OBX-1 or its index), which the workflow removes before storing."""

    order: OrderNumbers
    report: dict[str, Any]
    observations: tuple[dict[str, Any], ...]
    severity: Severity = Severity.NORMAL
    ordering_provider: str | None = None  # OBR-16 identifier, when the lab sent one


@dataclass(frozen=True)
class LabResultMessage:
    """An ORU^R01 (or equivalent results message) read into Cairn's terms."""

    header: MessageHeader
    patient: PatientIdentity
    groups: tuple[ResultGroup, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)  # mapped with assumptions, no PHI

    @property
    def severity(self) -> Severity:
        order = (Severity.NORMAL, Severity.ABNORMAL, Severity.CRITICAL)
        return max((g.severity for g in self.groups), key=order.index, default=Severity.NORMAL)


@dataclass(frozen=True)
class LabEndpoint:
    """A lab a clinic exchanges messages with: an Organization of the clinic's directory whose
    identifier (system LAB_IDENTIFIER_SYSTEM) is `lab_id`, the name used in /labs/{lab}/ routes."""

    lab_id: str
    organization_id: str
    name: str
    order_message_type: str = "OML^O21"  # or "ORM^O01"
    hl7_version: str = "2.5.1"
    application: str = ""  # the lab's MSH-5/MSH-3 application name
    facility: str = ""  # the lab's MSH-6/MSH-4 facility name


LAB_IDENTIFIER_SYSTEM = "https://cairn.health/fhir/sid/lab"
PLACER_ORDER_SYSTEM = "https://cairn.health/fhir/sid/placer-order-number"
FILLER_ORDER_SYSTEM = "https://cairn.health/fhir/sid/filler-order-number"
CAIRN_APPLICATION = "CAIRN"
