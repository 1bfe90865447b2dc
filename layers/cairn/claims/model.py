"""A professional claim and what comes back for it, as plain typed values.

These are the seams between the parts of claims work: cairn.claims.building turns a clinic's
FHIR resources into a ClaimSubmission; cairn.claims.scrub checks it; cairn.claims.x12 writes it
as an X12 005010X222A1 837P and reads the 999, 277CA and 835 files that answer it into the
acknowledgement and remittance values below; cairn.claims.posting files those. Money is whole
cents; codes are stored as billed (ICD-10-CM without its dot, CPT/HCPCS as entered).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

# Claim frequency (CLM05-3): an original claim, a replacement of one, or a void of one.
ORIGINAL = "1"
REPLACEMENT = "7"
VOID = "8"
# Patient's relationship to the subscriber (SBR02 / PAT01, X12 code list 1069).
SELF = "18"


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    state: str  # two letters
    postal_code: str  # 5 or 9 digits
    line2: str = ""


@dataclass(frozen=True)
class Provider:
    """A billing or rendering provider. An organization has a name only; a person has a last
    (`name`) and first name."""

    name: str
    npi: str
    address: Address | None = None
    first_name: str = ""
    tax_id: str = ""  # EIN, nine digits: the billing provider's
    taxonomy: str = ""  # NUCC provider taxonomy code, e.g. 207Q00000X

    @property
    def is_person(self) -> bool:
        return bool(self.first_name)


@dataclass(frozen=True)
class Person:
    """The subscriber, or the patient where the patient is not the subscriber."""

    last_name: str
    first_name: str
    birth_date: date
    sex: str  # F | M | U
    address: Address | None = None


@dataclass(frozen=True)
class Payer:
    name: str
    payer_id: str  # the payer's id at the clearinghouse (NM109 of loop 2010BB)
    filing_indicator: str = "CI"  # SBR09: CI commercial, MB Medicare Part B, MC Medicaid, HM HMO, ...


@dataclass(frozen=True)
class Coverage:
    member_id: str  # the subscriber's id with the payer
    subscriber: Person
    relationship: str = SELF  # the patient's relationship to the subscriber
    group_number: str = ""
    plan_name: str = ""


@dataclass(frozen=True)
class ServiceLine:
    sequence: int  # 1-based (LX01)
    code: str  # CPT or HCPCS, from the clinic's fee schedule
    charge_cents: int
    service_date: date
    diagnosis_pointers: tuple[int, ...]  # 1-based positions in ClaimSubmission.diagnoses, 1 to 4
    units: int = 1
    modifiers: tuple[str, ...] = ()  # up to four, two characters each
    place_of_service: str = ""  # empty: the claim's


@dataclass(frozen=True)
class ClaimSubmission:
    """One 837P claim: everything the payer needs and nothing else (no clinical note)."""

    control_number: str  # CLM01, the patient control number: Cairn's claim number, 1-20 characters
    claim_id: str  # the FHIR Claim's id in the clinic's record
    billing: Provider
    payer: Payer
    coverage: Coverage
    diagnoses: tuple[str, ...]  # ICD-10-CM codes, principal first, 1 to 12, without the dot
    lines: tuple[ServiceLine, ...]
    patient: Person | None = None  # None: the patient is the subscriber
    rendering: Provider | None = None
    place_of_service: str = "11"  # CMS place of service: 11 office, 02 telehealth, ...
    frequency: str = ORIGINAL
    payer_claim_number: str = ""  # the payer's number of the claim a replacement or void names
    onset: date | None = None
    claim_total_cents: int | None = None  # the FHIR Claim's stated total; the scrub checks it is the sum

    @property
    def total_charge_cents(self) -> int:
        return sum(line.charge_cents for line in self.lines)


@dataclass(frozen=True)
class Submitter:
    """Who sends the interchange and to whom: the clinic's clearinghouse enrolment."""

    sender_id: str  # ISA06 / GS02, up to 15 characters
    receiver_id: str  # ISA08 / GS03
    name: str  # loop 1000A
    contact_name: str
    contact_phone: str  # ten digits
    receiver_name: str  # loop 1000B
    production: bool = False  # ISA15: P, else T (test)


@dataclass(frozen=True)
class Interchange:
    """The envelope of one outbound file."""

    submitter: Submitter
    control_number: int  # ISA13 / GS06 / ST02 base, 1 to 999,999,999
    created: datetime  # UTC


# --- What the clearinghouse and the payer send back -------------------------------------------


@dataclass(frozen=True)
class TransactionAcknowledgement:
    """One transaction set's verdict in a 999 (AK2/IK5)."""

    transaction_control_number: str  # ST02 of the 837 it answers
    accepted: bool
    errors: tuple[str, ...] = ()  # readable: segment, element and the X12 error code


@dataclass(frozen=True)
class FunctionalAcknowledgement:
    """A 999 file: the syntax verdict on an 837 interchange's functional group."""

    group_control_number: str  # GS06 of the 837 it answers (AK102)
    accepted: bool  # AK901 A or E (accepted, with errors noted)
    transactions: tuple[TransactionAcknowledgement, ...]
    code: str = ""  # AK901 as sent: A, E, P, R or M


@dataclass(frozen=True)
class ClaimStatus:
    """One claim's status in a 277CA (loop 2200D)."""

    control_number: str  # TRN02: the claim's CLM01
    accepted: bool  # category A1/A2 (and A5/A8 partial) versus A3/A4/A6/A7 rejections
    category: str  # STC01-1, e.g. A2
    status_code: str  # STC01-2, e.g. 20
    message: str = ""  # STC12 free text, or the code's meaning
    payer_claim_number: str = ""  # REF*1K


@dataclass(frozen=True)
class ClaimAcknowledgement:
    """A 277CA file."""

    claims: tuple[ClaimStatus, ...]


@dataclass(frozen=True)
class Adjustment:
    """CAS: why an amount was not paid. Group CO (contractual), PR (patient), OA, PI, CR."""

    group: str
    reason: str  # CARC
    amount_cents: int
    quantity: int = 0


@dataclass(frozen=True)
class LinePayment:
    """SVC: one service line as the payer adjudicated it."""

    code: str
    charge_cents: int
    paid_cents: int
    modifiers: tuple[str, ...] = ()
    units: int = 1
    service_date: date | None = None
    adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[str, ...] = ()  # RARC (LQ*HE)
    line_control_number: str = ""  # REF*6R


@dataclass(frozen=True)
class ClaimPayment:
    """CLP: one claim in a remittance."""

    control_number: str  # CLP01: the claim's CLM01
    status: str  # CLP02: 1 primary, 2 secondary, 3 tertiary, 4 denied, 19-23 forwarded/reversed, 22 reversal
    charge_cents: int
    paid_cents: int
    patient_responsibility_cents: int  # CLP05
    payer_claim_number: str = ""  # CLP07
    adjustments: tuple[Adjustment, ...] = ()  # claim-level CAS
    remarks: tuple[str, ...] = ()  # RARC from MOA/MIA
    lines: tuple[LinePayment, ...] = ()

    @property
    def denied(self) -> bool:
        return self.status == "4"

    @property
    def reversal(self) -> bool:
        return self.status == "22"


@dataclass(frozen=True)
class Remittance:
    """An 835 file: one payment (or notice) from one payer, covering one or more claims."""

    payer: Payer
    payee_npi: str
    payment_cents: int  # BPR02
    payment_method: str  # BPR04: ACH, CHK, NON, ...
    payment_date: date | None  # BPR16
    trace_number: str  # TRN02: the check or EFT number
    claims: tuple[ClaimPayment, ...] = field(default=())
