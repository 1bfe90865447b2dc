"""References inside a resource: finding, rewriting, and refusing those Cairn cannot resolve.

A chart resource points at others through the FHIR Reference datatype: an object whose
`reference` is a string. Cairn resolves only references it can follow inside the caller's
tenant: relative "Type/id" to a type it serves, "#id" to a contained resource, and whatever the
caller explicitly allows (a transaction Bundle allows the urn:uuid fullUrls of its own entries,
then rewrites them to "Type/id" with rewrite_references). Absolute URLs, conditional references
outside a Bundle and types Cairn does not serve would be dangling links in the chart.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cairn.fhir.outcome import issue
from cairn.fhir.resource_types import SUPPORTED_TYPES

RELATIVE_REFERENCE = re.compile(
    r"(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?"
)
ABSOLUTE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
RELATIVE_FORM = "Type/id, where id is 1 to 64 letters, digits, '-' or '.'"


@dataclass(frozen=True)
class Reference:
    """One Reference in a resource: where it sits ("Appointment.participant[0].actor") and its value."""

    path: str
    reference: str


def find_references(resource: Mapping[str, Any]) -> list[Reference]:
    """Every Reference in `resource`, in document order; contained resources are left out (their
    references are resolved against the container, not the tenant)."""
    root = str(resource.get("resourceType", "Resource"))
    return [
        found
        for name, value in resource.items() if name != "contained"
        for found in _references_in(value, f"{root}.{name}")
    ]


def _references_in(value: object, path: str) -> Iterator[Reference]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references_in(item, f"{path}[{index}]")
    elif isinstance(value, Mapping):
        if isinstance(value.get("reference"), str):
            yield Reference(path, value["reference"])
        # A Reference can hold one too: Reference.identifier.assigner.
        for name, item in value.items():
            if name != "reference":
                yield from _references_in(item, f"{path}.{name}")


def rewrite_references(resource: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """A deep copy of `resource` with every reference that is a key of `mapping` replaced by its
    value (a Bundle's "urn:uuid:..." or conditional references -> "Type/id"). Contained resources
    are rewritten too: they may point at another entry of the same Bundle."""
    rewritten: dict[str, Any] = copy.deepcopy(dict(resource))
    _rewrite(rewritten, mapping)
    return rewritten


def _rewrite(value: object, mapping: Mapping[str, str]) -> None:
    if isinstance(value, list):
        for item in value:
            _rewrite(item, mapping)
    elif isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str) and reference in mapping:
            value["reference"] = mapping[reference]
        for name, item in value.items():
            if name != "reference":
                _rewrite(item, mapping)


def relative_target(reference: str) -> tuple[str, str] | None:
    """(type, id) of a relative reference "Type/id" or "Type/id/_history/v" (the version is
    dropped) to a type Cairn serves; None for anything else."""
    match = RELATIVE_REFERENCE.fullmatch(reference)
    if match is None or match["type"] not in SUPPORTED_TYPES:
        return None
    return match["type"], match["id"]


def reference_issues(
    resource: Mapping[str, Any], allow: Callable[[str], bool] = lambda _reference: False
) -> list[dict[str, Any]]:
    """OperationOutcome issues for every reference Cairn cannot resolve within the tenant.

    Accepted: relative "Type/id" to a supported type, "#id" naming a contained resource ("#" alone
    is the container), and any reference `allow` accepts. Issues never repeat the reference: it
    may embed an identifier (a conditional reference carries an MRN).
    """
    contained_ids = {
        item.get("id") for item in resource.get("contained", ()) if isinstance(item, Mapping)
    }
    issues = []
    for found in find_references(resource):
        problem = _problem(found.reference, contained_ids, allow)
        if problem:
            issues.append(issue(*problem, found.path))
    return issues


def _problem(
    reference: str, contained_ids: set[Any], allow: Callable[[str], bool]
) -> tuple[str, str] | None:
    """(issue code, what to fix) for an unresolvable reference; None when Cairn can resolve it."""
    if relative_target(reference) or allow(reference):
        return None
    if reference.startswith("#"):
        if reference == "#" or reference[1:] in contained_ids:
            return None
        return "not-found", "no contained resource has this id; add it to contained or refer to Type/id"
    if reference.startswith("urn:uuid:") or reference.startswith("urn:oid:"):
        return "not-found", (
            "a urn reference resolves only inside a transaction Bundle holding an entry with that "
            f"fullUrl; otherwise use {RELATIVE_FORM}"
        )
    if ABSOLUTE_URL.match(reference):
        return "not-supported", (
            f"use a relative reference {RELATIVE_FORM} to a resource of this clinic; "
            "absolute URLs are not resolved"
        )
    if "?" in reference:
        return "not-supported", (
            f"conditional references resolve only in a transaction Bundle; use {RELATIVE_FORM}"
        )
    return "invalid", (
        f"use a relative reference {RELATIVE_FORM}, with Type one of {', '.join(SUPPORTED_TYPES)}"
    )
