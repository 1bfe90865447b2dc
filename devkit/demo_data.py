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
