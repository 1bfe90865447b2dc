"""FHIR OperationOutcome: how every error reaches a FHIR client."""

from __future__ import annotations

from typing import Any


def issue(
    code: str, diagnostics: str, expression: str | None = None, severity: str = "error"
) -> dict[str, Any]:
    """One OperationOutcome.issue; `expression` names the element (e.g. "Patient.birthDate")."""
    entry: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        entry["expression"] = [expression]
    return entry


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    """An OperationOutcome resource holding `issues`."""
    return {"resourceType": "OperationOutcome", "issue": issues}
