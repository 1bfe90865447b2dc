"""FHIR Bulk Data export ($export, asynchronous) and the EHI export of one patient.

A kickoff records a job under the tenant and starts the bulk-export workflow; the workflow writes
one set of ndjson files per resource type under tenants/<tenant>/exports/<job>/ and then the
job's output; the status request answers with the Bulk Data manifest, its files as presigned
URLs made at status time (so a link never outlives its hour, whenever the client asks).

Which resources: the system level exports every stored type of the tenant; the Patient level
exports every Patient and every resource in some patient's compartment; Group/<id> the Group's
member Patients and their compartments; the EHI export (ONC 170.315(b)(10)) one patient's.
How they are read depends on how many patients the export covers. Every patient: each type is
read whole with `iter_type` and a resource kept when it references some patient, one read per
resource, where compartment searches would cost a query per patient and type, most of them
empty. A Group or one patient: a compartment search per member and type, reading only their
resources instead of the whole clinic's.
"""

from __future__ import annotations

import abc
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.clock import Clock, fhir_instant, utc_now
from cairn.errors import MalformedRequest, PatientNotFound, ResourceNotFound
from cairn.fhir.resource_types import COMPARTMENT_TYPES, GROUP, PATIENT, PATIENT_LINKS, STORED_TYPES
from cairn.fhir.search import MAX_COUNT, SearchQuery, compartment_criterion
from cairn.records.repository import BaseResourceRepository
from multitenant.context import TenantContext

EXPORT_ACTOR = "bulk-export"
NDJSON = "application/fhir+ndjson"
ACCEPTED_OUTPUT_FORMATS = frozenset({NDJSON, "application/ndjson", "ndjson"})
SUPPORTED_PARAMETERS = ("_outputFormat", "_since", "_type")
MAX_RESOURCES_PER_FILE = 50_000
MAX_BYTES_PER_FILE = 50 * 1024 * 1024
DOWNLOAD_URL_SECONDS = 3600
FHIR_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


class ExportLevel(StrEnum):
    SYSTEM = "system"  # [base]/$export
    PATIENT = "patient"  # [base]/Patient/$export: every patient
    GROUP = "group"  # [base]/Group/<id>/$export
    ONE_PATIENT = "one-patient"  # [base]/Patient/<id>/$export: the EHI export


class JobStatus(StrEnum):
    IN_PROGRESS = "in-progress"
    COMPLETE = "complete"
    ERROR = "error"
    CANCELLED = "cancelled"


class InvalidExportRequest(MalformedRequest):
    """The kickoff's parameters cannot be honoured; the message says which and what is allowed."""


class ExportJobNotFound(ResourceNotFound):
    """No such export job in the caller's tenant (jobs of other tenants are never found)."""

    def __init__(self, job_id: str) -> None:
        super().__init__("$export-status", job_id)


def exportable_types(level: ExportLevel) -> tuple[str, ...]:
    """The types an export of `level` holds when `_type` does not narrow it."""
    if level is ExportLevel.SYSTEM:
        return STORED_TYPES
    return (PATIENT, *COMPARTMENT_TYPES)


