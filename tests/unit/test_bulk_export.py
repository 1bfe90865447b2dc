"""Bulk export's domain with fakes: which resources each level holds, the ndjson files, the job's
life (kickoff, progress, manifest, cancel, failure) and the audit trail."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.audit.trail import BaseAuditTrail
from cairn.bulk_export import (
    BaseExportFiles,
    BaseExportJobs,
    BaseExportLauncher,
    BulkExportService,
    ExportFile,
    ExportJob,
    ExportJobNotFound,
    ExportLevel,
    ExportRequest,
    ExportTask,
    InvalidExportRequest,
    JobStatus,
    export_patients,
    export_type,
    exportable_types,
    fail_export,
    failure_reason,
    finish_export,
    manifest,
    patient_references,
    select_resources,
    workflow_input,
    write_ndjson,
)
from cairn.crypto.blind_index import normalize
from cairn.errors import PatientNotFound, ResourceNotFound
from cairn.fhir.resource_types import COMPARTMENT_TYPES, STORED_TYPES
from cairn.fhir.search import SearchQuery
from cairn.records.repository import (
    BaseResourceRepository,
    Change,
    HistoryPage,
    Hold,
    SearchPage,
    StoredVersion,
)
from multitenant.context import Role, TenantContext

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
CLINICIAN = TenantContext("acme", "user-7", Role.ADMIN)


class ChartRecords(BaseResourceRepository):
    """Current resources in a dict shared by every tenant (like the one table); only what bulk
    export reads is answered."""

    def __init__(self, context: TenantContext, store: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        super().__init__(context)
        self.store = store
        self.page_size = 1
        self.searches = 0

    def commit(self, changes: Sequence[Change], holds: Sequence[Hold] = ()) -> None:
        assert not holds, "bulk export holds no time"
        for change in changes:
            self.store[(self.context.tenant_id, change.resource_type, change.resource_id)] = copy.deepcopy(
                change.resource)

    def holds(self, scope: str, lower: str, upper: str) -> dict[str, str]:  # noqa: ARG002
        return {}  # bulk export holds no time

    def current(self, resource_type: str, resource_id: str) -> StoredVersion | None:
        found = self.store.get((self.context.tenant_id, resource_type, resource_id))
        if found is None:
            return None
        updated = found["meta"]["lastUpdated"]
        return StoredVersion(resource_type, resource_id, 1, updated, copy.deepcopy(found))

    def get_many(self, references: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {ref: copy.deepcopy(self.store[(self.context.tenant_id, *ref)])
                for ref in references if (self.context.tenant_id, *ref) in self.store}

    def version(self, resource_type: str, resource_id: str,  # noqa: ARG002
                version_id: int) -> StoredVersion | None:  # noqa: ARG002
        raise AssertionError("bulk export does not read versions")

    def history(self, resource_type: str, resource_id: str | None, count: int,  # noqa: ARG002
                cursor: str | None = None, since: str | None = None) -> HistoryPage:  # noqa: ARG002
        raise AssertionError("bulk export does not read history")

    def search(self, query: SearchQuery) -> SearchPage:
        """Compartment searches only, paged by position so that every page is read."""
        (criterion,) = query.criteria
        assert criterion.parameter == "patient", "bulk export searches patients' compartments only"
        self.searches += 1
        wanted = set(criterion.values)
        matches = [resource for resource in self.iter_type(query.resource_type)
                   if {normalize(f"Patient/{pid}") for pid in patient_references(resource)} & wanted]
        start = int(query.cursor or 0)
        end = start + self.page_size
        return SearchPage(matches[start:end], None, str(end) if end < len(matches) else None)

    def iter_type(self, resource_type: str) -> Iterator[dict[str, Any]]:
        for (tenant, kind, _), resource in sorted(self.store.items()):
            if tenant == self.context.tenant_id and kind == resource_type:
                yield copy.deepcopy(resource)


class MemoryJobs(BaseExportJobs):
    def __init__(self, context: TenantContext, jobs: dict[tuple[str, str], ExportJob]) -> None:
        super().__init__(context)
        self.jobs = jobs

    def add(self, job: ExportJob) -> None:
        self.jobs[(self.context.tenant_id, job.job_id)] = job

    def get(self, job_id: str) -> ExportJob | None:
        return self.jobs.get((self.context.tenant_id, job_id))

    def _replace(self, job_id: str, **changes: Any) -> None:
        key = (self.context.tenant_id, job_id)
        self.jobs[key] = ExportJob(**{**self.jobs[key].__dict__, **changes})

    def started(self, job_id: str, execution_arn: str) -> None:
        self._replace(job_id, execution_arn=execution_arn)

    def type_done(self, job_id: str, resource_type: str) -> None:
        job = self.jobs[(self.context.tenant_id, job_id)]
        self._replace(job_id, types_done=job.types_done | {resource_type})

    def finish(self, job_id: str, status: JobStatus, output: Sequence[ExportFile] = (),
               errors: Sequence[str] = ()) -> bool:
        job = self.get(job_id)
        if job is None or job.status is not JobStatus.IN_PROGRESS:
            return False
        self._replace(job_id, status=status, output=tuple(output), errors=tuple(errors))
        return True


class MemoryFiles(BaseExportFiles):
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, key: str, body: bytes) -> None:
        self.objects[key] = body

    def download_url(self, key: str, expires_seconds: int) -> str:
        return f"https://files.example/{key}?expires={expires_seconds}"

    def lines(self, key: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.objects[key].decode().splitlines()]


class RecordingLauncher(BaseExportLauncher):
    def __init__(self, fails: bool = False) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []
        self.stopped: list[str] = []
        self.fails = fails

    def start(self, name: str, workflow_input: dict[str, Any]) -> str:
        if self.fails:
            raise RuntimeError("throttled")
        self.started.append((name, workflow_input))
        return f"arn:execution:{name}"

    def stop(self, execution_arn: str) -> None:
        self.stopped.append(execution_arn)


class MemoryAudit(BaseAuditTrail):
    def __init__(self, context: TenantContext) -> None:
        super().__init__(context)
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)


def _resource(resource_type: str, resource_id: str, updated: str = "2026-11-01T00:00:00.000Z",
              **content: Any) -> dict[str, Any]:
    return {"resourceType": resource_type, "id": resource_id,
            "meta": {"versionId": "1", "lastUpdated": updated}, **content}


def _ref(patient_id: str) -> dict[str, str]:
    return {"reference": f"Patient/{patient_id}"}


@pytest.fixture
def store() -> dict[tuple[str, str, str], dict[str, Any]]:
    """Two patients of acme with a chart, a directory resource, a Group; and beta's patient."""
    shared: dict[tuple[str, str, str], dict[str, Any]] = {}
    acme = ChartRecords(TenantContext.system("acme", "test"), shared)
    for resource in (
        _resource("Patient", "p1"), _resource("Patient", "p2", "2026-11-20T00:00:00.000Z"),
        _resource("Observation", "o1", subject=_ref("p1")),
        _resource("Observation", "o2", "2026-11-21T08:00:00.000Z", subject=_ref("p2")),
        _resource("Observation", "o-orphan", subject={"reference": "Group/g1"}),
        _resource("Appointment", "a1", participant=[{"actor": {"reference": "Practitioner/d1"}},
                                                     {"actor": _ref("p2")}]),
        _resource("Practitioner", "d1"),
        _resource("Group", "g1", member=[{"entity": _ref("p2")}]),
    ):
        acme.add(resource)
    ChartRecords(TenantContext.system("beta", "test"), shared).add(_resource("Patient", "b1"))
    return shared


