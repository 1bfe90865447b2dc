"""Patient registration, reading and search for one verified caller, audited every time.

Authorization comes from the one permission table (multitenant.permissions): which roles may
create, read and search Patients. A patient user reads only the Patient in their own compartment;
any other id answers "not found", exactly like a missing one, so a patient cannot probe which ids
exist; the attempt is audited as a denial. A restricted Patient (see multitenant.permissions) is
read only by admins, the patient, and clinicians with an open break-glass grant (cairn.break_glass);
searches leave it out for everyone else.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.break_glass import GRANT_MINUTES, BaseBreakGlassLedger, BreakGlassGrant
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import (
    AccessDenied,
    InvalidResource,
    InvalidSearch,
    PatientNotFound,
    ResourceConflict,
    ResourceExists,
)
from cairn.fhir.search import SearchQuery
from cairn.fhir.validation import validate_resource
from cairn.records.repository import BaseResourceRepository, SearchPage
from multitenant import permissions
from multitenant.context import Role, TenantContext
from multitenant.permissions import Action

PATIENT = permissions.PATIENT
SERVER_META = ("versionId", "lastUpdated")
DENIED = "access-denied"
FAILED = "error"
EXISTING = "existing"  # an idempotent create found its resource already stored

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
    if isinstance(error, ResourceConflict):
        return "conflict"
    return FAILED


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    """What two stores of one resource share: everything but the server's version metadata."""
    meta = {key: value for key, value in dict(resource.get("meta") or {}).items() if key not in SERVER_META}
    return {**resource, "meta": meta}


@dataclass(frozen=True)
class Registration:
    """A Patient as stored, and whether this call stored it (False: an earlier call had)."""

    patient: dict[str, Any]
    created: bool


class PatientService:
    """The Patient use cases of one caller; wired per invocation with that caller's context."""

    def __init__(
        self,
        context: TenantContext,
        records: BaseResourceRepository,
        audit: BaseAuditTrail,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = new_resource_id,
        grants: BaseBreakGlassLedger | None = None,
    ) -> None:
        if records.context != context or audit.context != context:
            raise ValueError("the repository and audit trail must belong to the caller's context")
        if grants is not None and grants.context != context:
            raise ValueError("the break-glass ledger must belong to the caller's context")
        self.context = context
        self._records = records
        self._audit = audit
        self._clock = clock
        self._new_id = new_id
        self._grants = grants

    def register_patient(self, resource: object) -> dict[str, Any]:
        """Validate and store a new Patient with a server-assigned id; returns it as stored."""
        patient_id = self._new_id()

        def register() -> dict[str, Any]:
            patient = self._new_patient(resource, patient_id)
            self._records.add(patient)
            return patient

        return self._audited(AuditAction.CREATE, "create", patient_id, None, register)

    def import_patient(self, resource: object, patient_id: str) -> Registration:
        """Validate and store `resource` as Patient `patient_id`, an id derived from where the
        resource came from (see cairn.imports), so that replaying an import stores it once.

        If that id is already taken by the same Patient (a replay), answers it with
        created=False; if by a different one, raises ResourceConflict and stores nothing.
        """

        def register() -> Registration:
            patient = self._new_patient(resource, patient_id)
            try:
                self._records.add(patient)
            except ResourceExists:
                stored = self._records.get(PATIENT, patient_id)
                if stored is None or _content(stored) != _content(patient):
                    raise ResourceConflict(PATIENT, patient_id) from None
                return Registration(stored, created=False)
            return Registration(patient, created=True)

        return self._audited(AuditAction.CREATE, "create", patient_id, None, register,
                             detail_of=lambda done: None if done.created else EXISTING)

    def read_patient(self, patient_id: str) -> dict[str, Any]:
        """The current Patient `patient_id`, or PatientNotFound."""

        def read() -> dict[str, Any]:
            permissions.require(self.context, PATIENT, Action.READ)
            # A patient user's compartment is known before the read: no lookup of other ids.
            if self.context.role is Role.PATIENT and patient_id != self.context.patient_id:
                raise _HiddenDenial(patient_id)
            patient = self._records.get(PATIENT, patient_id)
            if patient is None:
                raise PatientNotFound(patient_id)
            if not permissions.in_compartment(self.context, patient):
                raise _HiddenDenial(patient_id)
            if permissions.needs_break_glass(self.context, patient):
                grant = self._open_grant(patient_id)
                if grant is None:
                    raise RestrictedPatient(patient_id)
                through.append(f"break-glass:{grant.grant_id}")
            return patient

        through: list[str] = []  # the grant a restricted read went through, for the audit
        return self._audited(AuditAction.READ, "read", patient_id, None, read,
                             detail_of=lambda _: through[0] if through else None)

    def search_patients(self, query: SearchQuery) -> SearchPage:
        """Patients matching every criterion of `query` (see cairn.fhir.search)."""

        def search() -> SearchPage:
            permissions.require(self.context, PATIENT, Action.SEARCH)
            page = self._records.search(query)
            shown = [patient for patient in page.resources
                     if not permissions.needs_break_glass(self.context, patient)
                     or self._open_grant(str(patient.get("id"))) is not None]
            hidden = len(page.resources) - len(shown)
            return SearchPage(shown, None if page.total is None else page.total - hidden)

        return self._audited(AuditAction.EXECUTE, "search-type", None,
                             ",".join(query.parameter_names) or None, search)

    def _new_patient(self, resource: object, patient_id: str) -> dict[str, Any]:
        """`resource` validated, as version 1 of Patient `patient_id` (client meta kept, but
        not versionId or lastUpdated)."""
        permissions.require(self.context, PATIENT, Action.CREATE)
        patient = dict(validate_resource(resource, PATIENT))
        meta = {key: value for key, value in dict(patient.get("meta") or {}).items()
                if key not in SERVER_META}
        patient["id"] = patient_id
        patient["meta"] = {**meta, "versionId": "1", "lastUpdated": fhir_instant(self._clock())}
        return patient

    def _open_grant(self, patient_id: str) -> BreakGlassGrant | None:
        if self._grants is None:
            return None
        return self._grants.open_grant(self.context.user_id, patient_id, self._clock())

    def _audited(
        self, action: AuditAction, subtype: str, entity_id: str | None, detail: str | None,
        operation: Callable[[], T], detail_of: Callable[[T], str | None] | None = None,
    ) -> T:
        """Run `operation` and record its outcome, success or failure, before answering;
        `detail_of` adds what the result says (e.g. that a create found its resource existing)."""
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
        noted = detail_of(result) if detail_of else None
        self._record(action, subtype, AuditOutcome.SUCCESS, entity_id,
                     ":".join(filter(None, (detail, noted))))
        return result

    def _record(
        self, action: AuditAction, subtype: str, outcome: AuditOutcome, entity_id: str | None,
        detail: str | None,
    ) -> None:
        self._audit.record(AuditEvent(action, subtype, outcome, PATIENT, entity_id, detail or None))


class RestrictedPatient(AccessDenied):
    """A restricted Patient read without an open break-glass grant (403, audited as a denial)."""

    def __init__(self, patient_id: str) -> None:
        super().__init__(
            f"Patient/{patient_id} is restricted: a physician or nurse may open it for "
            f"{GRANT_MINUTES} minutes with POST /access/break-glass/{patient_id} and a reason")


class _HiddenDenial(PatientNotFound):
    """A denial answered as not found; audited as the denial it is."""