@dataclass(frozen=True)
class ExportRequest:
    """What a kickoff asked for: the level, its subject (Group or Patient id), types, since."""

    level: ExportLevel
    types: tuple[str, ...]
    since: str | None = None
    subject_id: str | None = None  # the Group id, or the Patient id of an EHI export

    @classmethod
    def parse(cls, level: ExportLevel, params: Mapping[str, Sequence[str]],
              subject_id: str | None = None) -> ExportRequest:
        """Validate the kickoff's query parameters (each name to all its values)."""
        unsupported = sorted(set(params) - set(SUPPORTED_PARAMETERS))
        if unsupported:
            raise InvalidExportRequest(
                f"unsupported $export parameter(s) {', '.join(unsupported)}; "
                f"use only {', '.join(SUPPORTED_PARAMETERS)}")
        if (level in (ExportLevel.GROUP, ExportLevel.ONE_PATIENT)) != bool(subject_id):
            raise InvalidExportRequest(
                "a Group or single-patient export needs its id; other levels take none")
        formats = params.get("_outputFormat", [])
        if any(value not in ACCEPTED_OUTPUT_FORMATS for value in formats):
            raise InvalidExportRequest(f"_outputFormat must be {NDJSON} (the only format offered)")
        types = _types(level, params.get("_type", []))
        return cls(level, types, _since(params.get("_since", [])), subject_id)

    @property
    def audit_entities(self) -> list[tuple[str, str | None]]:
        """What the audit trail names as exported: the Group or Patient, the Patient type for
        all patients, each type for a system export."""
        if self.level is ExportLevel.SYSTEM:
            return [(resource_type, None) for resource_type in self.types]
        if self.level is ExportLevel.PATIENT:
            return [(PATIENT, None)]
        return [(GROUP if self.level is ExportLevel.GROUP else PATIENT, self.subject_id)]

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level.value, "types": list(self.types), "since": self.since,
                "subject_id": self.subject_id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportRequest:
        try:
            return cls(ExportLevel(data["level"]), tuple(str(t) for t in data["types"]),
                       data.get("since") or None, data.get("subject_id") or None)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedRequest("an export needs level, types, and since/subject_id or null") from exc


def _types(level: ExportLevel, values: Sequence[str]) -> tuple[str, ...]:
    allowed = exportable_types(level)
    asked = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if not asked:
        return allowed
    unknown = sorted(set(asked) - set(allowed))
    if unknown:
        raise InvalidExportRequest(
            f"_type names {len(unknown)} type(s) this export cannot hold; use some of {', '.join(allowed)}")
    return tuple(t for t in allowed if t in asked)


def _since(values: Sequence[str]) -> str | None:
    if not values:
        return None
    if len(values) > 1 or not FHIR_INSTANT.match(values[0]):
        raise InvalidExportRequest("_since must be one FHIR instant, e.g. 2026-01-31T00:00:00Z")
    return fhir_instant(datetime.fromisoformat(values[0]))


@dataclass(frozen=True)
class ExportFile:
    """One ndjson file of the export."""

    resource_type: str
    key: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.resource_type, "key": self.key, "count": self.count}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportFile:
        return cls(str(data["type"]), str(data["key"]), int(data["count"]))


@dataclass(frozen=True)
class ExportJob:
    """An export job of one tenant. `request` is the kickoff URL (the manifest repeats it)."""

    job_id: str
    tenant_id: str
    request: str
    export: ExportRequest
    requested_by: str
    created: str
    transaction_time: str
    status: JobStatus = JobStatus.IN_PROGRESS
    execution_arn: str | None = None
    output: tuple[ExportFile, ...] = ()
    errors: tuple[str, ...] = ()
    types_done: frozenset[str] = field(default_factory=frozenset)

    @property
    def progress(self) -> str:
        """The X-Progress text of a job in progress."""
        return f"{len(self.types_done)} of {len(self.export.types)} resource types exported"


def export_prefix(tenant_id: str, job_id: str) -> str:
    return f"tenants/{tenant_id}/exports/{job_id}/"


def export_key(tenant_id: str, job_id: str, resource_type: str, part: int) -> str:
    return f"{export_prefix(tenant_id, job_id)}{resource_type}-{part}.ndjson"


# --- where jobs, files and executions live --------------------------------------------------

class BaseExportJobs(abc.ABC):
    """The export jobs of one tenant. Every transition leaves "in-progress" at most once, so a
    late step of a cancelled or failed job cannot bring it back."""

    def __init__(self, context: TenantContext) -> None:
        if not isinstance(context, TenantContext):
            raise TypeError("export jobs need a TenantContext")
        self.context = context

    @abc.abstractmethod
    def add(self, job: ExportJob) -> None:
        """Record a new job."""

    @abc.abstractmethod
    def get(self, job_id: str) -> ExportJob | None:
        """The job, or None if the tenant has no such job."""

    @abc.abstractmethod
    def started(self, job_id: str, execution_arn: str) -> None:
        """Remember the workflow execution running the job (cancel stops it)."""

    @abc.abstractmethod
    def type_done(self, job_id: str, resource_type: str) -> None:
        """Count one type as exported (the status's progress)."""

    @abc.abstractmethod
    def finish(self, job_id: str, status: JobStatus, output: Sequence[ExportFile] = (),
               errors: Sequence[str] = ()) -> bool:
        """Move an in-progress job to `status`; False (nothing changed) if it was not in progress."""


