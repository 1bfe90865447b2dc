"""Which labs a clinic exchanges messages with: Organizations of its own directory that carry a
lab identifier (system LAB_IDENTIFIER_SYSTEM). The identifier's value is the lab's name in the
/labs/{lab}/ routes and the inbox prefix; two extensions say how the lab wants its orders."""

from __future__ import annotations

import re
from typing import Any

from cairn.errors import CairnError
from cairn.fhir.search import parse_search
from cairn.labs.model import LAB_IDENTIFIER_SYSTEM, LabEndpoint
from cairn.records.service import RecordService

ORDER_MESSAGE_EXTENSION = "https://cairn.health/fhir/StructureDefinition/lab-order-message"
HL7_VERSION_EXTENSION = "https://cairn.health/fhir/StructureDefinition/lab-hl7-version"
ORDER_MESSAGE_TYPES = ("OML^O21", "ORM^O01")
LAB_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class LabNotFound(CairnError):
    """No lab of that name in the clinic's directory (HTTP 404); says how to add one."""

    def __init__(self, lab_id: str) -> None:
        super().__init__(
            f"lab {lab_id!r} is not in this clinic's directory: add an Organization with identifier "
            f"system {LAB_IDENTIFIER_SYSTEM} and value {lab_id!r}"
        )
        self.lab_id = lab_id


def valid_lab_id(lab_id: str) -> bool:
    """Lab names are lower-case letters, digits and dashes: they become S3 prefixes."""
    return bool(LAB_ID_PATTERN.match(lab_id))


def find_lab(records: RecordService, lab_id: str) -> LabEndpoint:
    """The clinic's lab called `lab_id`, or LabNotFound."""
    if not valid_lab_id(lab_id):
        raise LabNotFound(lab_id)
    query = parse_search("Organization", {"identifier": [f"{LAB_IDENTIFIER_SYSTEM}|{lab_id}"]})
    found = [r for r in records.search(query).resources if r.get("active", True) is not False]
    if len(found) != 1:
        raise LabNotFound(lab_id)
    return endpoint(found[0], lab_id)


def endpoint(organization: dict[str, Any], lab_id: str) -> LabEndpoint:
    """A LabEndpoint from the lab's Organization."""
    extensions = {e.get("url"): e for e in organization.get("extension") or () if isinstance(e, dict)}
    message_type = str(extensions.get(ORDER_MESSAGE_EXTENSION, {}).get("valueCode") or "OML^O21")
    if message_type not in ORDER_MESSAGE_TYPES:
        message_type = "OML^O21"
    version = str(extensions.get(HL7_VERSION_EXTENSION, {}).get("valueString") or "")
    version = version or ("2.5.1" if message_type == "OML^O21" else "2.3")
    name = str(organization.get("name") or lab_id)
    return LabEndpoint(lab_id=lab_id, organization_id=str(organization["id"]), name=name,
                       order_message_type=message_type, hl7_version=version,
                       application=lab_id.upper(), facility=name)


def lab_organization(lab_id: str, name: str, *, order_message_type: str = "OML^O21") -> dict[str, Any]:
    """The Organization that makes `lab_id` one of the clinic's labs (onboarding, demo data, tests)."""
    return {
        "resourceType": "Organization", "active": True, "name": name,
        "identifier": [{"system": LAB_IDENTIFIER_SYSTEM, "value": lab_id}],
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "prov", "display": "Healthcare Provider"}], "text": "Laboratory"}],
        "extension": [{"url": ORDER_MESSAGE_EXTENSION, "valueCode": order_message_type}],
    }
