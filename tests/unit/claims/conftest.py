"""Claims unit tests: the ICD-10-CM lookup as scripts/build_icd10_lookup.py builds it (built by
the session if a fresh clone lacks it), a clinic's fee schedule and payer rules, and a realistic
clinic record: a Patient, her Coverage with its payer, the billing Organization, the physician,
a signed-off Encounter, and a dependent whose subscriber is a contained RelatedPerson."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cairn.billing.fee_schedule import FeeSchedule
from cairn.claims.building import (
    EIN_SYSTEM,
    NPI_SYSTEM,
    TAXONOMY_SYSTEM,
    claim_resource,
    submission_from,
)
from cairn.claims.coding import EncounterCoding, parse_coding
from cairn.claims.icd10 import LOOKUP, Icd10Codes, icd10_codes
from cairn.claims.model import ClaimSubmission
from cairn.claims.posting import PAYER_ID_SYSTEM
from cairn.claims.settings import PayerRules

ROOT = Path(__file__).resolve().parents[3]
TODAY = date(2026, 12, 1)
VISIT = "2026-11-30T10:00:00-05:00"
BILLING_NPI = "1245319599"
RENDERING_NPI = "1003000126"
MEMBER_ID = "XQJ884211907"
RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"


@pytest.fixture(scope="session", autouse=True)
def icd10_lookup() -> Path:
    """The lookup the claims code reads, built by its own script when a fresh clone lacks it."""
    if not LOOKUP.is_file():
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "build_icd10_lookup.py")], check=True, cwd=ROOT
        )
    return LOOKUP


@pytest.fixture(scope="session")
def icd10(icd10_lookup: Path) -> Icd10Codes:
    assert icd10_lookup.is_file()
    return icd10_codes()


@pytest.fixture
def fees() -> FeeSchedule:
    return FeeSchedule.parse(
        {
            "fees": [
                {
                    "code": "99213",
                    "display": "Office visit, established patient, low complexity",
                    "amount": 120,
                },
                {"code": "99214", "display": "Office visit, established patient, moderate", "amount": 175.5},
                {"code": "36415", "display": "Routine venipuncture", "amount": 15},
                {
                    "code": "G0439",
                    "display": "Annual wellness visit, subsequent",
                    "amount": 140,
                    "system": HCPCS,
                },
            ]
        }
    )


@pytest.fixture
def rules() -> PayerRules:
    return PayerRules(payer_id="EMP01", name="Empire Health", requires_group_number=True)


def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "pat-ana",
        "name": [{"use": "official", "family": "Rivera", "given": ["Ana", "Luz"]}],
        "birthDate": "1980-04-12",
        "gender": "female",
        "address": [
            {"use": "home", "line": ["12 Elm St"], "city": "Albany", "state": "NY", "postalCode": "12207"}
        ],
    }


def child() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "pat-leo",
        "name": [{"family": "Rivera", "given": ["Leo"]}],
        "birthDate": "2018-09-03",
        "gender": "male",
        "address": [{"line": ["12 Elm St"], "city": "Albany", "state": "NY", "postalCode": "12207"}],
    }


def billing() -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": "org-hudson",
        "active": True,
        "name": "Hudson Family Medicine",
        "identifier": [
            {"system": NPI_SYSTEM, "value": BILLING_NPI},
            {"system": EIN_SYSTEM, "value": "12-3456789"},
        ],
        "type": [
            {"coding": [{"system": TAXONOMY_SYSTEM, "code": "207Q00000X", "display": "Family Medicine"}]}
        ],
        "address": [
            {
                "use": "work",
                "line": ["100 State St", "Suite 2"],
                "city": "Albany",
                "state": "NY",
                "postalCode": "12207-1234",
            }
        ],
    }


def payer() -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": "org-empire",
        "name": "Empire Health",
        "identifier": [{"system": PAYER_ID_SYSTEM, "value": "EMP01"}],
        "type": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "ins"}]}
        ],
    }


def practitioner() -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": "dr-okafor",
        "name": [{"family": "Okafor", "given": ["Grace"], "prefix": ["Dr."]}],
        "identifier": [{"system": NPI_SYSTEM, "value": RENDERING_NPI}],
        "qualification": [{"code": {"coding": [{"system": TAXONOMY_SYSTEM, "code": "207Q00000X"}]}}],
    }


def _classes() -> list[dict[str, Any]]:
    return [
        {
            "type": {"coding": [{"system": COVERAGE_CLASS, "code": "group"}]},
            "value": "GRP-100",
            "name": "Acme Corp",
        },
        {
            "type": {"coding": [{"system": COVERAGE_CLASS, "code": "plan"}]},
            "value": "PPO-1",
            "name": "Empire PPO Gold",
        },
    ]


def coverage() -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": "cov-ana",
        "status": "active",
        "subscriber": {"reference": "Patient/pat-ana"},
        "subscriberId": MEMBER_ID,
        "beneficiary": {"reference": "Patient/pat-ana"},
        "relationship": {"coding": [{"system": RELATIONSHIP, "code": "self"}]},
        "payor": [{"reference": "Organization/org-empire"}],
        "class": _classes(),
    }


def dependent_coverage() -> dict[str, Any]:
    """Leo's coverage through his mother's plan: she is the subscriber, contained in it."""
    return {
        "resourceType": "Coverage",
        "id": "cov-leo",
        "status": "active",
        "contained": [
            {
                "resourceType": "RelatedPerson",
                "id": "subscriber",
                "patient": {"reference": "Patient/pat-leo"},
                "relationship": [
                    {
                        "coding": [
                            {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}
                        ]
                    }
                ],
                "name": [{"family": "Rivera", "given": ["Ana"]}],
                "birthDate": "1980-04-12",
                "gender": "female",
                "address": [{"line": ["12 Elm St"], "city": "Albany", "state": "NY", "postalCode": "12207"}],
            }
        ],
        "subscriber": {"reference": "#subscriber"},
        "subscriberId": MEMBER_ID,
        "beneficiary": {"reference": "Patient/pat-leo"},
        "relationship": {"coding": [{"system": RELATIONSHIP, "code": "child"}]},
        "payor": [{"reference": "Organization/org-empire"}],
        "class": _classes(),
    }


def encounter(subject: str = "Patient/pat-ana") -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": "enc-1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": subject},
        "participant": [
            {"individual": {"reference": "RelatedPerson/companion"}},
            {"individual": {"reference": "Practitioner/dr-okafor", "display": "Dr. Grace Okafor"}},
        ],
        "period": {"start": VISIT, "end": "2026-11-30T10:25:00-05:00"},
    }


CODING = {
    "diagnoses": ["E11.9", "I10"],
    "services": [
        {"code": "99213", "modifiers": ["25"], "units": 1, "diagnoses": [1, 2]},
        {"code": "36415", "units": 2, "diagnoses": [1]},
    ],
    "place_of_service": "11",
}


@pytest.fixture
def coding(icd10: Icd10Codes, fees: FeeSchedule) -> EncounterCoding:
    return parse_coding(CODING, icd10, fees)


@pytest.fixture
def claim(coding: EncounterCoding, fees: FeeSchedule, icd10: Icd10Codes) -> dict[str, Any]:
    built = claim_resource(
        encounter(), coverage(), coding, fees, "org-hudson", TODAY, icd10, claim_number="CLM-0001"
    )
    return {**built, "id": "claim-1"}


@pytest.fixture
def submission(claim: dict[str, Any]) -> ClaimSubmission:
    return submission_from(claim, patient(), coverage(), payer(), billing(), practitioner(), "CLM0001A1")