class BaseExportFiles(abc.ABC):
    """Where export files are written and how a client downloads them."""

    @abc.abstractmethod
    def put(self, key: str, body: bytes) -> None:
        """Store one ndjson file."""

    @abc.abstractmethod
    def download_url(self, key: str, expires_seconds: int) -> str:
        """A URL that fetches the file without a token, for `expires_seconds`."""


class BaseExportLauncher(abc.ABC):
    """Starts and stops the bulk-export workflow."""

    @abc.abstractmethod
    def start(self, name: str, workflow_input: dict[str, Any]) -> str:
        """Start an execution called `name`; its ARN."""

    @abc.abstractmethod
    def stop(self, execution_arn: str) -> None:
        """Stop the execution (done already is fine)."""


class DynamoExportJobs(BaseExportJobs):
    """Jobs as items of the clinical table: pk "<tenant>#export#<job id>", sk "job"."""

    def __init__(self, context: TenantContext, dynamodb: Any, table: str) -> None:
        super().__init__(context)
        self._dynamodb = dynamodb
        self._table = table

    def _key(self, job_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"{self.context.tenant_id}#export#{job_id}"}, "sk": {"S": "job"}}

    def add(self, job: ExportJob) -> None:
        item = {
            **self._key(job.job_id),
            "status": {"S": job.status.value},
            "request": {"S": job.request},
            "export": {"S": json.dumps(job.export.as_dict())},
            "requested_by": {"S": job.requested_by},
            "created": {"S": job.created},
            "transaction_time": {"S": job.transaction_time},
            "output": {"S": "[]"},
            "errors": {"S": "[]"},
        }
        self._dynamodb.put_item(TableName=self._table, Item=item,
                                ConditionExpression="attribute_not_exists(pk)")

    def get(self, job_id: str) -> ExportJob | None:
        found = self._dynamodb.get_item(TableName=self._table, Key=self._key(job_id), ConsistentRead=True)
        item = found.get("Item")
        if item is None:
            return None
        return ExportJob(
            job_id=job_id,
            tenant_id=self.context.tenant_id,
            request=item["request"]["S"],
            export=ExportRequest.from_dict(json.loads(item["export"]["S"])),
            requested_by=item["requested_by"]["S"],
            created=item["created"]["S"],
            transaction_time=item["transaction_time"]["S"],
            status=JobStatus(item["status"]["S"]),
            execution_arn=item.get("execution_arn", {}).get("S"),
            output=tuple(ExportFile.from_dict(f) for f in json.loads(item["output"]["S"])),
            errors=tuple(json.loads(item["errors"]["S"])),
            types_done=frozenset(item.get("types_done", {}).get("SS", [])),
        )

    def started(self, job_id: str, execution_arn: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table, Key=self._key(job_id), UpdateExpression="SET execution_arn = :arn",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":arn": {"S": execution_arn}})

    def type_done(self, job_id: str, resource_type: str) -> None:
        self._dynamodb.update_item(
            TableName=self._table, Key=self._key(job_id), UpdateExpression="ADD types_done :type",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":type": {"SS": [resource_type]}})

    def finish(self, job_id: str, status: JobStatus, output: Sequence[ExportFile] = (),
               errors: Sequence[str] = ()) -> bool:
        try:
            self._dynamodb.update_item(
                TableName=self._table, Key=self._key(job_id),
                UpdateExpression="SET #status = :status, #output = :output, #errors = :errors",
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status", "#output": "output", "#errors": "errors"},
                ExpressionAttributeValues={
                    ":status": {"S": status.value},
                    ":output": {"S": json.dumps([f.as_dict() for f in output])},
                    ":errors": {"S": json.dumps(list(errors))},
                    ":running": {"S": JobStatus.IN_PROGRESS.value},
                })
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True


