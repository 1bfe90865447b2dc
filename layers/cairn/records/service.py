"""The chart's FHIR interactions for one verified caller, audited every time.

One service for every resource type: create (and conditional create), read, vread, update
(If-Match), JSON Patch, soft delete, history, search and Patient/$everything. Each asks the one
permission table (multitenant.permissions) before it touches a record, and then the record rules:
  - a patient user reaches only their own compartment; another's record answers "not found",
    exactly like a missing one, and their searches are narrowed to their compartment;
  - a restricted Patient, and every record in its compartment, is read only by admins, the
    patient, and clinicians with an open break-glass grant (cairn.break_glass); searches leave
    such records out for everyone else;
  - writes are validated (cairn.fhir.validation) and their references must name resources of
    this clinic; type-specific guards (a signed note is immutable) run on every write path.
Every call leaves one AuditEvent with its outcome, before it answers.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs

import jsonpatch

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.fhir_view import AuditEventReader
from cairn.audit.trail import BaseAuditTrail
from cairn.break_glass import GRANT_MINUTES, BaseBreakGlassLedger, BreakGlassGrant
from cairn.bulk_export import BulkExportService, ExportJobNotFound, ExportStatus
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.documents import DocumentContent
from cairn.errors import (
    AccessDenied,
    HoldTaken,
    ImmutableResource,
    InvalidResource,
    InvalidSearch,
    MalformedRequest,
    PatientNotFound,
    PreconditionFailed,
    ResourceConflict,
    ResourceExists,
    ResourceGone,
    ResourceNotFound,
    VersionConflict,
)
from cairn.fhir import resource_types, search
from cairn.fhir.outcome import issue
from cairn.fhir.references import find_references, reference_issues, relative_target
from cairn.fhir.search import SearchQuery
from cairn.fhir.validation import validate_resource
from cairn.records.repository import (
    BaseResourceRepository,
    Change,
    ChangeKind,
    HistoryPage,
    Hold,
    SearchPage,
    StoredVersion,
)
from multitenant import permissions
from multitenant.context import Role, TenantContext
from multitenant.permissions import Action

PATIENT = resource_types.PATIENT
AUDIT_EVENT = resource_types.AUDIT_EVENT
DOCUMENT_REFERENCE = "DocumentReference"
EXPORT_JOB = "ExportJob"  # Cairn's own: a bulk export job, in the audit trail
SERVER_META = ("versionId", "lastUpdated")
DENIED = "access-denied"
FAILED = "error"
EXISTING = "existing"  # an idempotent create found its resource already stored
EVERYTHING_LIMIT = 20_000  # resources one $everything answers; a bulk export serves more

T = TypeVar("T")


class WriteGuard(Protocol):
    """A rule on a type's writes: sees the current version (empty for a create) and the proposed
    one (None: a delete) and raises (e.g. ImmutableResource) to refuse; `signing` is True only
    for the note-signing write (cairn.notes.sign_note), which no HTTP route can ask for."""

    def __call__(
        self, current: Mapping[str, Any], proposed: Mapping[str, Any] | None, *, signing: bool = False
    ) -> None: ...


def new_resource_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Written:
    """A resource as stored by a create, and whether this call stored it (False: an earlier
    call had — a conditional create that matched, or a replayed import)."""

    resource: dict[str, Any]
    created: bool


def content(resource: Mapping[str, Any]) -> dict[str, Any]:
    """What two stores of one resource share: everything but the server's version metadata."""
    meta = {key: value for key, value in dict(resource.get("meta") or {}).items() if key not in SERVER_META}
    return {**resource, "meta": meta}


def parse_etag(if_match: str | None) -> int | None:
    """The version an If-Match header names (W/"3", "3" or 3); MalformedRequest otherwise."""
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise MalformedRequest('If-Match must name a version as W/"<versionId>", e.g. W/"3"')
    return int(text)


