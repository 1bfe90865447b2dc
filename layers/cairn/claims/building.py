"""From a clinic's FHIR record to a claim: the FHIR R4 Claim of a coded encounter, and the
ClaimSubmission (cairn.claims.model) an 837P is written from.

`claim_resource` is strict: it is given a parsed coding (cairn.claims.coding) and the clinic's
fee schedule, and writes a Claim that validates. `submission_from` is lenient: it reads whatever
the record holds, and a missing piece becomes an empty string (or None, or UNKNOWN_DATE for a
date) so the scrub (cairn.claims.scrub) can name everything missing at once; it never raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from cairn.billing.fee_schedule import FeeSchedule
from cairn.billing.invoices import cents, money
from cairn.claims.coding import PLACES_OF_SERVICE, EncounterCoding
from cairn.claims.icd10 import Icd10Codes, icd10_codes, undotted
from cairn.claims.model import SELF, Address, ClaimSubmission, Coverage, Payer, Person, Provider, ServiceLine
from cairn.claims.npi import normalize_ein
from cairn.claims.posting import PAYER_CLAIM_NUMBER_SYSTEM, PAYER_ID_SYSTEM
from cairn.errors import MalformedRequest

CLAIM_NUMBER_SYSTEM = "https://cairn.health/fhir/sid/claim-number"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
EIN_SYSTEM = "urn:oid:2.16.840.1.113883.4.4"
TAXONOMY_SYSTEM = "http://nucc.org/provider-taxonomy"
CLAIM_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claim-type"
PRIORITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/processpriority"
CARE_TEAM_ROLE_SYSTEM = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
DIAGNOSIS_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
PLACE_OF_SERVICE_SYSTEM = "http://terminology.hl7.org/CodeSystem/ex-serviceplace"
COVERAGE_CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/coverage-class"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"  # CPT modifiers are two digits
HCPCS_SYSTEM = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"  # level II: letters
UNKNOWN_DATE = date.min  # a date the record lacks; the scrub names it missing
# Coverage.relationship (http://terminology.hl7.org/CodeSystem/subscriber-relationship) to X12 1069.
RELATIONSHIPS: Mapping[str, str] = {"self": SELF, "spouse": "01", "child": "19", "other": "G8"}
OTHER_RELATIONSHIP = "G8"
SEXES: Mapping[str, str] = {"female": "F", "male": "M", "other": "U", "unknown": "U"}


# --- The FHIR Claim ------------------------------------------------------------------------------


def claim_resource(
    encounter: Mapping[str, Any],
    coverage: Mapping[str, Any],
    coding: EncounterCoding,
    fees: FeeSchedule,
    billing_organization: str,
    created: date,
    icd10: Icd10Codes | None = None,
    *,
    claim_number: str = "",
) -> dict[str, Any]:
    """A FHIR R4 Claim (professional) for `encounter` coded by `coding`, priced at `fees`, billed
    by Organization/`billing_organization` to `coverage`'s payer. Diagnosis displays come from
    `icd10` (the process's code set if not given). `claim_number` fills the identifier (system
    CLAIM_NUMBER_SYSTEM); without one the Claim has no identifier yet. MalformedRequest if the
    encounter names no patient, the coverage no payer, or a service code is not in the fee schedule."""
    subject = str((encounter.get("subject") or {}).get("reference", ""))
    if not subject.startswith("Patient/"):
        raise MalformedRequest("the encounter names no patient (Encounter.subject): it cannot be billed")
    payor = (coverage.get("payor") or [None])[0]
    if not isinstance(payor, Mapping) or not payor:
        raise MalformedRequest("the patient's Coverage names no payer (Coverage.payor): it cannot be billed")
    unknown = [service.code for service in coding.services if fees.fee(service.code) is None]
    if unknown:
        raise MalformedRequest(f"not in the clinic's fee schedule: {', '.join(unknown)}")
    codes = icd10 if icd10 is not None else icd10_codes()
    period = {key: value for key, value in (encounter.get("period") or {}).items() if key in ("start", "end")}
    served = str(period.get("start") or created.isoformat())[:10]
    practitioner = _first_practitioner(encounter)
    place = {
        "coding": [
            {
                "system": PLACE_OF_SERVICE_SYSTEM,
                "code": coding.place_of_service,
                "display": PLACES_OF_SERVICE.get(coding.place_of_service, coding.place_of_service),
            }
        ]
    }
    items, total = [], 0
    for sequence, service in enumerate(coding.services, start=1):
        fee = fees.fee(service.code)
        assert fee is not None  # checked above
        net = fee.amount_cents * service.units
        total += net
        item: dict[str, Any] = {
            "sequence": sequence,
            "diagnosisSequence": list(service.diagnoses),
            "productOrService": {
                "coding": [{"system": fee.system, "code": fee.code, "display": fee.display}],
                "text": fee.display,
            },
            "servicedDate": served,
            "locationCodeableConcept": place,
            "quantity": {"value": service.units},
            "unitPrice": money(fee.amount_cents),
            "net": money(net),
        }
        if practitioner:
            item["careTeamSequence"] = [1]
        if service.modifiers:
            item["modifier"] = [
                {"coding": [{"system": _modifier_system(m), "code": m}]} for m in service.modifiers
            ]
        if encounter.get("id"):
            item["encounter"] = [{"reference": f"Encounter/{encounter['id']}"}]
        items.append(item)
    claim: dict[str, Any] = {
        "resourceType": "Claim",
        "status": "active",
        "type": {
            "coding": [{"system": CLAIM_TYPE_SYSTEM, "code": "professional", "display": "Professional"}]
        },
        "use": "claim",
        "patient": {"reference": subject},
        "created": created.isoformat(),
        "insurer": dict(payor),
        "provider": {"reference": f"Organization/{billing_organization}"},
        "priority": {"coding": [{"system": PRIORITY_SYSTEM, "code": "normal"}]},
        "diagnosis": [_diagnosis(sequence, code, codes) for sequence, code in enumerate(coding.diagnoses, 1)],
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage.get('id')}"}}
        ],
        "item": items,
        "total": money(total),
    }
    if claim_number:
        claim["identifier"] = [{"system": CLAIM_NUMBER_SYSTEM, "value": claim_number}]
    if period:  # FHIR forbids empty objects: an encounter without a period bills on `created`
        claim["billablePeriod"] = period
    if practitioner:
        claim["careTeam"] = [
            {
                "sequence": 1,
                "provider": practitioner,
                "responsible": True,
                "role": {"coding": [{"system": CARE_TEAM_ROLE_SYSTEM, "code": "primary"}]},
            }
        ]
    return claim


def claim_number(claim: Mapping[str, Any]) -> str:
    """The claim number Cairn gave the Claim (its CLAIM_NUMBER_SYSTEM identifier), or ""."""
    return next(
        (
            str(i.get("value", ""))
            for i in claim.get("identifier") or ()
            if i.get("system") == CLAIM_NUMBER_SYSTEM
        ),
        "",
    )


def billed_encounter(claim: Mapping[str, Any]) -> str:
    """The id of the Encounter the Claim bills (its items' encounter), or ""."""
    return next(
        (
            str(e.get("reference", "")).removeprefix("Encounter/")
            for item in claim.get("item") or ()
            for e in item.get("encounter") or ()
        ),
        "",
    )


def _first_practitioner(encounter: Mapping[str, Any]) -> dict[str, Any] | None:
    for participant in encounter.get("participant") or ():
        individual = participant.get("individual") or {}
        if str(individual.get("reference", "")).startswith("Practitioner/"):
            return dict(individual)
    return None


def _modifier_system(modifier: str) -> str:
    return CPT_SYSTEM if modifier.isdigit() else HCPCS_SYSTEM


def _diagnosis(sequence: int, code: str, icd10: Icd10Codes) -> dict[str, Any]:
    coding = {"system": ICD10_SYSTEM, "code": code}
    display = icd10.describe(code)
    if display:
        coding["display"] = display
    diagnosis: dict[str, Any] = {"sequence": sequence, "diagnosisCodeableConcept": {"coding": [coding]}}
    if sequence == 1:
        diagnosis["type"] = [{"coding": [{"system": DIAGNOSIS_TYPE_SYSTEM, "code": "principal"}]}]
    return diagnosis


# --- The submission ------------------------------------------------------------------------------


def submission_from(
    claim: Mapping[str, Any],
    patient: Mapping[str, Any],
    coverage: Mapping[str, Any],
    payer: Mapping[str, Any],
    billing: Mapping[str, Any],
    rendering: Mapping[str, Any] | None,
    control_number: str,
) -> ClaimSubmission:
    """The 837P's content read from the FHIR Claim, the Patient, their Coverage, the payer and
    billing Organizations and the rendering Practitioner (None: none). Never raises: what is
    missing is left empty for the scrub to name. The frequency is an original claim: the workflow
    replaces it (and the payer's claim number) for a replacement or a void."""
    subscriber, relationship = _subscriber(coverage, patient)
    diagnoses = _diagnoses(claim)
    positions = {sequence: position for position, (sequence, _) in enumerate(diagnoses, start=1)}
    claim_place = ""
    lines = []
    for index, item in enumerate(_mappings(claim.get("item"))):
        place = _code(item.get("locationCodeableConcept"))
        claim_place = claim_place or place
        lines.append(
            ServiceLine(
                sequence=_whole(item.get("sequence"), index + 1),
                code=_code(item.get("productOrService")),
                charge_cents=_cents(item.get("net")),
                service_date=_date(item.get("servicedDate")),
                diagnosis_pointers=tuple(
                    positions.get(s, s) for s in item.get("diagnosisSequence") or () if isinstance(s, int)
                ),
                units=_whole((item.get("quantity") or {}).get("value"), 1),
                modifiers=tuple(_code(m) for m in _mappings(item.get("modifier"))),
                place_of_service=place,
            )
        )
    claim_place = claim_place or "11"
    # A line at the claim's place of service leaves its own empty: the 837P says it once.
    lines = [
        replace(line, place_of_service="") if line.place_of_service == claim_place else line for line in lines
    ]
    return ClaimSubmission(
        control_number=control_number,
        claim_id=str(claim.get("id") or ""),
        billing=_organization(billing),
        payer=Payer(name=_text(payer.get("name")), payer_id=_identifier(payer, PAYER_ID_SYSTEM)),
        coverage=Coverage(
            member_id=_text(coverage.get("subscriberId")),
            subscriber=subscriber,
            relationship=relationship,
            group_number=_coverage_class(coverage, "group", "value"),
            plan_name=_coverage_class(coverage, "plan", "name") or _coverage_class(coverage, "plan", "value"),
        ),
        diagnoses=tuple(undotted(code) for _, code in diagnoses),
        lines=tuple(lines),
        patient=None if relationship == SELF else _person(patient),
        rendering=_practitioner(rendering) if rendering is not None else None,
        place_of_service=claim_place,
        payer_claim_number=_related_payer_claim_number(claim),
        claim_total_cents=_cents(claim["total"]) if isinstance(claim.get("total"), Mapping) else None,
    )


def _mappings(value: object) -> list[Mapping[str, Any]]:
    return [entry for entry in value if isinstance(entry, Mapping)] if isinstance(value, list) else []


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _whole(value: object, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return default


def _cents(value: object) -> int:
    try:
        return cents(value) if isinstance(value, Mapping) else 0
    except (TypeError, ValueError):
        return 0


def _date(value: object) -> date:
    try:
        return date.fromisoformat(str(value)[:10]) if isinstance(value, str) else UNKNOWN_DATE
    except ValueError:
        return UNKNOWN_DATE


def _code(concept: object, system: str | None = None) -> str:
    """The first code of a CodeableConcept (of `system`, if given)."""
    if not isinstance(concept, Mapping):
        return ""
    for coding in _mappings(concept.get("coding")):
        if system is None or coding.get("system") == system:
            return _text(coding.get("code"))
    return ""


def _identifier(resource: Mapping[str, Any], system: str) -> str:
    return next(
        (_text(i.get("value")) for i in _mappings(resource.get("identifier")) if i.get("system") == system),
        "",
    )


def _diagnoses(claim: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(sequence, ICD-10-CM code as written) in sequence order."""
    found = []
    for index, diagnosis in enumerate(_mappings(claim.get("diagnosis"))):
        code = _code(diagnosis.get("diagnosisCodeableConcept"), ICD10_SYSTEM)
        found.append((_whole(diagnosis.get("sequence"), index + 1), code))
    return sorted(found, key=lambda entry: entry[0])


# FHIR addresses may spell the state out (Synthea does: "Massachusetts"); X12 wants its USPS code.
# fmt: off
STATE_CODES = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA", "COLORADO": "CO",
    "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC", "FLORIDA": "FL", "GEORGIA": "GA",
    "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL", "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS",
    "KENTUCKY": "KY", "LOUISIANA": "LA", "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA",
    "MICHIGAN": "MI", "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT",
    "NEBRASKA": "NE", "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ", "NEW MEXICO": "NM",
    "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND", "OHIO": "OH", "OKLAHOMA": "OK",
    "OREGON": "OR", "PENNSYLVANIA": "PA", "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD",
    "TENNESSEE": "TN", "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA",
    "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY", "AMERICAN SAMOA": "AS", "GUAM": "GU",
    "NORTHERN MARIANA ISLANDS": "MP", "PUERTO RICO": "PR", "VIRGIN ISLANDS": "VI",
}
# fmt: on


def usps_state(state: str) -> str:
    """The USPS code of a state as a FHIR address writes it: "MA", "ma" or "Massachusetts" -> MA;
    anything else upper-cased as it is (the scrub says it is not a state)."""
    spelled = " ".join(state.upper().replace(".", " ").split())
    return STATE_CODES.get(spelled, spelled)


def _address(addresses: object) -> Address | None:
    entries = _mappings(addresses)
    chosen = next((a for a in entries if a.get("use") == "billing"), None) or next(
        (a for a in entries if a.get("use") in (None, "work", "home")), None
    )
    if chosen is None:
        return None
    lines = [_text(line) for line in chosen.get("line") or () if _text(line)]
    return Address(
        line1=lines[0] if lines else "",
        city=_text(chosen.get("city")),
        state=usps_state(_text(chosen.get("state"))),
        postal_code=_text(chosen.get("postalCode")).replace("-", ""),
        line2=" ".join(lines[1:]),
    )


def _name(resource: Mapping[str, Any]) -> tuple[str, str]:
    """(family, first given) of the official name, else the first."""
    names = _mappings(resource.get("name"))
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = [_text(g) for g in name.get("given") or () if _text(g)]
    return _text(name.get("family")), given[0] if given else ""


def _person(resource: Mapping[str, Any]) -> Person:
    family, given = _name(resource)
    return Person(
        last_name=family,
        first_name=given,
        birth_date=_date(resource.get("birthDate")),
        sex=SEXES.get(_text(resource.get("gender")), ""),
        address=_address(resource.get("address")),
    )


def _subscriber(coverage: Mapping[str, Any], patient: Mapping[str, Any]) -> tuple[Person, str]:
    """The subscriber (the patient if self) and the patient's X12 relationship to them."""
    code = _code(coverage.get("relationship"))
    relationship = RELATIONSHIPS.get(code, OTHER_RELATIONSHIP) if code else SELF
    reference = _text((coverage.get("subscriber") or {}).get("reference"))
    if relationship == SELF or reference == f"Patient/{patient.get('id')}":
        return _person(patient), SELF
    if reference.startswith("#"):
        contained = next(
            (r for r in _mappings(coverage.get("contained")) if f"#{r.get('id')}" == reference),
            {},
        )
        return _person(contained), relationship
    return _person({}), relationship  # a subscriber outside the Coverage: the scrub names what is missing


def _coverage_class(coverage: Mapping[str, Any], kind: str, field: str) -> str:
    for entry in _mappings(coverage.get("class")):
        if _code(entry.get("type")) == kind:
            return _text(entry.get(field))
    return ""


def _taxonomy(concepts: Iterable[object]) -> str:
    return next((code for concept in concepts if (code := _code(concept, TAXONOMY_SYSTEM))), "")


def _organization(billing: Mapping[str, Any]) -> Provider:
    return Provider(
        name=_text(billing.get("name")),
        npi=_identifier(billing, NPI_SYSTEM),
        address=_address(billing.get("address")),
        tax_id=normalize_ein(_identifier(billing, EIN_SYSTEM)),
        taxonomy=_taxonomy(_mappings(billing.get("type"))),
    )


def _practitioner(practitioner: Mapping[str, Any]) -> Provider:
    family, given = _name(practitioner)
    qualifications: Sequence[Mapping[str, Any]] = _mappings(practitioner.get("qualification"))
    return Provider(
        name=family,
        npi=_identifier(practitioner, NPI_SYSTEM),
        first_name=given,
        taxonomy=_taxonomy(q.get("code") for q in qualifications),
    )


def _related_payer_claim_number(claim: Mapping[str, Any]) -> str:
    for related in _mappings(claim.get("related")):
        identifier = (related.get("claim") or {}).get("identifier") or {}
        if isinstance(identifier, Mapping) and identifier.get("system") == PAYER_CLAIM_NUMBER_SYSTEM:
            return _text(identifier.get("value"))
    return ""


__all__ = [
    "CLAIM_NUMBER_SYSTEM",
    "EIN_SYSTEM",
    "ICD10_SYSTEM",
    "NPI_SYSTEM",
    "TAXONOMY_SYSTEM",
    "UNKNOWN_DATE",
    "billed_encounter",
    "claim_number",
    "claim_resource",
    "submission_from",
]
