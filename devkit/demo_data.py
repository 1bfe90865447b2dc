"""Generated demo patients, for a clone without ../shared/fixtures.

Synthea-shaped FHIR R4 transaction Bundles made from a seed: the same seed gives the same
patients, so tests and `cairn dev` can rely on them. All names are invented.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

GIVEN = ("Ada", "Bruno", "Chiara", "Dmitri", "Esi", "Farah", "Goran", "Hana", "Ivo", "Juno")
FAMILY = ("Okafor", "Lindqvist", "Moreau", "Takahashi", "Novak", "Haddad", "Quispe", "Brennan")
V2_IDENTIFIER_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0203"
SYNTHEA_IDENTIFIERS = "https://github.com/synthetichealth/synthea"
NPI = "http://hl7.org/fhir/sid/us-npi"
CITIES = (("Springfield", "MA", "01103"), ("Riverton", "WY", "82501"), ("Fairview", "OR", "97024"))


def demo_patient(rng: random.Random) -> dict[str, Any]:
    """One invented Patient resource with the PHI fields a real chart carries."""
    given = rng.choice(GIVEN)
    family = rng.choice(FAMILY)
    city, state, postal = rng.choice(CITIES)
    mrn = f"DEMO-{rng.randrange(10**6, 10**7)}"
    return {
        "resourceType": "Patient",
        "identifier": [
            {
                "type": {"coding": [{"system": V2_IDENTIFIER_TYPES, "code": "MR"}]},
                "system": "urn:cairn:demo:mrn",
                "value": mrn,
            }
        ],
        "active": True,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "telecom": [{"system": "phone", "value": f"555-01{rng.randrange(10, 99)}", "use": "home"}],
        "gender": rng.choice(("female", "male")),
        "birthDate": f"{rng.randrange(1940, 2015)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        "address": [{"line": [f"{rng.randrange(1, 999)} Main St"], "city": city, "state": state,
                     "postalCode": postal, "country": "US"}],
    }


def demo_patient_bundle(seed: int) -> dict[str, Any]:
    """A transaction Bundle holding one generated Patient, shaped like a Synthea export."""
    rng = random.Random(seed)
    full_url = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}"
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": full_url,
                "resource": demo_patient(rng),
                "request": {"method": "POST", "url": "Patient"},
            }
        ],
    }


def _urn(rng: random.Random) -> str:
    return f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128))}"


def _entry(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": resource,
            "request": {"method": "POST", "url": str(resource["resourceType"])}}


def demo_chart_bundle(seed: int) -> dict[str, Any]:
    """A transaction Bundle holding a small chart, shaped like a Synthea export: the clinic
    (Organization) and a Practitioner, one Patient, a visit (Encounter) with a diagnosis
    (Condition) and a vital sign (Observation), and a Claim for the visit (a type Cairn does
    not store). Entries refer to each other by urn:uuid fullUrls, the visit's first."""
    rng = random.Random(seed)
    urls = {name: _urn(rng) for name in ("patient", "organization", "practitioner", "encounter",
                                         "condition", "observation", "claim")}
    bundle = demo_patient_bundle(seed)
    bundle["entry"][0]["fullUrl"] = urls["patient"]
    patient = {"reference": urls["patient"]}
    encounter = {"reference": urls["encounter"]}
    day = f"20{rng.randrange(10, 25)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    npi = str(rng.randrange(10**9, 10**10))
    clinic = {"resourceType": "Organization", "name": f"{rng.choice(FAMILY)} Family Practice",
              "active": True, "identifier": [{"system": SYNTHEA_IDENTIFIERS, "value": f"org-{seed}"}]}
    practitioner = {"resourceType": "Practitioner", "active": True,
                    "identifier": [{"system": NPI, "value": npi}],
                    "name": [{"family": rng.choice(FAMILY), "given": [rng.choice(GIVEN)], "prefix": ["Dr."]}]}
    visit = {"resourceType": "Encounter", "status": "finished",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
             "subject": patient, "period": {"start": f"{day}T09:00:00Z", "end": f"{day}T09:30:00Z"},
             "participant": [{"individual": {"reference": urls["practitioner"]}}],
             "serviceProvider": {"reference": urls["organization"]}}
    diagnosis = {"resourceType": "Condition", "subject": patient, "encounter": encounter,
                 "clinicalStatus": {"coding": [{
                     "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                     "code": "active"}]},
                 "code": {"coding": [{"system": "http://snomed.info/sct", "code": "444814009",
                                      "display": "Viral sinusitis (disorder)"}]},
                 "onsetDateTime": f"{day}T09:00:00Z"}
    heart_rate = {"resourceType": "Observation", "status": "final", "subject": patient,
                  "encounter": encounter,
                  "category": [{"coding": [{
                      "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                      "code": "vital-signs"}]}],
                  "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4",
                                       "display": "Heart rate"}]},
                  "effectiveDateTime": f"{day}T09:10:00Z",
                  "valueQuantity": {"value": rng.randrange(55, 100), "unit": "/min",
                                    "system": "http://unitsofmeasure.org", "code": "/min"}}
    claim = {"resourceType": "Claim", "status": "active", "patient": patient,
             "item": [{"sequence": 1, "encounter": [encounter]}]}
    # The visit's records come before the visit itself, as an export may list them.
    bundle["entry"] += [_entry(urls["condition"], diagnosis), _entry(urls["observation"], heart_rate),
                        _entry(urls["encounter"], visit), _entry(urls["organization"], clinic),
                        _entry(urls["practitioner"], practitioner), _entry(urls["claim"], claim)]
    return bundle