def _task(level: ExportLevel, patient_ids: tuple[str, ...] | None = None, **params: list[str]) -> ExportTask:
    subject = {ExportLevel.GROUP: "g1", ExportLevel.ONE_PATIENT: "p1"}.get(level)
    return ExportTask("acme", "job1", "user-7", ExportRequest.parse(level, params, subject), patient_ids)


def _ids(resources: Iterator[dict[str, Any]]) -> list[str]:
    return [resource["id"] for resource in resources]


def test_each_level_holds_its_types_unless_type_narrows_them_in_registry_order() -> None:
    assert ExportRequest.parse(ExportLevel.SYSTEM, {}).types == STORED_TYPES
    assert ExportRequest.parse(ExportLevel.PATIENT, {}).types == ("Patient", *COMPARTMENT_TYPES)
    narrowed = ExportRequest.parse(ExportLevel.GROUP, {"_type": ["Observation, Patient", "Condition"]}, "g1")
    assert narrowed.types == ("Patient", "Condition", "Observation")


def test_kickoff_parameters_are_refused_with_what_to_fix_and_without_echoing_values() -> None:
    refusals = [
        (ExportLevel.PATIENT, {"_type": ["Practitioner,SecretName"]}, None),  # not in a compartment
        (ExportLevel.SYSTEM, {"_since": ["yesterday"]}, None),
        (ExportLevel.SYSTEM, {"_outputFormat": ["text/csv"]}, None),
        (ExportLevel.SYSTEM, {"_typeFilter": ["Observation?code=x"]}, None),
        (ExportLevel.GROUP, {}, None),
    ]
    for level, params, subject in refusals:
        with pytest.raises(InvalidExportRequest) as refused:
            ExportRequest.parse(level, params, subject)
        assert "SecretName" not in str(refused.value)
        assert "yesterday" not in str(refused.value)


