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
from cairn.fhir.resource_types import READ_ONLY_TYPES, SUPPORTED_TYPES
from cairn.fhir.rest import BASE_PATH
from cairn.fhir.search import (
    ANDED_DOCUMENTATION,
    CONTROL_PARAMETERS,
    SEARCH_PARAMETERS,
    ParameterType,
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
TYPE_VARIABLE = "{type}"

# FHIR RESTful interactions by the shape of their path under the base and their HTTP method:
# "{type}" is a resource type (a literal one, or the route's {type} variable: every supported
# type), "{id}" any path variable.
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
SYSTEM_INTERACTIONS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("", "POST"): ("transaction", "batch"),
}
# Routes that carry FHIR operations ($name) on a type or an instance: stated under `operation`,
# not as interactions. (GET [type]/$op shares the read route; the view tells them apart.)
OPERATION_SHAPES = frozenset(
    {("{type}/{id}/{id}", "GET"), ("{type}/{id}/{id}", "POST"), ("{type}/{id}", "POST")}
)
INTERACTION_ORDER = tuple(dict.fromkeys(TYPE_INTERACTIONS.values()))  # FHIR's order
# What a read-only type (served from the audit trail) answers of the type routes.
READ_ONLY_INTERACTIONS = frozenset({"read", "search-type"})
# FHIR operations Cairn serves, by resource type ("" for the system level): name -> definition.
BULK_EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition"
CORE = "http://hl7.org/fhir/SearchParameter"
CAIRN_OPERATION = "https://cairn.health/fhir/OperationDefinition"
OPERATIONS: Mapping[str, Mapping[str, str]] = {
    "": {"export": f"{BULK_EXPORT}/export"},
    "Patient": {"everything": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                "export": f"{BULK_EXPORT}/patient-export"},
    "Group": {"export": f"{BULK_EXPORT}/group-export"},
    "Composition": {"draft": f"{CAIRN_OPERATION}/Composition-draft",
                    "sign": f"{CAIRN_OPERATION}/Composition-sign",
                    "amend": f"{CAIRN_OPERATION}/Composition-amend"},
    "DocumentReference": {"content": f"{CAIRN_OPERATION}/DocumentReference-content",
                          "upload": f"{CAIRN_OPERATION}/DocumentReference-upload"},
    "Appointment": {name: f"{CAIRN_OPERATION}/Appointment-{name}"
                    for name in ("confirm", "reschedule", "cancel", "check-in", "complete", "no-show")},
}
# AuditEvent is read from the audit trail's own keys, not the chart's index (cairn.audit.fhir_view).
AUDIT_EVENT_SEARCH: tuple[dict[str, str], ...] = (
    {"name": "entity", "type": "reference", "definition": f"{CORE}/AuditEvent-entity",
     "documentation": "Events about one resource (Type/id) or a type; newest first."},
    {"name": "patient", "type": "reference", "definition": f"{CORE}/AuditEvent-patient",
     "documentation": "Events about Patient/<id> (the access report of one patient's record)."},
    {"name": "date", "type": "date", "definition": f"{CORE}/AuditEvent-date",
     "documentation": "ge/gt/le/lt/eq a day or instant; without an entity at most 31 days "
                      "(default: the last 7)."},
    {"name": "_count", "type": "number", "documentation": "Page size, 1 to 100."},
    {"name": "_cursor", "type": "string", "documentation": "The opaque page token of a next link."},
)
CAPABILITY_NOTES = (
    "Versioned: every create, update, patch and delete keeps a version (vread, _history); "
    "update needs an existing resource (no update-as-create) and honours If-Match (412 on a stale "
    "version); create honours If-None-Exist; delete is soft (410 afterwards, history kept). "
    "References must be relative (Type/id) to resources of the same clinic."
)
RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]+")
PATH_VARIABLE = re.compile(r"\{[^}]+\}")


class UndeclaredInteraction(ValueError):
    """A route under the FHIR base is not an interaction the CapabilityStatement can state."""


def _shape(path: str) -> tuple[str, str]:
    """(first segment, the path's shape) of a route under the base."""
    first, _, rest = path.removeprefix(f"{BASE_PATH}/").partition("/")
    shape = "/".join(["{type}", *(PATH_VARIABLE.sub("{id}", part) for part in rest.split("/") if part)])
    return first, shape


