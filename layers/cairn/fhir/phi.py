"""Which top-level elements of each resource type are PHI, declared once.

These elements are encrypted per field (AES-GCM under the tenant's data key) and never logged;
everything else is stored as plain JSON (still under the table's KMS encryption at rest).

Patient, following HIPAA Safe Harbor's identifiers plus anything free-form that can carry them:
  identifier, name, telecom, address, birthDate, deceasedDateTime, photo: direct identifiers,
    contact details and dates tied to the person;
  contact: names, phones and addresses of relatives and guardians;
  text: the narrative renders the identifiers above in HTML;
  extension, modifierExtension: free-form; in practice they carry mother's maiden name,
    birthplace, race and ethnicity (US Core).
Left in clear: gender, active, maritalStatus, communication, multipleBirth, deceasedBoolean,
generalPractitioner, managingOrganization, link, meta, id: coded values and references to other
resources, which do not identify a person alone and which later features filter on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PHI_FIELDS: Mapping[str, frozenset[str]] = {
    "Patient": frozenset({
        "identifier", "name", "telecom", "address", "birthDate", "deceasedDateTime", "photo",
        "contact", "text", "extension", "modifierExtension",
    }),
}


def phi_fields(resource_type: str) -> frozenset[str]:
    """The PHI elements of `resource_type`; a type without a declaration cannot be stored."""
    try:
        return PHI_FIELDS[resource_type]
    except KeyError:
        raise KeyError(f"no PHI declaration for resource type {resource_type}") from None


def split_phi(resource: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the resource without its PHI elements, the PHI elements)."""
    declared = phi_fields(str(resource["resourceType"]))
    public = {name: value for name, value in resource.items() if name not in declared}
    phi = {name: value for name, value in resource.items() if name in declared}
    return public, phi