def test_since_is_normalized_to_a_utc_instant() -> None:
    export = ExportRequest.parse(ExportLevel.SYSTEM, {"_since": ["2026-11-20T12:00:00+02:00"],
                                                      "_outputFormat": ["application/fhir+ndjson"]})
    assert export.since == "2026-11-20T10:00:00.000Z"


def test_patient_references_follow_the_compartment_links_through_lists_and_backbone_elements() -> None:
    appointment = _resource("Appointment", "a", participant=[{"actor": _ref("x")}, {"actor": _ref("y")},
                                                            {"actor": {"reference": "Practitioner/z"}}])
    coverage = _resource("Coverage", "c", beneficiary=_ref("b"), subscriber=_ref("s"))
    assert patient_references(appointment) == {"x", "y"}
    assert patient_references(coverage) == {"b", "s"}
    assert patient_references(_resource("Patient", "p")) == {"p"}
    assert patient_references(_resource("Practitioner", "d")) == set()


def test_system_export_holds_every_resource_of_the_tenant_and_none_of_another(store: dict[Any, Any]) -> None:
    records = ChartRecords(TenantContext.system("acme", "bulk-export"), store)
    task = _task(ExportLevel.SYSTEM)
    assert _ids(select_resources(records, task, "Patient")) == ["p1", "p2"]
    assert _ids(select_resources(records, task, "Observation")) == ["o-orphan", "o1", "o2"]
    assert _ids(select_resources(records, task, "Practitioner")) == ["d1"]


def test_patient_export_keeps_only_resources_in_some_patients_compartment(store: dict[Any, Any]) -> None:
    records = ChartRecords(TenantContext.system("acme", "bulk-export"), store)
    task = _task(ExportLevel.PATIENT)
    assert _ids(select_resources(records, task, "Patient")) == ["p1", "p2"]
    assert _ids(select_resources(records, task, "Observation")) == ["o1", "o2"]
    assert _ids(select_resources(records, task, "Appointment")) == ["a1"]


def test_group_export_holds_its_members_and_their_compartments_only(store: dict[Any, Any]) -> None:
    records = ChartRecords(TenantContext.system("acme", "bulk-export"), store)
    members = export_patients(records, _task(ExportLevel.GROUP).export)
    assert members == ["p2"]
    task = _task(ExportLevel.GROUP, tuple(members))
    assert _ids(select_resources(records, task, "Patient")) == ["p2"]
    assert _ids(select_resources(records, task, "Observation")) == ["o2"]