def fhir_interaction(path: str, method: str) -> tuple[str, str] | None:
    """(resource type or "{type}", interaction code) of a route; None for the metadata route,
    operation routes, system routes and routes outside the FHIR base. Raises
    UndeclaredInteraction for any other route under the base."""
    if (path, method.upper()) == (METADATA_PATH, "GET"):
        return None
    if path != BASE_PATH and not path.startswith(f"{BASE_PATH}/"):
        return None
    if path == BASE_PATH and ("", method.upper()) in SYSTEM_INTERACTIONS:
        return None
    first, shape = _shape(path)
    if first.startswith("$") or (shape, method.upper()) in OPERATION_SHAPES:
        return None  # a system-level operation ([base]/$export), or one on a type or instance
    interaction = TYPE_INTERACTIONS.get((shape, method.upper()))
    if interaction is None or not (first == TYPE_VARIABLE or RESOURCE_TYPE.fullmatch(first)):
        raise UndeclaredInteraction(
            f"{method} {path} is not a FHIR interaction the CapabilityStatement can state; "
            "add it to cairn.fhir.capability.TYPE_INTERACTIONS"
        )
    return first, interaction


def interactions(routes: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """Resource type -> its interaction codes in FHIR's order, from routes (path -> methods).
    A route on the {type} variable applies to every supported type; read-only types keep only
    the reads they answer."""
    found: dict[str, set[str]] = {}
    for path, methods in routes.items():
        for method in methods:
            named = fhir_interaction(path, method)
            if named is None:
                continue
            types = SUPPORTED_TYPES if named[0] == TYPE_VARIABLE else (named[0],)
            for resource_type in types:
                if resource_type in READ_ONLY_TYPES and named[1] not in READ_ONLY_INTERACTIONS:
                    continue
                found.setdefault(resource_type, set()).add(named[1])
    return {
        resource_type: tuple(code for code in INTERACTION_ORDER if code in found[resource_type])
        for resource_type in SUPPORTED_TYPES
        if resource_type in found
    }


def system_interactions(routes: Mapping[str, Iterable[str]]) -> tuple[str, ...]:
    """The whole-system interactions the routes serve (transaction, batch)."""
    codes: list[str] = []
    for path, methods in routes.items():
        if path == BASE_PATH:
            for method in methods:
                codes += SYSTEM_INTERACTIONS.get(("", method.upper()), ())
    return tuple(dict.fromkeys(codes))


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
    rest: dict[str, Any] = {
        "mode": "server",
        "documentation": CAPABILITY_NOTES,
        "security": _security(),
        "resource": [
            _resource(resource_type, codes) for resource_type, codes in interactions(routes).items()
        ],
    }
    system = system_interactions(routes)
    if system:
        rest["interaction"] = [{"code": code} for code in system]
    system_operations = OPERATIONS.get("", {})
    if system_operations:
        rest["operation"] = [{"name": name, "definition": url} for name, url in system_operations.items()]
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
        "patchFormat": ["application/json-patch+json"],
        "rest": [rest],
    }


def _security() -> dict[str, Any]:
    oauth = {"system": SECURITY_SERVICE_SYSTEM, "code": "OAuth", "display": "OAuth"}
    return {
        "service": [{"coding": [oauth], "text": "OAuth2 bearer tokens issued by Amazon Cognito"}],
        "description": SECURITY_DESCRIPTION,
    }


def _resource(resource_type: str, codes: tuple[str, ...]) -> dict[str, Any]:
    resource: dict[str, Any] = {"type": resource_type, "interaction": [{"code": code} for code in codes]}
    if resource_type not in READ_ONLY_TYPES:
        resource.update(
            {
                "versioning": "versioned-update",
                "readHistory": True,
                "updateCreate": False,
                "conditionalCreate": True,
                "conditionalUpdate": False,
                "conditionalDelete": "not-supported",
                "referencePolicy": ["literal", "local", "enforced"],
            }
        )
    declared = SEARCH_PARAMETERS.get(resource_type, {})
    if "search-type" in codes and declared:
        references = [p.name for p in declared.values() if p.type is ParameterType.REFERENCE]
        resource["searchInclude"] = [f"{resource_type}:{name}" for name in references]
        resource["searchRevInclude"] = sorted(
            f"{source}:{p.name}"
            for source, params in SEARCH_PARAMETERS.items()
            for p in params.values()
            if p.type is ParameterType.REFERENCE and resource_type in p.targets
        )
        resource["documentation"] = ANDED_DOCUMENTATION
        resource["searchParam"] = [
            *(_search_param(parameter) for parameter in declared.values()),
            *(
                {"name": name, "type": "number" if name == "_count" else "string", "documentation": text}
                for name, text in CONTROL_PARAMETERS.items()
            ),
        ]
    if resource_type in READ_ONLY_TYPES and "search-type" in codes:
        resource["searchParam"] = [dict(param) for param in AUDIT_EVENT_SEARCH]
    operations = OPERATIONS.get(resource_type, {})
    if operations:
        resource["operation"] = [{"name": name, "definition": url} for name, url in operations.items()]
    return resource


def _search_param(parameter: SearchParameter) -> dict[str, str]:
    return {
        "name": parameter.name,
        "definition": parameter.definition,
        "type": str(parameter.type),
        "documentation": parameter.documentation,
    }
