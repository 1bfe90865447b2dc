"""Importing a FHIR Bundle into one tenant, entry by entry, through the same services as the API.

Nothing is dropped: each entry is created, rejected with its index and reason, or counted as
skipped by resource type (types Cairn does not store yet).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cairn.errors import AccessDenied, InvalidBundle, InvalidResource
from cairn.patients import PATIENT, PatientService
from multitenant.context import TenantContext


@dataclass
class ImportSummary:
    created: list[dict[str, str]] = field(default_factory=list)  # {"fullUrl", "id"}
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"index", "reason"}
    skipped: Counter[str] = field(default_factory=Counter)  # resource type -> entries

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "rejected": self.rejected, "skipped": dict(self.skipped)}


@dataclass(frozen=True)
class BundleImportRequest:
    """The workflow's input: which tenant, and the object key of the Bundle in its prefix."""

    tenant_id: str
    bundle_key: str

    @classmethod
    def from_event(cls, event: object) -> BundleImportRequest:
        if not isinstance(event, dict):
            raise InvalidBundle("the import event must be an object with tenant_id and bundle_key")
        tenant_id, bundle_key = event.get("tenant_id"), event.get("bundle_key")
        if not isinstance(tenant_id, str) or not isinstance(bundle_key, str) or not bundle_key:
            raise InvalidBundle("the import event needs tenant_id and bundle_key strings")
        return cls(tenant_id, bundle_key)


def tenant_prefix(tenant_id: str) -> str:
    return f"tenants/{tenant_id}/"


def require_tenant_key(context: TenantContext, bundle_key: str) -> None:
    """Refuse an object key outside the tenant's prefix: a workflow input is not a claim."""
    if not bundle_key.startswith(tenant_prefix(context.tenant_id)) or ".." in bundle_key.split("/"):
        raise AccessDenied(f"bundle keys of this tenant must start with {tenant_prefix(context.tenant_id)}")


def read_bundle(s3: Any, bucket: str, context: TenantContext, bundle_key: str) -> dict[str, Any]:
    """The Bundle stored at `bundle_key` in the tenant's prefix, parsed; InvalidBundle if it is
    not JSON or not a Bundle with an entry list."""
    require_tenant_key(context, bundle_key)
    body = s3.get_object(Bucket=bucket, Key=bundle_key)["Body"].read()
    try:
        bundle = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidBundle(f"{bundle_key} is not JSON") from exc
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidBundle(f"{bundle_key} is not a FHIR Bundle")
    if not isinstance(bundle.get("entry", []), list):
        raise InvalidBundle(f"{bundle_key} has an entry element that is not a list")
    return bundle


def import_bundle(patients: PatientService, bundle: dict[str, Any]) -> ImportSummary:
    """Import every Patient entry of `bundle`; other resource types are counted as skipped."""
    summary = ImportSummary()
    for index, entry in enumerate(bundle.get("entry", [])):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            summary.rejected.append({"index": index, "reason": "entry has no resource object"})
            continue
        resource_type = str(resource.get("resourceType", "unknown"))
        if resource_type != PATIENT:
            summary.skipped[resource_type] += 1
            continue
        try:
            created = patients.register_patient(resource)
        except InvalidResource as exc:
            summary.rejected.append({"index": index, "reason": _reason(exc)})
            continue
        summary.created.append({"fullUrl": str(entry.get("fullUrl", "")), "id": created["id"]})
    return summary


def _reason(error: InvalidResource) -> str:
    return "; ".join(
        f"{', '.join(issue.get('expression') or ['Bundle.entry.resource'])}: {issue.get('diagnostics', '')}"
        for issue in error.issues
    )
