"""Domain errors. Each is mapped to an HTTP response once, at the edge."""

from __future__ import annotations

from typing import Any


class CairnError(Exception):
    """Base of every error Cairn raises on purpose."""


class ConfigurationError(CairnError):
    """The function's environment is missing or malformed; raised at cold start."""


class TenantKeyError(CairnError):
    """A tenant's data key could not be created, read or unwrapped."""


class DecryptionError(CairnError):
    """A ciphertext failed authentication: wrong key, tenant, record or field, or tampering."""


class AccessDenied(CairnError):
    """The caller's role does not allow the action; answered as 403, audited as a denial."""


class ResourceNotFound(CairnError):
    """No such resource in the caller's tenant (or the caller may not know it exists)."""

    def __init__(self, resource_type: str, resource_id: str) -> None:
        super().__init__(f"{resource_type}/{resource_id} is not known")
        self.resource_type = resource_type
        self.resource_id = resource_id


class PatientNotFound(ResourceNotFound):
    """No such Patient in the caller's tenant, or one the caller may not see."""

    def __init__(self, patient_id: str) -> None:
        super().__init__("Patient", patient_id)


class ResourceExists(CairnError):
    """A create found its resource id already taken in the tenant (a replay, or a collision)."""

    def __init__(self, resource_type: str, resource_id: str) -> None:
        super().__init__(f"{resource_type}/{resource_id} already exists")
        self.resource_type = resource_type
        self.resource_id = resource_id


class ResourceConflict(ResourceExists):
    """The id a create derived is taken by a resource with different content: not a replay."""


class InvalidResource(CairnError):
    """A FHIR resource failed validation; `issues` are FHIR OperationOutcome.issue entries.

    Each issue names the element (`expression`, e.g. "Patient.birthDate") and says what to fix
    (`diagnostics`). Diagnostics never repeat the submitted value: it may be PHI.
    """

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(issue.get("diagnostics", "")) for issue in issues))
        self.issues = issues


class InvalidSearch(CairnError):
    """A search request used an unknown parameter or a malformed value (HTTP 400)."""


class InvalidBundle(CairnError):
    """An import is not a FHIR Bundle (not JSON, wrong resourceType, or no entry list)."""


class Unauthenticated(CairnError):
    """The caller is not identified (no or unusable verified claims); answered as 401."""


class MalformedRequest(CairnError):
    """The request cannot be read (e.g. the body is not JSON); answered as 400."""


class PayloadTooLarge(CairnError):
    """The request body is over the documented limit; answered as 413."""


class ResourceGone(ResourceNotFound):
    """The resource existed and was deleted; answered as 410 (its history remains)."""

    def __init__(self, resource_type: str, resource_id: str) -> None:
        super().__init__(resource_type, resource_id)
        self.args = (f"{resource_type}/{resource_id} was deleted; its history is still readable",)


class VersionConflict(CairnError):
    """A write was based on a version that is no longer current (HTTP 409, or 412 when the
    client named the version in If-Match)."""

    def __init__(self, resource_type: str, resource_id: str, message: str | None = None) -> None:
        super().__init__(message or (
            f"{resource_type}/{resource_id} changed while this request was being handled; "
            "read it again and retry with its current version in If-Match"))
        self.resource_type = resource_type
        self.resource_id = resource_id


class PreconditionFailed(CairnError):
    """A conditional request's precondition does not hold (If-Match names an older version,
    If-None-Exist matches several resources); answered as 412."""


class TransactionTooLarge(CairnError):
    """A transaction's writes do not fit one atomic DynamoDB transaction; answered as 400
    saying how to split it."""


class HoldTaken(CairnError):
    """A commit's hold on a unique key (a practitioner's time) is held by someone else, so
    nothing of the commit was written; answered as 409."""

    def __init__(self, scope: str, key: str, message: str | None = None) -> None:
        super().__init__(message or f"{key} is already held; choose another")
        self.scope = scope
        self.key = key


class ImmutableResource(CairnError):
    """The resource may not change any more (e.g. a signed note); answered as 409."""


class UnsupportedResourceType(CairnError):
    """A resource type Cairn does not serve; answered as 404 listing the supported types."""