def test_one_patients_export_reads_only_their_compartment_every_page_of_it(store: dict[Any, Any]) -> None:
    records = ChartRecords(TenantContext.system("acme", "bulk-export"), store)
    records.add(_resource("Observation", "o3", subject=_ref("p2")))
    task = _task(ExportLevel.ONE_PATIENT, ("p2",))
    assert _ids(select_resources(records, task, "Patient")) == ["p2"]
    assert _ids(select_resources(records, task, "Observation")) == ["o2", "o3"]
    assert _ids(select_resources(records, task, "Appointment")) == ["a1"]
    assert records.searches == 3  # Observation's two pages and Appointment's one: no whole-type read


def test_a_resource_in_two_members_compartments_is_exported_once(store: dict[Any, Any]) -> None:
    records = ChartRecords(TenantContext.system("acme", "bulk-export"), store)
    records.add(_resource("Communication", "c1", sender=_ref("p1"), recipient=[_ref("p2")]))
    task = _task(ExportLevel.GROUP, ("p1", "p2"))
    assert _ids(select_resources(records, task, "Communication")) == ["c1"]


def test_since_keeps_resources_changed_at_or_after_it(store: dict[Any, Any]) -> None:
    records = ChartRecords(TenantContext.system("acme", "bulk-export"), store)
    task = _task(ExportLevel.PATIENT, _since=["2026-11-20T00:00:00Z"])
    assert _ids(select_resources(records, task, "Patient")) == ["p2"]
    assert _ids(select_resources(records, task, "Observation")) == ["o2"]


def test_a_missing_group_or_patient_is_not_found_and_another_tenants_patient_is_missing(
        store: dict[Any, Any]) -> None:
    records = ChartRecords(TenantContext.system("acme", "bulk-export"), store)
    with pytest.raises(ResourceNotFound):
        export_patients(records, ExportRequest.parse(ExportLevel.GROUP, {}, "nope"))
    with pytest.raises(PatientNotFound):
        export_patients(records, ExportRequest.parse(ExportLevel.ONE_PATIENT, {}, "b1"))
    assert export_patients(records, ExportRequest.parse(ExportLevel.ONE_PATIENT, {}, "p1")) == ["p1"]


def test_ndjson_files_split_by_count_and_by_size_and_none_is_written_for_no_resources() -> None:
    files = MemoryFiles()
    task = _task(ExportLevel.SYSTEM)
    resources = [_resource("Observation", f"o{n}") for n in range(5)]

    by_count = write_ndjson(files, task, "Observation", resources, max_resources=2)
    assert [(f.key, f.count) for f in by_count] == [
        (f"tenants/acme/exports/job1/Observation-{n}.ndjson", count) for n, count in ((1, 2), (2, 2), (3, 1))]
    assert [r["id"] for f in by_count for r in files.lines(f.key)] == [f"o{n}" for n in range(5)]

    line = len(json.dumps(resources[0], separators=(",", ":"))) + 1
    by_size = write_ndjson(files, task, "Observation", resources, max_bytes=line * 2)
    assert [f.count for f in by_size] == [2, 2, 1]
    assert write_ndjson(files, task, "Condition", []) == []


def test_export_type_writes_the_files_and_counts_the_type_done(store: dict[Any, Any]) -> None:
    context = TenantContext.system("acme", "bulk-export")
    jobs, files = MemoryJobs(context, {}), MemoryFiles()
    service = BulkExportService(CLINICIAN, MemoryJobs(CLINICIAN, jobs.jobs), RecordingLauncher(), files,
                                clock=lambda: NOW, new_id=lambda: "job1")
    service.start(ExportRequest.parse(ExportLevel.PATIENT, {"_type": ["Patient,Observation"]}), "https://x/$export")

    records = ChartRecords(context, store)
    written = export_type(records, files, jobs, _task(ExportLevel.PATIENT), "Observation")

    assert [(f.resource_type, f.count) for f in written] == [("Observation", 2)]
    assert [r["id"] for r in files.lines(written[0].key)] == ["o1", "o2"]
    assert service.status("job1").job.progress == "1 of 2 resource types exported"