class S3ExportFiles(BaseExportFiles):
    """Files in the documents bucket (its default encryption: SSE-KMS), downloaded through
    presigned GET URLs."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, key: str, body: bytes) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=NDJSON)

    def download_url(self, key: str, expires_seconds: int) -> str:
        return str(self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_seconds))


class StepFunctionsExportLauncher(BaseExportLauncher):
    def __init__(self, stepfunctions: Any, state_machine_arn: str) -> None:
        self._sfn = stepfunctions
        self._arn = state_machine_arn

    def start(self, name: str, workflow_input: dict[str, Any]) -> str:
        started = self._sfn.start_execution(stateMachineArn=self._arn, name=name,
                                            input=json.dumps(workflow_input))
        return str(started["executionArn"])

    def stop(self, execution_arn: str) -> None:
        self._sfn.stop_execution(executionArn=execution_arn, error="ExportCancelled",
                                 cause="the export was cancelled by a client")


# --- the API side: kickoff, status, cancel ------------------------------------------------------

@dataclass(frozen=True)
class ExportStatus:
    """What $export-status answers: a job in progress (X-Progress), its manifest, or its errors."""

    job: ExportJob
    manifest: dict[str, Any] | None = None

    @property
    def operation_outcome(self) -> dict[str, Any]:
        """The errors of a failed job as a FHIR OperationOutcome."""
        return {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": "exception", "diagnostics": reason} for reason in self.job.errors]}


class BulkExportService:
    """Kickoff, status and cancel of one caller's exports."""

    def __init__(self, context: TenantContext, jobs: BaseExportJobs, launcher: BaseExportLauncher,
                 files: BaseExportFiles, clock: Clock = utc_now,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self.context = context
        self._jobs = jobs
        self._launcher = launcher
        self._files = files
        self._clock = clock
        self._new_id = new_id

    def start(self, export: ExportRequest, request_url: str) -> ExportJob:
        """Record the job and start its workflow; the API answers 202 with
        Content-Location [base]/fhir/R4/$export-status/<job id>."""
        now = fhir_instant(self._clock())
        job = ExportJob(job_id=self._new_id(), tenant_id=self.context.tenant_id, request=request_url,
                        export=export, requested_by=self.context.user_id, created=now, transaction_time=now)
        self._jobs.add(job)
        try:
            execution_arn = self._launcher.start(job.job_id, workflow_input(job))
        except Exception:
            self._jobs.finish(job.job_id, JobStatus.ERROR,
                              errors=["the export workflow could not be started"])
            raise
        self._jobs.started(job.job_id, execution_arn)
        return job

    def status(self, job_id: str) -> ExportStatus:
        """The job's state; a complete job carries its manifest with fresh download URLs.
        ExportJobNotFound for unknown (or cancelled) jobs, as the Bulk Data spec asks."""
        job = self._job(job_id)
        if job.status is JobStatus.CANCELLED:
            raise ExportJobNotFound(job_id)
        if job.status is not JobStatus.COMPLETE:
            return ExportStatus(job)
        return ExportStatus(job, manifest(job, self._files))

    def cancel(self, job_id: str) -> ExportJob:
        """Stop the workflow and mark the job cancelled (the API answers 202); a job already
        finished or cancelled answers ExportJobNotFound, as the spec's DELETE does."""
        job = self._job(job_id)
        if not self._jobs.finish(job_id, JobStatus.CANCELLED, errors=["cancelled by the client"]):
            raise ExportJobNotFound(job_id)
        if job.execution_arn:
            self._launcher.stop(job.execution_arn)
        return self._job(job_id)

    def _job(self, job_id: str) -> ExportJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise ExportJobNotFound(job_id)
        return job


def workflow_input(job: ExportJob) -> dict[str, Any]:
    """The bulk-export execution's input: everything each step needs, no PHI."""
    return {"tenant_id": job.tenant_id, "job_id": job.job_id, "requested_by": job.requested_by,
            **job.export.as_dict()}


def manifest(job: ExportJob, files: BaseExportFiles) -> dict[str, Any]:
    """The Bulk Data manifest of a complete job: presigned URLs, so no access token."""
    return {
        "transactionTime": job.transaction_time,
        "request": job.request,
        "requiresAccessToken": False,
        "output": [{"type": f.resource_type, "url": files.download_url(f.key, DOWNLOAD_URL_SECONDS),
                    "count": f.count} for f in job.output],
        "error": [],
    }


# --- the workflow side: which resources, ndjson files, finishing ------------------------------

@dataclass(frozen=True)
class ExportTask:
    """One step's view of the job, from the workflow input."""

    tenant_id: str
    job_id: str
    requested_by: str
    export: ExportRequest
    patient_ids: tuple[str, ...] | None = None  # the export's patients; None: every patient

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ExportTask:
        try:
            patients = event.get("patient_ids")
            return cls(str(event["tenant_id"]), str(event["job_id"]), str(event["requested_by"]),
                       ExportRequest.from_dict(event),
                       None if patients is None else tuple(str(p) for p in patients))
        except (KeyError, TypeError) as exc:
            raise MalformedRequest(
                "an export step needs tenant_id, job_id, requested_by and the export") from exc


def export_patients(records: BaseResourceRepository, export: ExportRequest) -> list[str] | None:
    """The ids of the patients an export covers (None: every patient, or no compartment at all);
    ResourceNotFound if its Group or Patient does not exist."""
    if export.level in (ExportLevel.SYSTEM, ExportLevel.PATIENT) or export.subject_id is None:
        return None
    if export.level is ExportLevel.ONE_PATIENT:
        if records.get(PATIENT, export.subject_id) is None:
            raise PatientNotFound(export.subject_id)
        return [export.subject_id]
    group = records.get(GROUP, export.subject_id)
    if group is None:
        raise ResourceNotFound(GROUP, export.subject_id)
    return sorted(patient_references(group))


def patient_references(resource: Mapping[str, Any]) -> set[str]:
    """Ids of the Patients whose compartment `resource` is in (a Patient: its own)."""
    resource_type = resource.get("resourceType")
    if resource_type == PATIENT:
        return {str(resource["id"])}
    ids: set[str] = set()
    for path in PATIENT_LINKS.get(str(resource_type), ()):
        for reference in _values_at(resource, path.split(".")):
            target = reference.get("reference") if isinstance(reference, Mapping) else None
            if isinstance(target, str) and target.startswith(f"{PATIENT}/"):
                ids.add(target.removeprefix(f"{PATIENT}/"))
    return ids


def _values_at(element: Any, path: list[str]) -> Iterator[Any]:
    if isinstance(element, list):
        for item in element:
            yield from _values_at(item, path)
    elif not path:
        yield element
    elif isinstance(element, Mapping) and path[0] in element:
        yield from _values_at(element[path[0]], path[1:])


def select_resources(records: BaseResourceRepository, task: ExportTask,
                     resource_type: str) -> Iterator[dict[str, Any]]:
    """The resources of one type the export holds, changed at or after its `_since`."""
    export = task.export
    candidates: Iterable[dict[str, Any]]
    if export.level is ExportLevel.SYSTEM:
        candidates = records.iter_type(resource_type)
    elif task.patient_ids is None:
        candidates = (found for found in records.iter_type(resource_type) if patient_references(found))
    elif resource_type == PATIENT:
        found = records.get_many([(PATIENT, pid) for pid in task.patient_ids])
        candidates = (found[key] for key in sorted(found))
    else:
        candidates = _compartments(records, resource_type, task.patient_ids)
    since = datetime.fromisoformat(export.since) if export.since else None
    for resource in candidates:
        if since is None or datetime.fromisoformat(resource["meta"]["lastUpdated"]) >= since:
            yield resource


def _compartments(records: BaseResourceRepository, resource_type: str,
                  patient_ids: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Each patient's resources of the type, every page, once even when in two compartments
    (a Communication between two members)."""
    seen: set[str] = set()
    for patient_id in patient_ids:
        query: SearchQuery | None = SearchQuery(
            resource_type, criteria=(compartment_criterion(resource_type, patient_id),), count=MAX_COUNT)
        while query is not None:
            page = records.search(query)
            for resource in page.resources:
                if resource["id"] not in seen:
                    seen.add(resource["id"])
                    yield resource
            query = query.with_cursor(page.next_cursor) if page.next_cursor else None


def write_ndjson(files: BaseExportFiles, task: ExportTask, resource_type: str,
                 resources: Iterable[Mapping[str, Any]], max_resources: int = MAX_RESOURCES_PER_FILE,
                 max_bytes: int = MAX_BYTES_PER_FILE) -> list[ExportFile]:
    """Write `resources` as <Type>-1.ndjson, <Type>-2.ndjson, ... each holding at most
    `max_resources` and, past its first line, about `max_bytes`; no file when there are none."""
    written: list[ExportFile] = []
    lines: list[bytes] = []
    size = 0

    def flush() -> None:
        key = export_key(task.tenant_id, task.job_id, resource_type, len(written) + 1)
        files.put(key, b"".join(lines))
        written.append(ExportFile(resource_type, key, len(lines)))

    for resource in resources:
        line = json.dumps(resource, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        if lines and (len(lines) >= max_resources or size + len(line) > max_bytes):
            flush()
            lines, size = [], 0
        lines.append(line)
        size += len(line)
    if lines:
        flush()
    return written


def export_type(records: BaseResourceRepository, files: BaseExportFiles, jobs: BaseExportJobs,
                task: ExportTask, resource_type: str) -> list[ExportFile]:
    """One Map iteration of the workflow: the files of one type, counted as done."""
    if resource_type not in task.export.types:
        raise MalformedRequest(f"{resource_type} is not one of the types this export holds")
    written = write_ndjson(files, task, resource_type, select_resources(records, task, resource_type))
    jobs.type_done(task.job_id, resource_type)
    return written


def finish_export(jobs: BaseExportJobs, audit: BaseAuditTrail, task: ExportTask,
                  written: Iterable[Iterable[Mapping[str, Any]]]) -> bool:
    """Record the files on the job (complete) and audit the export; False if the job was
    cancelled meanwhile (its files are not published)."""
    output = [ExportFile.from_dict(f) for per_type in written for f in per_type]
    completed = jobs.finish(task.job_id, JobStatus.COMPLETE, output)
    if completed:
        _audit(audit, task, AuditOutcome.SUCCESS)
    return completed


def fail_export(jobs: BaseExportJobs, audit: BaseAuditTrail, task: ExportTask, reason: str) -> bool:
    """Mark the job "error" with `reason` (ids and error names only, never resource content)
    and audit the failure; False if it had already ended (cancelled)."""
    failed = jobs.finish(task.job_id, JobStatus.ERROR, errors=[reason])
    if failed:
        _audit(audit, task, AuditOutcome.SERIOUS_FAILURE)
    return failed


# Cairn's errors whose messages name only ids and what to fix: safe to show the client.
_EXPLAINED_ERRORS = frozenset(
    cls.__name__ for cls in (ResourceNotFound, PatientNotFound, MalformedRequest, InvalidExportRequest))


def failure_reason(error: Mapping[str, Any]) -> str:
    """What the job's errors say for a step's caught error ({"Error", "Cause"}): the error's
    name and, for Cairn's own errors, its message (they carry ids, never values)."""
    name = str(error.get("Error") or "Error")
    cause = error.get("Cause")
    message = ""
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
            message = str(parsed.get("errorMessage", "")) if isinstance(parsed, dict) else ""
            name = str(parsed.get("errorType", name)) if isinstance(parsed, dict) else name
        except ValueError:
            message = ""
    if name in _EXPLAINED_ERRORS and message:
        return f"{name}: {message}"
    return f"the export failed ({name}); ask support to look up the job"


def _audit(audit: BaseAuditTrail, task: ExportTask, outcome: AuditOutcome) -> None:
    detail = f"job={task.job_id};requested-by={task.requested_by}"
    for entity_type, entity_id in task.export.audit_entities:
        audit.record(AuditEvent(AuditAction.EXECUTE, "export", outcome, entity_type, entity_id, detail))
