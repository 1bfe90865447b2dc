"""Patient registration, reading and search for one verified caller, audited every time.

Authorization (minimal, until roles and policies get their own issue):
  - admin, physician, nurse, front_desk: register, read and search patients;
  - billing: read and search (claims need demographics), never register;
  - patient: read only the Patient their account is linked to. Any other id answers
    "not found", exactly like a missing one, so a patient cannot probe which ids exist;
    the attempt is audited as a denial.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import AccessDenied, InvalidResource, InvalidSearch, PatientNotFound
from cairn.fhir.search import SearchQuery
from cairn.fhir.validation import validate_resource
from cairn.records.repository import BaseResourceRepository, SearchPage
from multitenant.context import Role, TenantContext

PATIENT = "Patient"
REGISTRARS = frozenset({Role.ADMIN, Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK})
READERS = REGISTRARS | {Role.BILLING}
DENIED = "access-denied"
FAILED = "error"

T = TypeVar("T")


def new_resource_id() -> str:
    return str(uuid.uuid4())


def _reason(error: Exception) -> str:
    """A reason code for the audit trail: the error's kind, never its message (may echo input)."""
    if isinstance(error, AccessDenied | _HiddenDenial):
        return DENIED
    if isinstance(error, PatientNotFound):
        return "not-found"
    if isinstance(error, InvalidResource | InvalidSearch):
        return "invalid"
    return FAILED


class PatientService:
    """The Patient use cases of one caller; wired per invocation with that caller's context."""

    def __init__(
        self,
        context: TenantContext,
        records: BaseResourceRepository,
        audit: BaseAuditTrail,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = new_resource_id,
    ) -> None:
        if records.context != context or audit.context != context:
            raise ValueError("the repository and audit trail must belong to the caller's context")
        self.context = context
        self._records = records
        self._audit = audit
        self._clock = clock
        self._new_id = new_id

    def register_patient(self, resource: object) -> dict[str, Any]:
        """Validate and store a new Patient with a server-assigned id; returns it as stored."""
        patient_id = self._new_id()

        def register() -> dict[str, Any]:
            self._require(self.context.role in REGISTRARS, "register patients")
            patient = dict(validate_resource(resource, PATIENT))
            meta = {key: value for key, value in dict(patient.get("meta") or {}).items()
                    if key not in ("versionId", "lastUpdated")}
            patient["id"] = patient_id
            patient["meta"] = {**meta, "versionId": "1", "lastUpdated": fhir_instant(self._clock())}
            self._records.add(patient)
            return patient

        return self._audited(AuditAction.CREATE, "create", patient_id, None, register)

    def read_patient(self, patient_id: str) -> dict[str, Any]:
        """The current Patient `patient_id`, or PatientNotFound."""

        def read() -> dict[str, Any]:
            if self.context.role is Role.PATIENT:
                if patient_id != self.context.patient_id:
                    raise _HiddenDenial(patient_id)
            else:
                self._require(self.context.role in READERS, "read patients")
            patient = self._records.get(PATIENT, patient_id)
            if patient is None:
                raise PatientNotFound(patient_id)
            return patient

        return self._audited(AuditAction.READ, "read", patient_id, None, read)

    def search_patients(self, query: SearchQuery) -> SearchPage:
        """Patients matching every criterion of `query` (see cairn.fhir.search)."""

        def search() -> SearchPage:
            self._require(self.context.role in READERS, "search patients")
            return self._records.search(query)

        return self._audited(AuditAction.EXECUTE, "search-type", None,
                             ",".join(query.parameter_names) or None, search)

    def _require(self, allowed: bool, action: str) -> None:
        if not allowed:
            raise AccessDenied(f"the {self.context.role.value} role may not {action}")

    def _audited(
        self, action: AuditAction, subtype: str, entity_id: str | None, detail: str | None,
        operation: Callable[[], T],
    ) -> T:
        """Run `operation` and record its outcome, success or failure, before answering."""
        try:
            result = operation()
        except Exception as error:
            # Refusals (denied, not found, invalid) are minor; Cairn failing to serve is serious,
            # including a ciphertext that no longer decrypts.
            code = _reason(error)
            outcome = AuditOutcome.SERIOUS_FAILURE if code == FAILED else AuditOutcome.MINOR_FAILURE
            # A create that failed made nothing: its would-be id names no entity.
            failed_entity = None if action is AuditAction.CREATE else entity_id
            reason = ":".join(filter(None, (detail, code)))
            self._record(action, subtype, outcome, failed_entity, reason)
            if isinstance(error, _HiddenDenial):
                raise PatientNotFound(error.resource_id) from None
            raise
        self._record(action, subtype, AuditOutcome.SUCCESS, entity_id, detail)
        return result

    def _record(
        self, action: AuditAction, subtype: str, outcome: AuditOutcome, entity_id: str | None,
        detail: str | None,
    ) -> None:
        self._audit.record(AuditEvent(action, subtype, outcome, PATIENT, entity_id, detail or None))


class _HiddenDenial(PatientNotFound):
    """A denial answered as not found; audited as the denial it is."""