def test_kickoff_records_the_job_and_starts_the_workflow_with_the_job_and_no_phi() -> None:
    launcher = RecordingLauncher()
    service = BulkExportService(CLINICIAN, MemoryJobs(CLINICIAN, {}), launcher, MemoryFiles(),
                                clock=lambda: NOW, new_id=lambda: "job1")

    job = service.start(ExportRequest.parse(ExportLevel.GROUP, {"_type": ["Patient"]}, "g1"),
                        "https://cairn.example/fhir/R4/Group/g1/$export?_type=Patient")

    assert launcher.started == [("job1", {
        "tenant_id": "acme", "job_id": "job1", "requested_by": "user-7", "level": "group",
        "types": ["Patient"], "since": None, "subject_id": "g1"})]
    status = service.status(job.job_id)
    assert status.manifest is None
    assert (status.job.status, status.job.transaction_time, status.job.execution_arn) == (
        JobStatus.IN_PROGRESS, "2026-11-22T10:00:00.000Z", "arn:execution:job1")
    assert status.job.progress == "0 of 1 resource types exported"


def test_a_workflow_that_cannot_start_leaves_the_job_in_error_not_in_progress() -> None:
    jobs = MemoryJobs(CLINICIAN, {})
    service = BulkExportService(CLINICIAN, jobs, RecordingLauncher(fails=True), MemoryFiles(),
                                new_id=lambda: "job1")
    with pytest.raises(RuntimeError):
        service.start(ExportRequest.parse(ExportLevel.SYSTEM, {}), "https://x/$export")
    status = service.status("job1")
    assert status.job.status is JobStatus.ERROR
    assert status.operation_outcome["issue"][0]["diagnostics"] == "the export workflow could not be started"


def test_a_finished_job_answers_the_manifest_with_download_urls_and_is_audited() -> None:
    jobs, files = MemoryJobs(CLINICIAN, {}), MemoryFiles()
    service = BulkExportService(CLINICIAN, jobs, RecordingLauncher(), files, clock=lambda: NOW,
                                new_id=lambda: "job1")
    job = service.start(ExportRequest.parse(ExportLevel.ONE_PATIENT, {}, "p1"), "https://x/Patient/p1/$export")
    audit = MemoryAudit(TenantContext.system("acme", "bulk-export"))
    task = ExportTask.from_event({**workflow_input(job), "patient_ids": ["p1"]})
    key = "tenants/acme/exports/job1/Patient-1.ndjson"

    assert finish_export(jobs, audit, task, [[{"type": "Patient", "key": key, "count": 1}], []])

    status = service.status("job1")
    assert status.manifest == {
        "transactionTime": "2026-11-22T10:00:00.000Z", "request": "https://x/Patient/p1/$export",
        "requiresAccessToken": False, "error": [],
        "output": [{"type": "Patient", "url": f"https://files.example/{key}?expires=3600", "count": 1}]}
    assert audit.events == [AuditEvent(AuditAction.EXECUTE, "export", AuditOutcome.SUCCESS, "Patient", "p1",
                                       "job=job1;requested-by=user-7")]


def test_a_system_export_is_audited_per_type() -> None:
    audit = MemoryAudit(TenantContext.system("acme", "bulk-export"))
    task = _task(ExportLevel.SYSTEM, _type=["Patient,Practitioner"])
    jobs = MemoryJobs(TenantContext.system("acme", "bulk-export"), {})
    jobs.add(ExportJob("job1", "acme", "u", task.export, "user-7", "t", "t"))
    finish_export(jobs, audit, task, [])
    assert [(e.entity_type, e.entity_id) for e in audit.events] == [("Patient", None), ("Practitioner", None)]


