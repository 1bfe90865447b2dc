"""Validation of incoming FHIR R4 resources, on write only (reads serve what was stored).

Structure comes from the fhir.resources R4B models (R4B reads R4 JSON for the resource types
Cairn stores). Cairn adds the checks those models let through:
- the type must be one Cairn stores, and the resourceType must match the endpoint;
- codes bound to a required FHIR value set must come from it (cairn.fhir.value_sets);
- FHIR JSON forbids null, empty strings, empty arrays and empty objects;
- booleans must be JSON booleans and numbers JSON numbers, in every element the model declares
  as such (the models coerce "yes" to True and "2" to 2).
Every issue names the element and says what to fix; none repeats the submitted value (PHI).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel, ValidationError

from cairn.errors import InvalidResource
from cairn.fhir.outcome import issue
from cairn.fhir.resource_types import STORED_TYPES
from cairn.fhir.value_sets import REQUIRED_CODES, REQUIRED_CODINGS, ValueSet

DATE_HINT = "use a FHIR date: YYYY, YYYY-MM or YYYY-MM-DD"
FIX_HINTS: Mapping[str, str] = {
    "birthDate": DATE_HINT,
    "deceasedDateTime": "use a FHIR dateTime: YYYY-MM-DD, or YYYY-MM-DDThh:mm:ss with a time zone",
}
JSON_TYPE_FIXES: Mapping[str, str] = {
    "boolean": "must be a JSON boolean (true or false)",
    "integer": "must be a JSON number that is a whole number, without quotes",
    "decimal": "must be a JSON number, without quotes",
}


def validate_resource(resource: object, resource_type: str) -> dict[str, Any]:
    """The resource, unchanged, if it is a valid `resource_type`; else InvalidResource."""
    if resource_type not in STORED_TYPES:
        raise InvalidResource([issue(
            "not-supported",
            f"this resource type is not stored by Cairn; use one of {', '.join(STORED_TYPES)}",
        )])
    if not isinstance(resource, dict):
        raise InvalidResource([issue("structure", f"the body must be a JSON object: a {resource_type}")])
    if resource.get("resourceType") != resource_type:
        raise InvalidResource([issue(
            "invalid", f"resourceType must be {resource_type!r} for this endpoint",
            f"{resource_type}.resourceType",
        )])
    model = get_fhir_model_class(resource_type)
    issues = list(_json_rule_issues(resource, resource_type))
    issues += _value_set_issues(resource, resource_type)
    type_issues = list(_json_type_issues(resource, model, resource_type))
    issues += type_issues
    # One issue per element: Cairn's says what to fix where the model's would say it too.
    named = {found["expression"][0] for found in type_issues}
    issues += [found for found in _model_issues(resource, model, resource_type)
               if not named & set(found.get("expression", ()))]
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
    """Codes outside the required value set of their element (see cairn.fhir.value_sets)."""
    issues = []
    for path, value_set in REQUIRED_CODES.get(resource_type, {}).items():
        for expression, code in _values_at(resource, path.split("."), resource_type):
            if isinstance(code, str) and code.strip() and code not in value_set.codes:
                issues.append(_code_issue(expression, value_set))
    for path, value_set in REQUIRED_CODINGS.get(resource_type, {}).items():
        for expression, concept in _values_at(resource, path.split("."), resource_type):
            codings = concept.get("coding") if isinstance(concept, Mapping) else None
            for index, coding in enumerate(codings if isinstance(codings, list) else ()):
                if not isinstance(coding, Mapping) or coding.get("system") != value_set.system:
                    continue
                code = coding.get("code")
                if isinstance(code, str) and code.strip() and code not in value_set.codes:
                    issues.append(_code_issue(f"{expression}.coding[{index}].code", value_set))
    return issues


def _values_at(value: object, steps: list[str], expression: str) -> Iterator[tuple[str, object]]:
    """(expression, value) of every value at a dotted path, stepping through arrays."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _values_at(item, steps, f"{expression}[{index}]")
    elif not steps:
        yield expression, value
    elif isinstance(value, Mapping) and steps[0] in value:
        yield from _values_at(value[steps[0]], steps[1:], f"{expression}.{steps[0]}")


def _code_issue(expression: str, value_set: ValueSet) -> dict[str, Any]:
    element = expression.rsplit(".", 1)[-1].split("[")[0]
    return issue(
        "code-invalid",
        f"{element} must be a code from {value_set.url}: {', '.join(value_set.codes)}",
        expression,
    )


@dataclass(frozen=True)
class _Element:
    """What the model declares for one JSON element: a JSON primitive type and/or a datatype."""

    json_type: str | None
    model: type[BaseModel] | None


def _json_type_issues(
    value: Mapping[str, Any], model: type[BaseModel], path: str
) -> Iterator[dict[str, Any]]:
    """Booleans and numbers given as anything else (the models would coerce them), at any depth."""
    elements = _elements(model)
    for name, item in value.items():
        element = elements.get(name)
        if element is None:
            continue
        items = item if isinstance(item, list) else [item]
        for index, single in enumerate(items):
            expression = f"{path}.{name}[{index}]" if isinstance(item, list) else f"{path}.{name}"
            if element.json_type and single is not None and not _is_json_type(single, element.json_type):
                yield issue("value", f"{name} {JSON_TYPE_FIXES[element.json_type]}", expression)
            elif isinstance(single, Mapping):
                yield from _json_type_issues(single, _model_of(single, element.model), expression)


def _model_of(value: Mapping[str, Any], declared: type[BaseModel] | None) -> type[BaseModel]:
    """The model to check `value` against: its own resourceType for contained resources."""
    resource_type = value.get("resourceType")
    if isinstance(resource_type, str) and resource_type in STORED_TYPES:
        return get_fhir_model_class(resource_type)
    return declared or BaseModel


def _is_json_type(value: object, json_type: str) -> bool:
    if isinstance(value, bool):
        return json_type == "boolean"
    if json_type == "integer":
        return isinstance(value, int)
    if json_type == "decimal":
        return isinstance(value, int | float)
    return False


@cache
def _elements(model: type[BaseModel]) -> Mapping[str, _Element]:
    """JSON element name -> what the model declares for it; computed once per model class."""
    elements = {}
    for name, field in model.model_fields.items():
        json_type, datatype = _declared(field.annotation)
        if json_type or datatype:
            elements[field.alias or name] = _Element(json_type, datatype)
    return elements


def _declared(annotation: Any) -> tuple[str | None, type[BaseModel] | None]:
    """Unwraps Optional, List and Annotated down to bool/int/Decimal or a FHIR datatype model."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType, list, Annotated):
        for argument in get_args(annotation):
            if argument is not NoneType:
                return _declared(argument)
    if annotation is bool:
        return "boolean", None
    if annotation is int:
        return "integer", None
    if annotation is Decimal:
        return "decimal", None
    resolve = getattr(annotation, "get_model_klass", None)
    return (None, resolve()) if callable(resolve) else (None, None)


def _model_issues(
    resource: Mapping[str, Any], model: type[BaseModel], resource_type: str
) -> list[dict[str, Any]]:
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
    if kind in ("missing", "model_field_validation.missing"):
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
