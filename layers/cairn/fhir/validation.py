"""Validation of incoming FHIR R4 resources, on write only (reads serve what was stored).

Structure comes from the fhir.resources R4B models (R4B reads R4 JSON for the resource types
Cairn stores). Cairn adds the checks those models let through: the resourceType must match the
endpoint, gender must come from its value set, FHIR JSON forbids null, empty strings, empty
arrays and empty objects, and booleans must be JSON booleans (the models coerce "yes" to True).
Every issue names the element and says what to fix; none repeats the submitted value (PHI).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from cairn.errors import InvalidResource
from cairn.fhir.outcome import issue

ADMINISTRATIVE_GENDER = ("male", "female", "other", "unknown")
JSON_BOOLEANS: Mapping[str, tuple[str, ...]] = {
    "Patient": ("active", "deceasedBoolean", "multipleBirthBoolean"),
}
DATE_HINT = "use a FHIR date: YYYY, YYYY-MM or YYYY-MM-DD"
FIX_HINTS: Mapping[str, str] = {
    "birthDate": DATE_HINT,
    "deceasedDateTime": "use a FHIR dateTime: YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss with a time zone",
}


def validate_resource(resource: object, resource_type: str) -> dict[str, Any]:
    """The resource, unchanged, if it is a valid `resource_type`; else InvalidResource."""
    if not isinstance(resource, dict):
        raise InvalidResource([issue("structure", f"the body must be a JSON object: a {resource_type}")])
    if resource.get("resourceType") != resource_type:
        raise InvalidResource([issue(
            "invalid", f"resourceType must be {resource_type!r} for this endpoint",
            f"{resource_type}.resourceType",
        )])
    issues = list(_json_rule_issues(resource, resource_type))
    issues += _value_set_issues(resource, resource_type)
    issues += _model_issues(resource, resource_type)
    if issues:
        raise InvalidResource(issues)
    return resource


def _json_rule_issues(value: object, path: str) -> Iterator[dict[str, Any]]:
    """FHIR JSON rules the models do not enforce: no null, "", [] or {} anywhere."""
    if value is None:
        yield issue("structure", "null is not allowed in FHIR JSON; omit the element instead", path)
    elif isinstance(value, str) and not value.strip():
        yield issue("value", "empty strings are not allowed; omit the element instead", path)
    elif isinstance(value, list):
        if not value:
            yield issue("structure", "empty arrays are not allowed; omit the element instead", path)
        for index, item in enumerate(value):
            yield from _json_rule_issues(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        if not value:
            yield issue("structure", "empty objects are not allowed; omit the element instead", path)
        for name, item in value.items():
            yield from _json_rule_issues(item, f"{path}.{name}")


def _value_set_issues(resource: Mapping[str, Any], resource_type: str) -> list[dict[str, Any]]:
    issues = []
    gender = resource.get("gender")
    if gender is not None and gender not in ADMINISTRATIVE_GENDER:
        issues.append(issue(
            "code-invalid", f"gender must be one of {', '.join(ADMINISTRATIVE_GENDER)}",
            f"{resource_type}.gender",
        ))
    for name in JSON_BOOLEANS.get(resource_type, ()):
        if name in resource and not isinstance(resource[name], bool):
            issues.append(issue("value", f"{name} must be a JSON boolean (true or false)",
                                f"{resource_type}.{name}"))
    return issues


def _model_issues(resource: Mapping[str, Any], resource_type: str) -> list[dict[str, Any]]:
    model = get_fhir_model_class(resource_type)
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [_issue_from_pydantic(error, resource_type) for error in exc.errors()]
    return []


def _issue_from_pydantic(error: Mapping[str, Any], resource_type: str) -> dict[str, Any]:
    location = _expression(resource_type, error.get("loc", ()))
    element = next((part for part in error.get("loc", ()) if isinstance(part, str)), "")
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return issue("structure", f"{element} is not an element of this FHIR R4 type; remove it", location)
    if kind == "missing":
        return issue("required", "this element is required", location)
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    hint = FIX_HINTS.get(element)
    return issue("value", f"{message} ({hint})" if hint else message, location)


def _expression(resource_type: str, loc: tuple[Any, ...] | list[Any]) -> str:
    """A FHIRPath-like element name from a pydantic location: ("name", 0, "given") ->
    "Patient.name[0].given"."""
    expression = resource_type
    for part in loc:
        expression += f"[{part}]" if isinstance(part, int) else f".{part}"
    return expression