def test_cancel_stops_the_workflow_and_the_job_is_then_gone_and_not_completed_later() -> None:
    jobs, launcher = MemoryJobs(CLINICIAN, {}), RecordingLauncher()
    service = BulkExportService(CLINICIAN, jobs, launcher, MemoryFiles(), new_id=lambda: "job1")
    job = service.start(ExportRequest.parse(ExportLevel.SYSTEM, {}), "https://x/$export")

    assert service.cancel("job1").status is JobStatus.CANCELLED
    assert launcher.stopped == ["arn:execution:job1"]
    with pytest.raises(ExportJobNotFound):
        service.status("job1")
    with pytest.raises(ExportJobNotFound):
        service.cancel("job1")
    audit = MemoryAudit(TenantContext.system("acme", "bulk-export"))
    assert not finish_export(jobs, audit, ExportTask.from_event(workflow_input(job)), [])
    assert audit.events == []


def test_jobs_of_another_tenant_are_not_found() -> None:
    shared: dict[tuple[str, str], ExportJob] = {}
    acme = BulkExportService(CLINICIAN, MemoryJobs(CLINICIAN, shared), RecordingLauncher(), MemoryFiles(),
                             new_id=lambda: "job1")
    acme.start(ExportRequest.parse(ExportLevel.SYSTEM, {}), "https://x/$export")
    beta_user = TenantContext("beta", "user-9", Role.ADMIN)
    beta = BulkExportService(beta_user, MemoryJobs(beta_user, shared), RecordingLauncher(), MemoryFiles())
    with pytest.raises(ExportJobNotFound):
        beta.status("job1")
    with pytest.raises(ExportJobNotFound):
        beta.cancel("job1")


def test_a_failed_step_marks_the_job_error_with_a_reason_and_audits_the_failure() -> None:
    jobs = MemoryJobs(CLINICIAN, {})
    service = BulkExportService(CLINICIAN, jobs, RecordingLauncher(), MemoryFiles(), new_id=lambda: "job1")
    job = service.start(ExportRequest.parse(ExportLevel.GROUP, {}, "g404"), "https://x/Group/g404/$export")
    audit = MemoryAudit(TenantContext.system("acme", "bulk-export"))
    cause = json.dumps({"errorType": "ResourceNotFound", "errorMessage": "Group/g404 is not known"})

    assert fail_export(jobs, audit, ExportTask.from_event(workflow_input(job)),
                       failure_reason({"Error": "ResourceNotFound", "Cause": cause}))

    status = service.status("job1")
    assert status.job.status is JobStatus.ERROR
    assert status.operation_outcome["issue"] == [
        {"severity": "error", "code": "exception",
         "diagnostics": "ResourceNotFound: Group/g404 is not known"}]
    assert [(e.outcome, e.entity_type, e.entity_id) for e in audit.events] == [
        (AuditOutcome.SERIOUS_FAILURE, "Group", "g404")]


def test_unexpected_errors_are_reported_by_name_only() -> None:
    cause = json.dumps({"errorType": "KeyError", "errorMessage": "'Jane Doe'"})
    assert failure_reason({"Error": "KeyError", "Cause": cause}) == (
        "the export failed (KeyError); ask support to look up the job")
    assert failure_reason({"Error": "States.Timeout", "Cause": "timed out"}) == (
        "the export failed (States.Timeout); ask support to look up the job")


def test_manifest_lists_no_output_for_an_export_with_no_resources() -> None:
    job = ExportJob("j", "acme", "https://x/$export", ExportRequest(ExportLevel.SYSTEM, exportable_types(
        ExportLevel.SYSTEM)), "u", "t", "t", JobStatus.COMPLETE)
    assert manifest(job, MemoryFiles())["output"] == []
