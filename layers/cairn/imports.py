"""Importing a FHIR Bundle into one tenant, entry by entry, through the same services as the API.

Nothing is dropped: each entry is created, found already imported, rejected with its index
and reason, or counted as skipped by resource type (types Cairn does not store yet).

An import is idempotent, because the workflow retries it: each entry's Patient id is derived
from the tenant, the bundle's key and the entry's fullUrl (or its index), so importing the same
bundle again finds its Patients stored ("existing") instead of storing them twice.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.errors import AccessDenied, InvalidBundle, InvalidResource, ResourceConflict
from cairn.patients import DENIED, PATIENT, PatientService
from multitenant.context import TenantContext

# Namespace of imported resource ids (uuid5); fixed forever, or replays would get new ids.
IMPORTED_ID_NAMESPACE = uuid.UUID("5f0c8e2e-3b7a-4c52-9a0e-6f1d2b8c4a17")
BUNDLE = "Bundle"
CONFLICT_REASON = (
    "an earlier import of this bundle key stored a different Patient for this entry "
    "(was the bundle replaced, or does it repeat a fullUrl?); import it under a new key"
)


@dataclass
class ImportSummary:
    created: list[dict[str, str]] = field(default_factory=list)  # {"fullUrl", "id"}
    existing: list[dict[str, str]] = field(default_factory=list)  # imported before: {"fullUrl", "id"}
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"index", "reason"}
    skipped: Counter[str] = field(default_factory=Counter)  # resource type -> entries

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "existing": self.existing, "rejected": self.rejected,
                "skipped": dict(self.skipped)}


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


def read_bundle(s3: Any, bucket: str, audit: BaseAuditTrail, bundle_key: str) -> dict[str, Any]:
    """The Bundle stored at `bundle_key` in the prefix of the audit trail's tenant, parsed;
    InvalidBundle if it is not JSON or not a Bundle with an entry list. A key outside that
    prefix is refused (AccessDenied) and audited as a denial, without the key (it may name a
    person)."""
    try:
        require_tenant_key(audit.context, bundle_key)
    except AccessDenied:
        audit.record(AuditEvent(AuditAction.EXECUTE, "import", AuditOutcome.MINOR_FAILURE, BUNDLE, None,
                                DENIED))
        raise
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


def imported_id(tenant_id: str, bundle_key: str, entry: dict[str, Any], index: int) -> str:
    """The id of the resource of `entry`, the same on every import of the bundle at `bundle_key`.

    FHIR requires fullUrl to be unique within a Bundle, so distinct entries get distinct ids
    (entries without one are told apart by index); the import still compares the stored
    resource on a taken id, in case a bundle breaks that rule or is replaced at the same key.
    """
    full_url = entry.get("fullUrl")
    source = f"fullUrl:{full_url}" if isinstance(full_url, str) and full_url else f"index:{index}"
    return str(uuid.uuid5(IMPORTED_ID_NAMESPACE, "\n".join((tenant_id, bundle_key, source))))


def import_bundle(patients: PatientService, bundle: dict[str, Any], bundle_key: str) -> ImportSummary:
    """Import every Patient entry of `bundle`, stored at `bundle_key`; other resource types are
    counted as skipped. Importing the same bundle again stores nothing twice."""
    summary = ImportSummary()
    tenant_id = patients.context.tenant_id
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
            registration = patients.import_patient(resource, imported_id(tenant_id, bundle_key, entry, index))
        except InvalidResource as exc:
            summary.rejected.append({"index": index, "reason": _reason(exc)})
            continue
        except ResourceConflict:
            summary.rejected.append({"index": index, "reason": CONFLICT_REASON})
            continue
        imported = {"fullUrl": str(entry.get("fullUrl", "")), "id": registration.patient["id"]}
        (summary.created if registration.created else summary.existing).append(imported)
    return summary


def _reason(error: InvalidResource) -> str:
    return "; ".join(
        f"{', '.join(issue.get('expression') or ['Bundle.entry.resource'])}: {issue.get('diagnostics', '')}"
        for issue in error.issues
    )
