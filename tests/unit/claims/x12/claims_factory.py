"""Claims of several shapes for the X12 tests and the benchmark: made up, never real people."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from cairn.claims.model import (
    REPLACEMENT,
    VOID,
    Address,
    ClaimSubmission,
    Coverage,
    Interchange,
    Payer,
    Person,
    Provider,
    ServiceLine,
    Submitter,
)

CLINIC = Provider(
    name="MAPLE FAMILY CLINIC",
    npi="1234567893",
    address=Address("100 MAIN ST", "SPRINGFIELD", "IL", "627010001", line2="SUITE 2"),
    tax_id="371234567",
    taxonomy="207Q00000X",
)
SECOND_CLINIC = Provider(
    name="OSLER",
    first_name="WILLIAM",
    npi="1098765430",
    address=Address("9 ELM RD", "PEORIA", "IL", "61602"),
    tax_id="371234568",
)
DOCTOR = Provider(name="HOLMES", first_name="SARAH", npi="1987654323", taxonomy="207Q00000X")
PAYER = Payer(name="ACME HEALTH PLAN", payer_id="ACME1")
SUBMITTER = Submitter(
    sender_id="CAIRNCLINIC01",
    receiver_id="CLEARHOUSE",
    name="MAPLE FAMILY CLINIC",
    contact_name="BILLING OFFICE",
    contact_phone="2175550100",
    receiver_name="FAKE CLEARINGHOUSE",
)
SUBSCRIBER = Person("DOE", "JANE", date(1980, 4, 2), "F", Address("12 OAK AVE", "SPRINGFIELD", "IL", "62704"))
CHILD = Person("DOE", "SAM", date(2015, 9, 30), "M", Address("12 OAK AVE", "SPRINGFIELD", "IL", "62704"))


def interchange(control_number: int = 42) -> Interchange:
    return Interchange(SUBMITTER, control_number, datetime(2026, 11, 23, 14, 5))


def line(sequence: int, code: str = "99213", charge_cents: int = 12500, **kwargs: object) -> ServiceLine:
    fields: dict[str, object] = {"service_date": date(2026, 11, 20), "diagnosis_pointers": (1,)}
    fields.update(kwargs)
    return ServiceLine(sequence, code, charge_cents, **fields)  # type: ignore[arg-type]


def self_claim(number: str = "CRN-0001") -> ClaimSubmission:
    """The patient is the subscriber; one office visit."""
    return ClaimSubmission(
        control_number=number,
        claim_id=f"claim-{number}",
        billing=CLINIC,
        payer=PAYER,
        coverage=Coverage("W123456789", SUBSCRIBER, group_number="GRP100"),
        diagnoses=("J069",),
        lines=(line(1),),
        rendering=DOCTOR,
    )


def dependent_claim(number: str = "CRN-0002") -> ClaimSubmission:
    """A child on a parent's plan, two lines, an onset date, a plan name and no group number."""
    return ClaimSubmission(
        control_number=number,
        claim_id=f"claim-{number}",
        billing=CLINIC,
        payer=Payer("STATE MEDICAID", "MCD01", "MC"),
        coverage=Coverage("M555000111", SUBSCRIBER, relationship="19", plan_name="KIDS CARE"),
        diagnoses=("S52521A", "W1830XA"),
        lines=(line(1, "99203", 18000), line(2, "73090", 6050, diagnosis_pointers=(1, 2))),
        patient=CHILD,
        onset=date(2026, 11, 18),
    )


def replacement_claim(number: str = "CRN-0003") -> ClaimSubmission:
    return replace(self_claim(number), frequency=REPLACEMENT, payer_claim_number="PAYER778899")


def void_claim(number: str = "CRN-0004") -> ClaimSubmission:
    return replace(self_claim(number), frequency=VOID, payer_claim_number="PAYER778800")


def twelve_diagnoses_claim(number: str = "CRN-0005") -> ClaimSubmission:
    codes = ("E119", "I10", "E785", "Z6830", "M545", "F419", "G4700", "K219", "J309", "R51", "Z7984", "E039")
    return replace(self_claim(number), diagnoses=codes, lines=(line(1, diagnosis_pointers=(1, 2, 3, 4)),))


def modifiers_claim(number: str = "CRN-0006") -> ClaimSubmission:
    """Four modifiers on one line, a telehealth place of service on another, units and cents."""
    return replace(
        self_claim(number),
        billing=SECOND_CLINIC,
        rendering=None,
        lines=(
            line(1, "97110", 4599, modifiers=("GP", "59", "KX", "XU"), units=3),
            line(2, "99214", 20001, place_of_service="02", modifiers=("95",)),
            line(3, "36415", 1000, service_date=date(2026, 11, 21)),
        ),
    )


def shapes() -> list[ClaimSubmission]:
    """One claim of each shape the writer has a branch for."""
    return [
        self_claim(),
        dependent_claim(),
        replacement_claim(),
        void_claim(),
        twelve_diagnoses_claim(),
        modifiers_claim(),
    ]


def batch(count: int) -> list[ClaimSubmission]:
    """`count` claims cycling through the shapes, each with its own CLM01."""
    kinds = [
        self_claim,
        dependent_claim,
        replacement_claim,
        void_claim,
        twelve_diagnoses_claim,
        modifiers_claim,
    ]
    return [kinds[i % len(kinds)](f"CRN-{i:06d}") for i in range(count)]


def as_written(claim: ClaimSubmission) -> ClaimSubmission:
    """The claim as read_837p gives it back: what the 837P does not carry (the module docstring of
    cairn.claims.x12.claim_837p says what) left out."""
    coverage = claim.coverage
    if claim.patient is not None:
        coverage = replace(
            coverage, subscriber=replace(coverage.subscriber, address=None, birth_date=date.min, sex="U")
        )
    if coverage.group_number:
        coverage = replace(coverage, plan_name="")
    lines = tuple(
        replace(line, place_of_service="") if line.place_of_service == claim.place_of_service else line
        for line in claim.lines
    )
    return replace(claim, claim_id="", coverage=coverage, lines=lines)