class RecordService:
    """The FHIR interactions of one caller; wired per invocation with that caller's context."""

    def __init__(
        self,
        context: TenantContext,
        records: BaseResourceRepository,
        audit: BaseAuditTrail,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = new_resource_id,
        grants: BaseBreakGlassLedger | None = None,
        guards: Mapping[str, WriteGuard] | None = None,
    ) -> None:
        if records.context != context or audit.context != context:
            raise ValueError("the repository and audit trail must belong to the caller's context")
        if grants is not None and grants.context != context:
            raise ValueError("the break-glass ledger must belong to the caller's context")
        self.context = context
        self.records = records
        self._audit = audit
        self._clock = clock
        self._new_id = new_id
        self._grants = grants
        self._guards = dict(guards or {})
        self._restricted: dict[str, bool] = {}  # patient id -> restricted, for this request

    # ----------------------------------------------------------------- writes

    def create(self, resource_type: str, resource: object, *, if_none_exist: str | None = None) -> Written:
        """Validate and store a new resource with a server-assigned id. With `if_none_exist`
        (a search query string), answer the one existing match instead; several: 412."""
        resource_id = self._new_id()

        def create() -> Written:
            self._authorize(resource_type, Action.CREATE)
            if if_none_exist is not None:
                existing = self._conditional_match(resource_type, if_none_exist)
                if existing is not None:
                    return Written(existing, created=False)
            new = self._new_version(resource_type, resource, resource_id, None)
            self._guard({}, new)
            self.records.commit([Change(ChangeKind.CREATE, new)])
            return Written(new, created=True)

        return self._audited(
            AuditAction.CREATE,
            "create",
            resource_type,
            resource_id,
            None,
            create,
            detail_of=lambda done: None if done.created else EXISTING,
            entity_of=lambda done: str(done.resource["id"]),
        )

    def import_resource(
        self, resource: object, resource_id: str, allow_reference: Callable[[str], bool] | None = None
    ) -> Written:
        """Validate and store `resource` under `resource_id`, an id derived from where it came
        from (cairn.imports), so that replaying an import stores it once: a taken id holding the
        same content answers created=False; different content raises ResourceConflict.
        `allow_reference` accepts references to resources the same import brings."""
        resource_type = str(resource.get("resourceType", "")) if isinstance(resource, dict) else ""

        def store() -> Written:
            self._authorize(resource_type, Action.CREATE)
            new = self._new_version(resource_type, resource, resource_id, None, allow_reference)
            self._guard({}, new)
            try:
                self.records.commit([Change(ChangeKind.CREATE, new)])
            except ResourceExists:
                stored = self.records.get(resource_type, resource_id)
                if stored is None or content(stored) != content(new):
                    raise ResourceConflict(resource_type, resource_id) from None
                return Written(stored, created=False)
            return Written(new, created=True)

        return self._audited(
            AuditAction.CREATE,
            "create",
            resource_type or "unknown",
            resource_id,
            None,
            store,
            detail_of=lambda done: None if done.created else EXISTING,
        )

    def update(
        self,
        resource_type: str,
        resource_id: str,
        resource: object,
        *,
        if_match: str | None = None,
        signing: bool = False,
    ) -> dict[str, Any]:
        """Store a new version of an existing resource; 412 if If-Match names an older one.
        `signing`: this is the note-signing write (cairn.notes), never set from a request."""

        def update() -> dict[str, Any]:
            self._authorize(resource_type, Action.UPDATE)
            current = self._current_for_write(resource_type, resource_id, if_match)
            if isinstance(resource, dict) and resource.get("id") != resource_id:
                raise InvalidResource(
                    [
                        issue(
                            "invalid",
                            f"the body's id must equal the id in the URL ({resource_id})",
                            f"{resource_type}.id",
                        )
                    ]
                )
            new = self._new_version(resource_type, resource, resource_id, current)
            self._guard(current, new, signing=signing)
            self.records.commit([Change(ChangeKind.UPDATE, new, current)])
            return new

        return self._audited(
            AuditAction.UPDATE, "sign" if signing else "update", resource_type, resource_id, None, update
        )

    def patch(
        self, resource_type: str, resource_id: str, operations: object, *, if_match: str | None = None
    ) -> dict[str, Any]:
        """Apply a JSON Patch (RFC 6902) to the current version; the result is validated like an
        update. id, resourceType and meta.versionId/lastUpdated cannot be patched."""

        def patch() -> dict[str, Any]:
            self._authorize(resource_type, Action.UPDATE)
            current = self._current_for_write(resource_type, resource_id, if_match)
            patched = _apply_patch(current, operations)
            if patched.get("id") != resource_id or patched.get("resourceType") != resource_type:
                raise InvalidResource(
                    [issue("invalid", "a patch may not change id or resourceType", resource_type)]
                )
            new = self._new_version(resource_type, patched, resource_id, current)
            self._guard(current, new)
            self.records.commit([Change(ChangeKind.UPDATE, new, current)])
            return new

        return self._audited(AuditAction.UPDATE, "patch", resource_type, resource_id, None, patch)

    def delete(self, resource_type: str, resource_id: str, *, if_match: str | None = None) -> None:
        """Soft delete: a new version without content; reads answer 410, history keeps it all.
        Deleting what is already deleted succeeds (idempotent)."""

        def delete() -> None:
            self._authorize(resource_type, Action.DELETE)
            latest = self.records.current(resource_type, resource_id)
            if latest is None:
                raise not_found(resource_type, resource_id)
            if latest.resource is None:
                return
            current = self._visible_one(latest.resource)
            self._check_version(current, if_match)
            self._guard(current, None)
            marker = {
                **current,
                "meta": self._meta(current.get("meta"), int(current["meta"]["versionId"]) + 1),
            }
            self.records.commit([Change(ChangeKind.DELETE, marker, current)])

        self._audited(AuditAction.DELETE, "delete", resource_type, resource_id, None, delete)

    # ------------------------------------------------------------------ reads

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        """The current resource; ResourceNotFound, or ResourceGone if it was deleted."""

        def read() -> dict[str, Any]:
            self._authorize(resource_type, Action.READ)
            if (
                self.context.role is Role.PATIENT
                and resource_type == PATIENT
                and resource_id != self.context.patient_id
            ):
                raise _HiddenDenial(resource_type, resource_id)  # no lookup of others' ids
            latest = self.records.current(resource_type, resource_id)
            if latest is None:
                raise not_found(resource_type, resource_id)
            if latest.resource is None:
                raise ResourceGone(resource_type, resource_id)
            return self._visible_one(latest.resource, through)

        through: list[str] = []  # the grant a restricted read went through, for the audit
        return self._audited(
            AuditAction.READ,
            "read",
            resource_type,
            resource_id,
            None,
            read,
            detail_of=lambda _: through[0] if through else None,
        )

    def vread(self, resource_type: str, resource_id: str, version_id: str) -> dict[str, Any]:
        """One version of a resource; 410 for the version that deleted it."""

        def vread() -> dict[str, Any]:
            self._authorize(resource_type, Action.READ)
            if not version_id.isdigit():
                raise ResourceNotFound(resource_type, f"{resource_id}/_history/{version_id}")
            stored = self.records.version(resource_type, resource_id, int(version_id))
            if stored is None:
                raise ResourceNotFound(resource_type, f"{resource_id}/_history/{version_id}")
            if stored.resource is None:
                raise ResourceGone(resource_type, resource_id)
            return self._visible_one(stored.resource, through)

        through: list[str] = []
        return self._audited(
            AuditAction.READ,
            "vread",
            resource_type,
            resource_id,
            None,
            vread,
            detail_of=lambda _: through[0] if through else None,
        )

    def history(
        self,
        resource_type: str,
        resource_id: str | None,
        count: int = search.DEFAULT_COUNT,
        cursor: str | None = None,
        since: str | None = None,
    ) -> HistoryPage:
        """Versions, newest first: of one resource, or of the type. A patient user sees the
        history of their own records only."""

        def history() -> HistoryPage:
            self._authorize(resource_type, Action.READ)
            if resource_id is not None:
                latest = self.records.current(resource_type, resource_id)
                if latest is None:
                    raise not_found(resource_type, resource_id)
                newest = latest.resource or self._last_content(resource_type, resource_id, latest.version_id)
                if newest is not None:
                    self._visible_one(newest)
            elif self.context.role is Role.PATIENT:
                raise AccessDenied("a patient reads the history of their own records, one record at a time")
            page = self.records.history(
                resource_type, resource_id, min(count, search.MAX_COUNT), cursor, since
            )
            shown = set(_ids(self._visible([v.resource for v in page.versions if v.resource is not None])))
            versions = [
                v
                for v in page.versions
                if (v.resource is None and resource_id is not None)
                or (v.resource is not None and (v.resource_type, v.resource_id) in shown)
            ]
            return HistoryPage(versions, page.next_cursor)

        subtype = "history-instance" if resource_id else "history-type"
        return self._audited(AuditAction.READ, subtype, resource_type, resource_id, None, history)

    def search(self, query: SearchQuery) -> SearchPage:
        """Resources matching every criterion of `query`, one page."""

        def find() -> SearchPage:
            self._authorize(query.resource_type, Action.SEARCH)
            page = self.records.search(self._narrowed(query))
            shown = self._visible(page.resources)
            included = self._visible(
                [
                    r
                    for r in page.included
                    if permissions.permits(self.context.role, r["resourceType"], Action.READ)
                ]
            )
            hidden = len(page.resources) - len(shown)
            total = None if page.total is None else page.total - hidden
            return SearchPage(shown, total, page.next_cursor, included)

        return self._audited(
            AuditAction.EXECUTE,
            "search-type",
            query.resource_type,
            None,
            ",".join(query.parameter_names) or None,
            find,
        )

    def everything(self, patient_id: str) -> list[dict[str, Any]]:
        """Patient/$everything: the Patient, every record in their compartment the caller may
        read, and the practitioners, organizations and locations those records name."""

        def everything() -> list[dict[str, Any]]:
            self._authorize(PATIENT, Action.READ)
            patient = self.read(PATIENT, patient_id)
            found: list[dict[str, Any]] = [patient]
            readable: list[dict[str, Any]] = []
            for resource in self.records.iter_compartment(patient_id):
                if permissions.permits(self.context.role, str(resource["resourceType"]), Action.SEARCH):
                    readable.append(resource)
                if len(readable) > EVERYTHING_LIMIT:
                    raise InvalidSearch(
                        f"this record holds more than {EVERYTHING_LIMIT} resources; use "
                        f"Patient/{patient_id}/$export for the whole record"
                    )
            found += self._visible(readable)
            found += self._referenced_directory(found)
            return found

        return self._audited(AuditAction.EXECUTE, "operation", PATIENT, patient_id, "everything", everything)

    # ----------------------------------------------- audit trail and documents

    def read_audit_event(self, reader: AuditEventReader, event_id: str) -> dict[str, Any]:
        """One AuditEvent of the clinic's trail (a patient: of their own record only)."""

        def read() -> dict[str, Any]:
            self._authorize(AUDIT_EVENT, Action.READ)
            event = reader.read(event_id)
            if event is None:
                raise ResourceNotFound(AUDIT_EVENT, event_id)
            return event

        return self._audited(AuditAction.READ, "read", AUDIT_EVENT, event_id, None, read)

    def search_audit_events(
        self,
        reader: AuditEventReader,
        params: Mapping[str, Sequence[str]],
    ) -> tuple[list[dict[str, Any]], str | None]:
        """AuditEvents by entity (entity=Type/id, or patient=id) and date (ge/le/gt/lt/eq a day),
        newest first, paged with _cursor."""

        def find() -> tuple[list[dict[str, Any]], str | None]:
            self._authorize(AUDIT_EVENT, Action.SEARCH)
            entity, since, until, count, cursor = _audit_query(params)
            return reader.search(entity=entity, since=since, until=until, count=count, cursor=cursor)

        return self._audited(
            AuditAction.EXECUTE, "search-type", AUDIT_EVENT, None, ",".join(sorted(params)) or None, find
        )

    def document_upload(
        self, documents: DocumentContent, document_id: str, index: int, content_type: str
    ) -> dict[str, Any]:
        """A presigned PUT for content[index] of a DocumentReference the caller may update."""

        def upload() -> dict[str, Any]:
            self._authorize(DOCUMENT_REFERENCE, Action.UPDATE)
            self._current_for_write(DOCUMENT_REFERENCE, document_id, None)
            return documents.upload(document_id, index, content_type)

        return self._audited(
            AuditAction.UPDATE, "upload", DOCUMENT_REFERENCE, document_id, f"content={index}", upload
        )

    def document_download(self, documents: DocumentContent, document_id: str, index: int) -> str:
        """A presigned GET of content[index] of a DocumentReference the caller may read."""

        def download() -> str:
            self._authorize(DOCUMENT_REFERENCE, Action.READ)
            latest = self.records.current(DOCUMENT_REFERENCE, document_id)
            if latest is None or latest.resource is None:
                raise ResourceNotFound(DOCUMENT_REFERENCE, document_id)
            self._visible_one(latest.resource)
            if not documents.exists(document_id, index):
                raise ResourceNotFound(DOCUMENT_REFERENCE, f"{document_id}/$content?index={index}")
            return documents.download_url(document_id, index)

        return self._audited(
            AuditAction.READ, "download", DOCUMENT_REFERENCE, document_id, f"content={index}", download
        )

    def authorize_export(self, level: str, subject_id: str | None) -> None:
        """May the caller start this export? A single patient's record (the EHI export): X on
        Patient and the Patient readable (a patient user: their own); anything wider (the
        clinic, all its patients, a Group): X on Group. Refusals are audited."""

        def authorize() -> None:
            if level == "one-patient" and subject_id is not None:
                permissions.require(self.context, PATIENT, Action.EXPORT)
                self.read(PATIENT, subject_id)
            else:
                permissions.require(self.context, resource_types.GROUP, Action.EXPORT)

        self._audited(
            AuditAction.EXECUTE,
            "export-kickoff",
            PATIENT if subject_id else "Group",
            subject_id,
            level,
            authorize,
        )

    def export_status(self, exports: BulkExportService, job_id: str, *, cancel: bool = False) -> ExportStatus:
        """A bulk export's state (or, with `cancel`, its cancellation), for the user who asked
        for it or an admin of the clinic; anyone else is answered "not found", like another
        clinic's job. Every look at an export, and every cancellation, is audited."""

        def track() -> ExportStatus:
            status = exports.status(job_id)
            if status.job.requested_by != self.context.user_id and self.context.role is not Role.ADMIN:
                raise ExportJobNotFound(job_id)
            if cancel:
                exports.cancel(job_id)
            return status

        action = AuditAction.DELETE if cancel else AuditAction.READ
        return self._audited(
            action, "export-cancel" if cancel else "export-status", EXPORT_JOB, job_id, None, track
        )

    # -------------------------------------------------------- shared for bundles

    def prepare_create(
        self,
        resource_type: str,
        resource: object,
        resource_id: str | None = None,
        allow_reference: Callable[[str], bool] | None = None,
    ) -> Change:
        """A create as a Change to commit with others (a transaction), authorized and validated."""
        self._authorize(resource_type, Action.CREATE)
        new = self._new_version(resource_type, resource, resource_id or self._new_id(), None, allow_reference)
        self._guard({}, new)
        return Change(ChangeKind.CREATE, new)

    def prepare_update(
        self,
        resource_type: str,
        resource_id: str,
        resource: object,
        if_match: str | None = None,
        allow_reference: Callable[[str], bool] | None = None,
    ) -> Change:
        self._authorize(resource_type, Action.UPDATE)
        current = self._current_for_write(resource_type, resource_id, if_match)
        new = self._new_version(resource_type, resource, resource_id, current, allow_reference)
        self._guard(current, new)
        return Change(ChangeKind.UPDATE, new, current)

    def prepare_delete(self, resource_type: str, resource_id: str) -> Change | None:
        self._authorize(resource_type, Action.DELETE)
        latest = self.records.current(resource_type, resource_id)
        if latest is None:
            raise not_found(resource_type, resource_id)
        if latest.resource is None:
            return None
        current = self._visible_one(latest.resource)
        self._guard(current, None)
        marker = {**current, "meta": self._meta(current.get("meta"), int(current["meta"]["versionId"]) + 1)}
        return Change(ChangeKind.DELETE, marker, current)

    def commit_transaction(self, changes: Sequence[Change], entries: int) -> None:
        """Commit the changes of a transaction Bundle atomically, audited as one event."""
        self._audited(
            AuditAction.EXECUTE,
            "transaction",
            "Bundle",
            None,
            f"entries={entries}",
            lambda: self.records.commit(changes),
        )

    def commit_scheduled(
        self,
        subtype: str,
        appointment_id: str,
        writes: Sequence[tuple[dict[str, Any], Mapping[str, Any] | None]],
        holds: Sequence[Hold],
    ) -> list[dict[str, Any]]:
        """The appointment book's writes (cairn.scheduling.book): each (resource, its current
        version or None) validated into a new version, committed with `holds` in one atomic
        write, audited once as `subtype` of Appointment `appointment_id`. The caller must be
        allowed to create (or update) the Appointment; the Slot it books is the book's own
        bookkeeping. Write guards are not asked: these are the writes they direct everyone to."""
        action = AuditAction.CREATE if subtype == "book" else AuditAction.UPDATE
        return self.commit_owned(subtype, "Appointment", appointment_id, writes, holds, action=action)

    def commit_owned(
        self,
        subtype: str,
        owner_type: str,
        owner_id: str,
        writes: Sequence[tuple[dict[str, Any], Mapping[str, Any] | None]],
        holds: Sequence[Hold] = (),
        *,
        action: AuditAction | None = None,
    ) -> list[dict[str, Any]]:
        """The writes of the module that owns `owner_type` (the appointment book, the claims
        workflow): each (resource, its current version or None) validated into a new version and
        committed with `holds` in one atomic write, audited once as `subtype` of
        `owner_type`/`owner_id`. The caller must be allowed to create (or update) resources of
        `owner_type`; the others written with them are the owner's bookkeeping. Write guards are
        not asked: these are the writes they direct everyone to. Audited as a create when it
        creates the owner, an update otherwise, unless `action` says."""

        def commit() -> list[dict[str, Any]]:
            changes: list[Change] = []
            together = {f"{resource.get('resourceType')}/{resource.get('id')}" for resource, _ in writes}
            for resource, current in writes:
                resource_type = str(resource.get("resourceType", ""))
                if resource_type == owner_type:
                    self._authorize(resource_type, Action.CREATE if current is None else Action.UPDATE)
                resource_id = str(resource.get("id") or "")
                new = self._new_version(resource_type, resource, resource_id, current, together.__contains__)
                kind = ChangeKind.CREATE if current is None else ChangeKind.UPDATE
                changes.append(Change(kind, new, dict(current) if current is not None else None))
            self.records.commit(changes, holds)
            return [change.resource for change in changes]

        creates = any(
            current is None and resource.get("resourceType") == owner_type for resource, current in writes
        )
        return self._audited(
            action or (AuditAction.CREATE if creates else AuditAction.UPDATE),
            subtype,
            owner_type,
            owner_id,
            None,
            commit,
        )

    def audit_failure(self, subtype: str, resource_type: str, error: Exception) -> None:
        """Record a refused bundle (nothing stored), with the reason's kind only."""
        self._record(
            AuditAction.EXECUTE, subtype, AuditOutcome.MINOR_FAILURE, resource_type, None, _reason(error)
        )

    # ---------------------------------------------------------------- helpers

    def _authorize(self, resource_type: str, action: Action) -> None:
        resource_types.require_supported(resource_type)
        if action in (Action.CREATE, Action.UPDATE, Action.DELETE) and not resource_types.is_stored(
            resource_type
        ):
            raise AccessDenied(f"{resource_type} is read-only: Cairn writes it itself")
        permissions.require(self.context, resource_type, action)

    def _narrowed(self, query: SearchQuery) -> SearchQuery:
        """A patient user's search, limited to their own compartment."""
        if self.context.role is not Role.PATIENT or (
            query.resource_type not in resource_types.PATIENT_LINKS and query.resource_type != PATIENT
        ):
            return query
        criterion = search.compartment_criterion(query.resource_type, self.context.patient_id or "-")
        return replace(query, criteria=(*query.criteria, criterion))

    def _conditional_match(self, resource_type: str, if_none_exist: str) -> dict[str, Any] | None:
        params = parse_qs(if_none_exist.removeprefix("?").split("?", 1)[-1], keep_blank_values=True)
        if not params:
            raise MalformedRequest("If-None-Exist must be a search query, e.g. identifier=system|value")
        query = replace(search.parse_search(resource_type, params), count=2)
        page = self.records.search(self._narrowed(query))
        visible = self._visible(page.resources)
        if len(visible) > 1:
            raise PreconditionFailed(
                f"If-None-Exist matches several {resource_type} resources; make the criteria more selective"
            )
        return visible[0] if visible else None

    def _current_for_write(
        self, resource_type: str, resource_id: str, if_match: str | None
    ) -> dict[str, Any]:
        latest = self.records.current(resource_type, resource_id)
        if latest is None:
            raise not_found(resource_type, resource_id)
        if latest.resource is None:
            raise ResourceGone(resource_type, resource_id)
        current = self._visible_one(latest.resource)
        self._check_version(current, if_match)
        return current

    def _check_version(self, current: Mapping[str, Any], if_match: str | None) -> None:
        expected = parse_etag(if_match)
        if expected is not None and expected != int(current["meta"]["versionId"]):
            raise PreconditionFailed(
                f"If-Match names version {expected} but the current version is "
                f"{current['meta']['versionId']}; "
                "read the resource again and reapply the change"
            )

    def _new_version(
        self,
        resource_type: str,
        resource: object,
        resource_id: str,
        current: Mapping[str, Any] | None,
        allow_reference: Callable[[str], bool] | None = None,
    ) -> dict[str, Any]:
        """`resource` validated, with its references resolved in this clinic, as the version
        after `current` (or version 1); client meta kept except versionId and lastUpdated."""
        validated = copy.deepcopy(validate_resource(resource, resource_type))
        self._check_references(validated, allow_reference)
        version = 1 if current is None else int(current["meta"]["versionId"]) + 1
        validated["id"] = resource_id
        validated["meta"] = self._meta(validated.get("meta"), version)
        leading = {"resourceType": resource_type, "id": resource_id, "meta": validated.pop("meta")}
        validated.pop("resourceType", None)
        validated.pop("id", None)
        new = {**leading, **validated}
        if self.context.role is Role.PATIENT and not permissions.in_compartment(self.context, new):
            raise AccessDenied(
                "a patient may write only records of their own (subject or sender: their Patient)"
            )
        return new

    def _meta(self, meta: object, version: int) -> dict[str, Any]:
        kept = (
            {k: v for k, v in dict(meta or {}).items() if k not in SERVER_META}
            if isinstance(meta, dict)
            else {}
        )
        return {**kept, "versionId": str(version), "lastUpdated": fhir_instant(self._clock())}

    def _check_references(
        self, resource: Mapping[str, Any], allow_reference: Callable[[str], bool] | None
    ) -> None:
        allow = allow_reference or (lambda _: False)
        problems = reference_issues(resource, allow)
        targets: dict[tuple[str, str], list[str]] = {}
        for found in find_references(resource):
            if allow(found.reference):
                continue
            target = relative_target(found.reference)
            if target is not None and target[0] in resource_types.STORED_TYPES:
                targets.setdefault(target, []).append(found.path)
        if targets:
            existing = self.records.get_many(list(targets))
            for target, paths in targets.items():
                if target not in existing:
                    problems += [
                        issue(
                            "not-found",
                            f"{target[0]}/{target[1]} is not a resource of this clinic; "
                            "create it first or correct the reference",
                            path,
                        )
                        for path in paths
                    ]
        if problems:
            raise InvalidResource(problems)

    def _guard(
        self, current: Mapping[str, Any], proposed: Mapping[str, Any] | None, *, signing: bool = False
    ) -> None:
        resource_type = current.get("resourceType") or (proposed or {}).get("resourceType")
        guard = self._guards.get(str(resource_type))
        if guard is not None:
            guard(current, proposed, signing=signing)

    def _last_content(
        self, resource_type: str, resource_id: str, deleted_version: int
    ) -> dict[str, Any] | None:
        if deleted_version <= 1:
            return None
        stored = self.records.version(resource_type, resource_id, deleted_version - 1)
        return None if stored is None else stored.resource

    def _visible_one(self, resource: dict[str, Any], through: list[str] | None = None) -> dict[str, Any]:
        """`resource` if the caller may see it; a hidden denial (404) outside a patient user's
        compartment; RestrictedPatient for a restricted patient's record without a grant."""
        if not permissions.in_compartment(self.context, resource):
            raise _HiddenDenial(str(resource["resourceType"]), str(resource["id"]))
        for patient_id in sorted(permissions.compartment_patient_ids(resource)):
            if self._needs_grant(patient_id, resource):
                grant = self._open_grant(patient_id)
                if grant is None:
                    raise RestrictedPatient(patient_id)
                if through is not None:
                    through.append(f"break-glass:{grant.grant_id}")
        return resource

    def _visible(self, resources: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The resources the caller may see; others are left out silently (searches)."""
        resources = [r for r in resources if permissions.in_compartment(self.context, r)]
        self._load_restrictions(
            {pid for r in resources for pid in permissions.compartment_patient_ids(r)}, resources
        )
        shown = []
        for resource in resources:
            blocked = any(
                self._needs_grant(pid, resource) and self._open_grant(pid) is None
                for pid in permissions.compartment_patient_ids(resource)
            )
            if not blocked:
                shown.append(resource)
        return shown

    def _load_restrictions(self, patient_ids: set[str], known: Iterable[dict[str, Any]]) -> None:
        for resource in known:
            if resource.get("resourceType") == PATIENT:
                self._restricted[str(resource["id"])] = permissions.is_restricted(resource)
        missing = [(PATIENT, pid) for pid in sorted(patient_ids) if pid not in self._restricted]
        if missing:
            found = self.records.get_many(missing)
            for _, pid in missing:
                patient = found.get((PATIENT, pid))
                self._restricted[pid] = patient is not None and permissions.is_restricted(patient)

    def _needs_grant(self, patient_id: str, resource: Mapping[str, Any]) -> bool:
        """Whether the caller needs break-glass to see a record of Patient `patient_id`."""
        if self.context.role is Role.ADMIN:
            return False
        if self.context.role is Role.PATIENT and self.context.patient_id == patient_id:
            return False
        if resource.get("resourceType") == PATIENT:
            return permissions.needs_break_glass(self.context, resource)
        if patient_id not in self._restricted:
            self._load_restrictions({patient_id}, ())
        return self._restricted[patient_id]

    def _open_grant(self, patient_id: str) -> BreakGlassGrant | None:
        if self._grants is None or self.context.role not in permissions.CLINICIANS:
            return None
        return self._grants.open_grant(self.context.user_id, patient_id, self._clock())

    def _referenced_directory(self, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Practitioners, organizations and locations the records name, once each."""
        directory = {"Practitioner", "PractitionerRole", "Organization", "Location"}
        have = {(r["resourceType"], r["id"]) for r in found}
        wanted = sorted(
            {
                target
                for resource in found
                for ref in find_references(resource)
                if (target := relative_target(ref.reference)) is not None
                and target[0] in directory
                and target not in have
                and permissions.permits(self.context.role, target[0], Action.READ)
            }
        )
        return list(self.records.get_many(wanted).values())

    def _audited(
        self,
        action: AuditAction,
        subtype: str,
        resource_type: str,
        entity_id: str | None,
        detail: str | None,
        operation: Callable[[], T],
        detail_of: Callable[[T], str | None] | None = None,
        entity_of: Callable[[T], str | None] | None = None,
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
            self._record(
                action, subtype, outcome, resource_type, failed_entity, ":".join(filter(None, (detail, code)))
            )
            if isinstance(error, _HiddenDenial):
                raise not_found(error.resource_type, error.resource_id) from None
            raise
        noted = detail_of(result) if detail_of else None
        entity = entity_of(result) if entity_of else entity_id
        self._record(
            action,
            subtype,
            AuditOutcome.SUCCESS,
            resource_type,
            entity,
            ":".join(filter(None, (detail, noted))),
        )
        return result

    def _record(
        self,
        action: AuditAction,
        subtype: str,
        outcome: AuditOutcome,
        resource_type: str,
        entity_id: str | None,
        detail: str | None,
    ) -> None:
        self._audit.record(AuditEvent(action, subtype, outcome, resource_type, entity_id, detail or None))


def not_found(resource_type: str, resource_id: str) -> ResourceNotFound:
    """The not-found error of a resource (PatientNotFound for a Patient)."""
    if resource_type == PATIENT:
        return PatientNotFound(resource_id)
    return ResourceNotFound(resource_type, resource_id)


def _audit_query(
    params: Mapping[str, Sequence[str]],
) -> tuple[str | None, str | None, str | None, int, str | None]:
    """(entity, since, until, count, cursor) of an AuditEvent search."""
    entity: str | None = None
    since: str | None = None
    until: str | None = None
    count, cursor = search.DEFAULT_COUNT, None
    for name, values in params.items():
        for value in values:
            if name == "entity":
                entity = value
            elif name == "patient":
                entity = value if value.startswith("Patient/") else f"Patient/{value}"
            elif name == "date":
                prefix, day = (
                    (value[:2], value[2:]) if value[:2] in ("ge", "gt", "le", "lt", "eq") else ("eq", value)
                )
                if prefix in ("ge", "gt", "eq"):
                    since = day
                if prefix in ("le", "lt", "eq"):
                    until = day
            elif name == search.COUNT_PARAMETER:
                count = min(int(value), search.MAX_COUNT) if value.isdigit() else -1
            elif name == search.CURSOR_PARAMETER:
                cursor = value
            else:
                raise InvalidSearch(
                    f"AuditEvent is searched by entity, patient, date, _count and _cursor; not {name[:40]!r}"
                )
    return entity, since, until, count, cursor


def _apply_patch(current: Mapping[str, Any], operations: object) -> dict[str, Any]:
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise MalformedRequest(
            "a JSON Patch body is a JSON array of operations (RFC 6902), "
            'e.g. [{"op": "replace", "path": "/status", "value": "final"}]'
        )
    for index, operation in enumerate(operations):
        path = str(operation.get("path", ""))
        if path in ("/id", "/resourceType") or path.startswith(("/meta/versionId", "/meta/lastUpdated")):
            raise MalformedRequest(f"patch operation {index} targets {path}, which the server owns")
    try:
        patched = jsonpatch.apply_patch(copy.deepcopy(dict(current)), operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise MalformedRequest(
            f"the patch cannot be applied: {type(exc).__name__.removeprefix('JsonPatch')}: "
            "check each operation's op and path against the current version"
        ) from None
    if not isinstance(patched, dict):
        raise MalformedRequest("the patch must leave a JSON object")
    return patched


def _ids(resources: Iterable[Mapping[str, Any]]) -> Iterable[tuple[str, str]]:
    return ((str(r["resourceType"]), str(r["id"])) for r in resources)


def _reason(error: Exception) -> str:
    """A reason code for the audit trail: the error's kind, never its message (may echo input)."""
    if isinstance(error, AccessDenied | _HiddenDenial):
        return DENIED
    if isinstance(error, ResourceGone):
        return "gone"
    if isinstance(error, ResourceNotFound):
        return "not-found"
    if isinstance(error, InvalidResource | InvalidSearch | MalformedRequest):
        return "invalid"
    if isinstance(error, PreconditionFailed):
        return "precondition-failed"
    if isinstance(error, ResourceConflict | VersionConflict | ImmutableResource | HoldTaken):
        return "conflict"
    return FAILED


class RestrictedPatient(AccessDenied):
    """A restricted patient's record read without an open break-glass grant (403, audited)."""

    def __init__(self, patient_id: str) -> None:
        super().__init__(
            f"Patient/{patient_id} is restricted: a physician or nurse may open it for "
            f"{GRANT_MINUTES} minutes with POST /access/break-glass/{patient_id} and a reason"
        )


class _HiddenDenial(ResourceNotFound):
    """A denial answered as not found; audited as the denial it is."""


__all__ = ["RecordService", "RestrictedPatient", "StoredVersion", "Written", "content", "parse_etag"]
