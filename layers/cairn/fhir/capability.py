"""The CapabilityStatement of Cairn's FHIR API (GET [base]/metadata), built from declarations.

Interactions come from the API's own routes (path template and methods, as the Chalice app
declares them) and search parameters from cairn.fhir.search, so the statement cannot claim
what the API does not do, nor miss what it does. A route under the FHIR base that is not a
FHIR interaction this module can name is an error, not an omission.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cairn.clock import fhir_instant
from cairn.fhir.rest import BASE_PATH
from cairn.fhir.search import (
    ANDED_DOCUMENTATION,
    COUNT_DOCUMENTATION,
    COUNT_PARAMETER,
    SEARCH_PARAMETERS,
    SearchParameter,
)

FHIR_VERSION = "4.0.1"
METADATA_PATH = f"{BASE_PATH}/metadata"
SOFTWARE_NAME = "Cairn"
SECURITY_SERVICE_SYSTEM = "http://terminology.hl7.org/CodeSystem/restful-security-service"
SECURITY_DESCRIPTION = (
    "Send an Amazon Cognito ID token issued by Cairn's user pool as `Authorization: Bearer <token>`. "
    "The clinic (tenant), role and user come from its verified claims, never from the request. "
    "Only this CapabilityStatement is served without a token."
)

# FHIR RESTful interactions by the shape of their path under the base and their HTTP method:
# "{type}" is a resource type, "{id}" any path variable.
TYPE_INTERACTIONS: Mapping[tuple[str, str], str] = {
    ("{type}/{id}", "GET"): "read",
    ("{type}/{id}/_history/{id}", "GET"): "vread",
    ("{type}/{id}", "PUT"): "update",
    ("{type}/{id}", "PATCH"): "patch",
    ("{type}/{id}", "DELETE"): "delete",
    ("{type}/{id}/_history", "GET"): "history-instance",
    ("{type}/_history", "GET"): "history-type",
    ("{type}", "POST"): "create",
    ("{type}", "GET"): "search-type",
    ("{type}/_search", "POST"): "search-type",
}
INTERACTION_ORDER = tuple(dict.fromkeys(TYPE_INTERACTIONS.values()))  # FHIR's order
RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]+")
PATH_VARIABLE = re.compile(r"\{[^}]+\}")


class UndeclaredInteraction(ValueError):
    """A route under the FHIR base is not an interaction the CapabilityStatement can state."""


def fhir_interaction(path: str, method: str) -> tuple[str, str] | None:
    """(resource type, interaction code) of a route; None for the metadata route and for routes
    outside the FHIR base. Raises UndeclaredInteraction for any other route under the base."""
    if (path, method.upper()) == (METADATA_PATH, "GET"):
        return None
    if path != BASE_PATH and not path.startswith(f"{BASE_PATH}/"):
        return None
    resource_type, _, rest = path.removeprefix(f"{BASE_PATH}/").partition("/")
    shape = "/".join(["{type}", *(PATH_VARIABLE.sub("{id}", part) for part in rest.split("/") if part)])
    interaction = TYPE_INTERACTIONS.get((shape, method.upper()))
    if interaction is None or not RESOURCE_TYPE.fullmatch(resource_type):
        raise UndeclaredInteraction(
            f"{method} {path} is not a FHIR interaction the CapabilityStatement can state; "
            "add it to cairn.fhir.capability.TYPE_INTERACTIONS"
        )
    return resource_type, interaction


def interactions(routes: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Resource type -> its interaction codes in FHIR's order, from routes (path -> methods)."""
    found: dict[str, set[str]] = {}
    for path, methods in routes.items():
        for method in methods:
            named = fhir_interaction(path, method)
            if named is not None:
                found.setdefault(named[0], set()).add(named[1])
    return {
        resource_type: tuple(code for code in INTERACTION_ORDER if code in codes)
        for resource_type, codes in sorted(found.items())
    }


def capability_statement(
    routes: Mapping[str, Iterable[str]],
    *,
    base: str,
    published: datetime,
    software_version: str | None,
) -> dict[str, Any]:
    """The CapabilityStatement (FHIR R4, kind "instance") of an API serving `routes`.

    `base` is the address clients reached Cairn at (cairn.fhir.rest.service_base); "" leaves
    the implementation URL out rather than state a relative one.
    """
    software: dict[str, str] = {"name": SOFTWARE_NAME}
    if software_version:
        software["version"] = software_version
    implementation: dict[str, str] = {"description": f"{SOFTWARE_NAME} FHIR R4 API"}
    if base:
        implementation["url"] = f"{base}{BASE_PATH}"
    return {
        "resourceType": "CapabilityStatement",
        "name": "CairnCapabilityStatement",
        "title": f"{SOFTWARE_NAME} FHIR R4 API",
        "status": "active",
        "date": fhir_instant(published),
        "publisher": SOFTWARE_NAME,
        "kind": "instance",
        "software": software,
        "implementation": implementation,
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": _security(),
                "resource": [
                    _resource(resource_type, codes) for resource_type, codes in interactions(routes).items()
                ],
            }
        ],
    }


def _security() -> dict[str, Any]:
    oauth = {"system": SECURITY_SERVICE_SYSTEM, "code": "OAuth", "display": "OAuth"}
    return {
        "service": [{"coding": [oauth], "text": "OAuth2 bearer tokens issued by Amazon Cognito"}],
        "description": SECURITY_DESCRIPTION,
    }


def _resource(resource_type: str, codes: tuple[str, ...]) -> dict[str, Any]:
    resource: dict[str, Any] = {"type": resource_type, "interaction": [{"code": code} for code in codes]}
    if "search-type" in codes:
        declared = SEARCH_PARAMETERS.get(resource_type, {})
        resource["documentation"] = ANDED_DOCUMENTATION
        resource["searchParam"] = [
            *(_search_param(parameter) for parameter in declared.values()),
            {"name": COUNT_PARAMETER, "type": "number", "documentation": COUNT_DOCUMENTATION},
        ]
    return resource


def _search_param(parameter: SearchParameter) -> dict[str, str]:
    return {
        "name": parameter.name,
        "definition": parameter.definition,
        "type": parameter.type,
        "documentation": parameter.documentation,
    }
