"""The billing worklist: a FHIR Task for each claim that needs a person (a failed scrub, a
rejection, a denial, an answer that never came, a workflow failure), listing every reason.

One open Task per claim: a new problem rewrites the claim's open Task instead of piling up
another, and a claim that moves on (a resubmission passes its scrub, a payment is posted)
completes it. Reasons name elements and codes, never the patient's data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TASK_SYSTEM = "https://cairn.health/fhir/CodeSystem/claim-task"
OPEN_STATUSES = ("requested", "ready", "in-progress", "on-hold")
# What the Task asks of the billing staff, by its code.
KINDS: Mapping[str, str] = {
    "scrub-failed": "Correct the claim: it did not pass the scrub",
    "invalid-837": "The generated 837P did not validate: report it to Cairn support",
    "rejected-999": "The clearinghouse rejected the claim's file",
    "rejected-277CA": "The payer rejected the claim",
    "overdue-999": "No 999 acknowledgement from the clearinghouse yet",
    "overdue-277CA": "No 277CA acknowledgement from the payer yet",
    "overdue-835": "No 835 remittance from the payer yet",
    "stalled": "The claim got no answer: follow up with the clearinghouse or payer",
    "denied": "The payer denied the claim",
    "failed": "The claims workflow failed: retry by resubmitting, or report it",
}
MAX_REASONS = 50


def claim_task(
    kind: str,
    claim: Mapping[str, Any],
    claim_number: str,
    reasons: Sequence[str],
    authored: str,
    current: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The claim's Task of `kind` with `reasons`: `current` (its open Task) rewritten, or a new one."""
    title = KINDS[kind]
    listed = list(reasons[:MAX_REASONS]) or [title]
    task: dict[str, Any] = {
        **(dict(current) if current else {}),
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "priority": "urgent" if kind in ("denied", "rejected-277CA", "stalled") else "routine",
        "code": {"coding": [{"system": TASK_SYSTEM, "code": kind, "display": title}], "text": title},
        "description": f"Claim {claim_number}: {title}. "
        + " ".join(f"({i}) {r}" for i, r in enumerate(listed, 1)),
        "focus": {"reference": f"Claim/{claim.get('id')}"},
        "authoredOn": authored,
        "lastModified": authored,
        "performerType": [{"text": "billing"}],
        "input": [{"type": {"text": "reason"}, "valueString": reason} for reason in listed],
    }
    patient = (claim.get("patient") or {}).get("reference")
    if patient:
        task["for"] = {"reference": patient}
    if current:
        task["authoredOn"] = current.get("authoredOn", authored)
    return task


def completed(task: Mapping[str, Any], at: str) -> dict[str, Any]:
    """The Task closed because the claim moved on."""
    return {**task, "status": "completed", "lastModified": at}


def is_open(task: Mapping[str, Any] | None) -> bool:
    return bool(task) and (task or {}).get("status") in OPEN_STATUSES
