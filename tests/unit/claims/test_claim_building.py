"""The FHIR R4 Claim of a coded encounter, and the ClaimSubmission read from a clinic's record."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cairn.billing.fee_schedule import FeeSchedule
from cairn.claims.building import (
    CLAIM_NUMBER_SYSTEM,
    ICD10_SYSTEM,
    UNKNOWN_DATE,
    claim_number,
    claim_resource,
    submission_from,
    usps_state,
)
from cairn.claims.coding import EncounterCoding, parse_coding
from cairn.claims.icd10 import Icd10Codes
from cairn.claims.model import (
    Address,
    ClaimSubmission,
    Coverage,
    Payer,
    Person,
    Provider,
    ServiceLine,
)
from cairn.claims.posting import PAYER_CLAIM_NUMBER_SYSTEM
from cairn.errors import MalformedRequest
from cairn.fhir.validation import validate_resource
from tests.unit.claims.conftest import (
    BILLING_NPI,
    HCPCS,
    MEMBER_ID,
    RELATIONSHIP,
    RENDERING_NPI,
    TODAY,
    billing,
    child,
    coverage,
    dependent_coverage,
    encounter,
    patient,
    payer,
    practitioner,
)

CPT = "http://www.ama-assn.org/go/cpt"
ANA = Person("Rivera", "Ana", date(1980, 4, 12), "F", Address("12 Elm St", "Albany", "NY", "12207"))


def test_the_claim_validates_as_the_record_validates_writes(claim: dict[str, Any]) -> None:
    assert validate_resource(claim, "Claim") is claim


@pytest.mark.parametrize(
    ("resource_type", "resource"),
    [
        ("Patient", patient()),
        ("Patient", child()),
        ("Coverage", coverage()),
        ("Coverage", dependent_coverage()),
        ("Organization", billing()),
        ("Organization", payer()),
        ("Practitioner", practitioner()),
        ("Encounter", encounter()),
    ],
)
def test_the_record_the_claim_is_built_from_is_valid_fhir(
    resource_type: str, resource: dict[str, Any]
) -> None:
    validate_resource(resource, resource_type)


def test_the_claim_bills_the_encounter_to_the_coverage(claim: dict[str, Any]) -> None:
    assert claim["status"] == "active"
    assert claim["use"] == "claim"
    assert claim["type"] == {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                "code": "professional",
                "display": "Professional",
            }
        ]
    }
    assert claim["priority"] == {
        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]
    }
    assert claim["patient"] == {"reference": "Patient/pat-ana"}
    assert claim["billablePeriod"] == {
        "start": "2026-11-30T10:00:00-05:00",
        "end": "2026-11-30T10:25:00-05:00",
    }
    assert claim["created"] == "2026-12-01"
    assert claim["provider"] == {"reference": "Organization/org-hudson"}
    assert claim["insurer"] == {"reference": "Organization/org-empire"}
    assert claim["insurance"] == [
        {"sequence": 1, "focal": True, "coverage": {"reference": "Coverage/cov-ana"}}
    ]
    assert claim["identifier"] == [{"system": CLAIM_NUMBER_SYSTEM, "value": "CLM-0001"}]
    assert claim_number(claim) == "CLM-0001"


def test_the_care_team_is_the_encounters_first_practitioner(claim: dict[str, Any]) -> None:
    assert claim["careTeam"] == [
        {
            "sequence": 1,
            "provider": {"reference": "Practitioner/dr-okafor", "display": "Dr. Grace Okafor"},
            "responsible": True,
            "role": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/claimcareteamrole", "code": "primary"}
                ]
            },
        }
    ]
    assert [item["careTeamSequence"] for item in claim["item"]] == [[1], [1]]


def test_diagnoses_are_icd10cm_with_the_dot_and_their_descriptions(claim: dict[str, Any]) -> None:
    assert claim["diagnosis"] == [
        {
            "sequence": 1,
            "diagnosisCodeableConcept": {
                "coding": [
                    {
                        "system": ICD10_SYSTEM,
                        "code": "E11.9",
                        "display": "Type 2 diabetes mellitus without complications",
                    }
                ]
            },
            "type": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/ex-diagnosistype",
                            "code": "principal",
                        }
                    ]
                }
            ],
        },
        {
            "sequence": 2,
            "diagnosisCodeableConcept": {
                "coding": [
                    {"system": ICD10_SYSTEM, "code": "I10", "display": "Essential (primary) hypertension"}
                ]
            },
        },
    ]


def test_items_are_priced_at_the_fee_schedule_times_units(claim: dict[str, Any]) -> None:
    office, draw = claim["item"]
    place = {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/ex-serviceplace",
                "code": "11",
                "display": "Office",
            }
        ]
    }
    assert office == {
        "sequence": 1,
        "careTeamSequence": [1],
        "diagnosisSequence": [1, 2],
        "productOrService": {
            "coding": [
                {
                    "system": CPT,
                    "code": "99213",
                    "display": "Office visit, established patient, low complexity",
                }
            ],
            "text": "Office visit, established patient, low complexity",
        },
        "modifier": [{"coding": [{"system": CPT, "code": "25"}]}],
        "servicedDate": "2026-11-30",
        "locationCodeableConcept": place,
        "quantity": {"value": 1},
        "unitPrice": {"value": 120.0, "currency": "USD"},
        "net": {"value": 120.0, "currency": "USD"},
        "encounter": [{"reference": "Encounter/enc-1"}],
    }
    assert (draw["quantity"], draw["unitPrice"], draw["net"]) == (
        {"value": 2},
        {"value": 15.0, "currency": "USD"},
        {"value": 30.0, "currency": "USD"},
    )
    assert "modifier" not in draw
    assert claim["total"] == {"value": 150.0, "currency": "USD"}


def test_a_hcpcs_service_and_letter_modifiers_keep_their_systems(
    icd10: Icd10Codes, fees: FeeSchedule
) -> None:
    coding = parse_coding(
        {
            "diagnoses": ["Z00.00"],
            "services": [{"code": "G0439", "modifiers": ["GT", "33"]}],
            "place_of_service": "02",
        },
        icd10,
        fees,
    )
    built = claim_resource(encounter(), coverage(), coding, fees, "org-hudson", TODAY, icd10)
    [item] = built["item"]
    assert item["productOrService"]["coding"][0]["system"] == HCPCS
    assert item["modifier"] == [
        {"coding": [{"system": HCPCS, "code": "GT"}]},
        {"coding": [{"system": CPT, "code": "33"}]},
    ]
    assert (
        item["locationCodeableConcept"]["coding"][0]["display"]
        == "Telehealth Provided Other than in Patient's Home"
    )
    assert "identifier" not in built
    validate_resource(built, "Claim")


def test_an_encounter_without_a_practitioner_or_period_still_validates(
    coding: EncounterCoding, fees: FeeSchedule, icd10: Icd10Codes
) -> None:
    bare = {**encounter(), "participant": [{"individual": {"reference": "RelatedPerson/companion"}}]}
    del bare["period"]
    built = claim_resource(bare, coverage(), coding, fees, "org-hudson", TODAY, icd10)
    assert "careTeam" not in built
    assert "billablePeriod" not in built
    assert all("careTeamSequence" not in item for item in built["item"])
    assert {item["servicedDate"] for item in built["item"]} == {"2026-12-01"}
    validate_resource(built, "Claim")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"encounter": {"subject": {"reference": "Group/g1"}}},
            r"the encounter names no patient \(Encounter.subject\)",
        ),
        ({"coverage": {"payor": []}}, r"the patient's Coverage names no payer \(Coverage.payor\)"),
    ],
)
def test_a_claim_cannot_be_built_without_a_patient_or_a_payer(
    coding: EncounterCoding, fees: FeeSchedule, icd10: Icd10Codes, change: dict[str, Any], message: str
) -> None:
    visit = {**encounter(), **change.get("encounter", {})}
    plan = {**coverage(), **change.get("coverage", {})}
    with pytest.raises(MalformedRequest, match=message):
        claim_resource(visit, plan, coding, fees, "org-hudson", TODAY, icd10)


def test_a_service_no_longer_in_the_fee_schedule_is_refused(
    coding: EncounterCoding, icd10: Icd10Codes
) -> None:
    with pytest.raises(MalformedRequest, match="not in the clinic's fee schedule: 99213, 36415"):
        claim_resource(encounter(), coverage(), coding, FeeSchedule(()), "org-hudson", TODAY, icd10)


def test_the_submission_reads_the_whole_record(submission: ClaimSubmission) -> None:
    assert submission == ClaimSubmission(
        control_number="CLM0001A1",
        claim_id="claim-1",
        billing=Provider(
            name="Hudson Family Medicine",
            npi=BILLING_NPI,
            address=Address("100 State St", "Albany", "NY", "122071234", line2="Suite 2"),
            tax_id="123456789",
            taxonomy="207Q00000X",
        ),
        payer=Payer("Empire Health", "EMP01"),
        coverage=Coverage(
            member_id=MEMBER_ID,
            subscriber=Person(
                "Rivera", "Ana", date(1980, 4, 12), "F", Address("12 Elm St", "Albany", "NY", "12207")
            ),
            relationship="18",
            group_number="GRP-100",
            plan_name="Empire PPO Gold",
        ),
        diagnoses=("E119", "I10"),
        lines=(
            ServiceLine(1, "99213", 12000, date(2026, 11, 30), (1, 2), units=1, modifiers=("25",)),
            ServiceLine(2, "36415", 3000, date(2026, 11, 30), (1,), units=2),
        ),
        patient=None,
        rendering=Provider(name="Okafor", npi=RENDERING_NPI, first_name="Grace", taxonomy="207Q00000X"),
        place_of_service="11",
        claim_total_cents=15000,
    )
    assert submission.total_charge_cents == 15000
    assert submission.rendering is not None
    assert submission.rendering.is_person
    assert not submission.billing.is_person


def test_a_dependents_subscriber_is_the_contained_related_person(
    coding: EncounterCoding, fees: FeeSchedule, icd10: Icd10Codes
) -> None:
    built = claim_resource(
        encounter("Patient/pat-leo"), dependent_coverage(), coding, fees, "org-hudson", TODAY, icd10
    )
    submission = submission_from(
        built, child(), dependent_coverage(), payer(), billing(), practitioner(), "CLM0002A1"
    )
    assert submission.coverage.relationship == "19"
    assert submission.coverage.subscriber == ANA
    assert submission.coverage.member_id == MEMBER_ID
    assert submission.patient == Person(
        "Rivera", "Leo", date(2018, 9, 3), "M", Address("12 Elm St", "Albany", "NY", "12207")
    )


@pytest.mark.parametrize(
    ("code", "x12"), [("spouse", "01"), ("child", "19"), ("other", "G8"), ("parent", "G8")]
)
def test_the_relationship_is_written_as_x12_codes(claim: dict[str, Any], code: str, x12: str) -> None:
    plan = {**dependent_coverage(), "relationship": {"coding": [{"system": RELATIONSHIP, "code": code}]}}
    submission = submission_from(claim, child(), plan, payer(), billing(), None, "CLM0003A1")
    assert submission.coverage.relationship == x12
    assert submission.coverage.subscriber == ANA


def test_a_subscriber_reference_to_the_patient_is_self(claim: dict[str, Any]) -> None:
    plan = {**coverage()}
    del plan["relationship"]
    submission = submission_from(claim, patient(), plan, payer(), billing(), None, "CLM0004A1")
    assert submission.coverage.relationship == "18"
    assert submission.patient is None
    assert submission.rendering is None


def test_a_subscriber_outside_the_coverage_is_left_empty_for_the_scrub(claim: dict[str, Any]) -> None:
    plan = {**dependent_coverage(), "subscriber": {"reference": "RelatedPerson/elsewhere"}}
    submission = submission_from(claim, child(), plan, payer(), billing(), None, "CLM0005A1")
    assert submission.coverage.subscriber == Person("", "", UNKNOWN_DATE, "")


def test_nothing_at_all_becomes_empty_values_not_a_crash() -> None:
    submission = submission_from({}, {}, {}, {}, {}, {}, "")
    assert submission.billing == Provider(name="", npi="")
    assert submission.payer == Payer("", "")
    assert submission.coverage == Coverage(member_id="", subscriber=Person("", "", UNKNOWN_DATE, ""))
    assert (submission.diagnoses, submission.lines, submission.claim_total_cents) == ((), (), None)
    assert submission.rendering == Provider(name="", npi="")


def test_malformed_pieces_become_empty_values(claim: dict[str, Any]) -> None:
    broken = {
        **claim,
        "item": [
            {
                "sequence": "1",
                "net": {"value": "lots"},
                "servicedDate": "30/11/2026",
                "quantity": {"value": 1.0},
            },
            "not an item",
        ],
        "diagnosis": [
            {"sequence": 1, "diagnosisCodeableConcept": {"coding": [{"system": "urn:other", "code": "X"}]}}
        ],
    }
    submission = submission_from(
        broken,
        {**patient(), "birthDate": 1980, "gender": "woman"},
        coverage(),
        payer(),
        billing(),
        None,
        "C1",
    )
    assert submission.lines == (ServiceLine(1, "", 0, UNKNOWN_DATE, (), units=1),)
    assert submission.diagnoses == ("",)
    assert submission.coverage.subscriber.birth_date == UNKNOWN_DATE
    assert submission.coverage.subscriber.sex == ""


def test_a_line_at_another_place_of_service_keeps_its_own(claim: dict[str, Any]) -> None:
    moved = {
        **claim,
        "item": [
            claim["item"][0],
            {**claim["item"][1], "locationCodeableConcept": {"coding": [{"code": "81"}]}},
        ],
    }
    submission = submission_from(moved, patient(), coverage(), payer(), billing(), None, "C1")
    assert submission.place_of_service == "11"
    assert [line.place_of_service for line in submission.lines] == ["", "81"]


def test_pointers_follow_the_diagnoses_sequence_order(claim: dict[str, Any]) -> None:
    # Sequences 5 and 9 (in reverse order) are positions 1 and 2 of the submission's diagnoses.
    first, second = claim["diagnosis"]
    renumbered = {
        **claim,
        "diagnosis": [{**second, "sequence": 9}, {**first, "sequence": 5}],
        "item": [{**claim["item"][0], "diagnosisSequence": [9, 5]}],
    }
    submission = submission_from(renumbered, patient(), coverage(), payer(), billing(), None, "C1")
    assert submission.diagnoses == ("E119", "I10")
    assert submission.lines[0].diagnosis_pointers == (2, 1)


def test_a_replacement_reads_the_payers_claim_number_from_the_related_claim(claim: dict[str, Any]) -> None:
    related = {
        **claim,
        "related": [{"claim": {"identifier": {"system": PAYER_CLAIM_NUMBER_SYSTEM, "value": "PCN-778"}}}],
    }
    submission = submission_from(related, patient(), coverage(), payer(), billing(), None, "C1")
    assert submission.payer_claim_number == "PCN-778"
    validate_resource(related, "Claim")


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("MA", "MA"),
        ("ma", "MA"),
        ("Massachusetts", "MA"),
        ("new  york", "NY"),
        ("District of Columbia", "DC"),
        ("Narnia", "NARNIA"),
    ],
)
def test_a_state_spelled_out_in_the_record_is_billed_as_its_usps_code(written: str, code: str) -> None:
    assert usps_state(written) == code
