"""Only the claims workflow writes claims: a Claim is what was sent to a payer under a control
number, and a ClaimResponse is what the payer answered, so neither may be created, changed or
deleted by the generic write paths (POST, PUT, PATCH, DELETE, Bundles, imports). The claims desk
and the workflow write them with RecordService.commit_owned, which does not ask this guard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cairn.errors import ImmutableResource

WORKFLOW_TYPES = ("Claim", "ClaimResponse")
HOW = {
    "Claim": "code the encounter with POST /claims, change its coding with PUT /claims/{id}/coding, "
    "resubmit or void it with POST /claims/{id}/resubmit or /void",
    "ClaimResponse": "they are posted from the payer's 835 remittance dropped in the clearinghouse inbox",
}


def guard_claim_change(
    current: Mapping[str, Any],
    proposed: Mapping[str, Any] | None,
    *,
    signing: bool = False,  # noqa: ARG001
) -> None:
    """Refuse every generic write of a Claim or ClaimResponse, saying which route does it."""
    resource_type = str(current.get("resourceType") or (proposed or {}).get("resourceType") or "Claim")
    raise ImmutableResource(
        f"{resource_type} resources are written by the claims workflow only: "
        + HOW.get(resource_type, HOW["Claim"])
    )


__all__ = ["WORKFLOW_TYPES", "guard_claim_change"]
