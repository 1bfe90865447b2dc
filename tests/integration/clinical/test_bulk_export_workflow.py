"""The bulk-export workflow run by the embedded runtime: the real ASL, the real step handler,
moto's Step Functions, DynamoDB, KMS and S3. Every level's files hold exactly its resources and
never another tenant's; the manifest's URLs download them; a failure marks the job "error"; a
cancelled job stops and stays cancelled; the export is audited."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from cairn.aws import AwsClients
from cairn.bulk_export import (
    BulkExportService,
    DynamoExportJobs,
    ExportJobNotFound,
    ExportLevel,
    ExportRequest,
    ExportStatus,
    JobStatus,
    S3ExportFiles,
    StepFunctionsExportLauncher,
)
from cairn.config import DataSettings
from cairn.records.dynamodb import DynamoResourceRepository
from cairn.runtime import ClinicalRuntime
from cairn.store.models import AuditItem
from devkit import seed
from devkit.deployment import Deployment
from multitenant.context import Role, TenantContext

ACME, BETA = "export-acme", "export-beta"
UPDATED = "2026-11-01T00:00:00.000Z"
LATER = "2026-11-20T00:00:00.000Z"
SOME_TYPES = ("Patient", "Observation", "Practitioner", "Group")


def _resource(resource_type: str, resource_id: str, updated: str = UPDATED, **content: Any) -> dict[str, Any]:
    return {"resourceType": resource_type, "id": resource_id,
            "meta": {"versionId": "1", "lastUpdated": updated}, **content}


def _patient(resource_id: str, family: str, updated: str = UPDATED) -> dict[str, Any]:
    return _resource("Patient", resource_id, updated, name=[{"family": family, "given": ["Ana"]}],
                     gender="female", birthDate="1980-02-03")


def _observation(resource_id: str, patient_id: str, updated: str = UPDATED) -> dict[str, Any]:
    return _resource("Observation", resource_id, updated, status="final",
                     code={"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                     subject={"reference": f"Patient/{patient_id}"},
                     effectiveDateTime="2026-10-01T09:00:00Z",
                     valueQuantity={"value": 72, "unit": "/min"})


@pytest.fixture(scope="module")
def runtime(clients: AwsClients, deployment: Deployment) -> ClinicalRuntime:
    settings = DataSettings.from_environ(deployment.function_environments["bulk-export"])
    return ClinicalRuntime(settings, clients)


@pytest.fixture(scope="module", autouse=True)
def charts(runtime: ClinicalRuntime) -> None:
    """acme: three patients with an Observation each, a Practitioner, Group g1 of p1 and p2;
    beta: one patient with an Observation (never in acme's files)."""
    seeded = {
        ACME: [_patient("p1", "Rivera"), _patient("p2", "Okafor"), _patient("p3", "Lindqvist", LATER),
               _observation("o1", "p1"), _observation("o2", "p2"), _observation("o3", "p3", LATER),
               _resource("Practitioner", "d1", name=[{"family": "Moreau"}]),
               _resource("Group", "g1", type="person", actual=True,
                         member=[{"entity": {"reference": "Patient/p1"}},
                                 {"entity": {"reference": "Patient/p2"}}])],
        BETA: [_patient("b1", "Tanaka"), _observation("ob1", "b1")],
    }
    for tenant, resources in seeded.items():
        context = TenantContext.system(tenant, "test-seed")
        records = DynamoResourceRepository(context, runtime.clients.dynamodb(),
                                           runtime.settings.clinical_table, runtime.keyring_for(context))
        for resource in resources:
            records.add(resource)


def _service(clients: AwsClients, deployment: Deployment, runtime: ClinicalRuntime,
             tenant: str = ACME) -> BulkExportService:
    caller = TenantContext(tenant, "user-admin-1", Role.ADMIN)
    return BulkExportService(
        caller, DynamoExportJobs(caller, clients.dynamodb(), runtime.settings.clinical_table),
        StepFunctionsExportLauncher(clients.stepfunctions(), deployment.state_machines["bulk-export"]),
        S3ExportFiles(clients.s3(), deployment.buckets["documents"]))


def _export(clients: AwsClients, service: BulkExportService, export: ExportRequest) -> ExportStatus:
    """Kick off `export`, wait for its execution to stop, and answer its status."""
    job = service.start(export, "https://cairn.example/fhir/R4/$export")
    started = service.status(job.job_id).job.execution_arn
    assert started is not None
    seed.wait_for_execution(clients, started, time.monotonic() + 120)
    return service.status(job.job_id)


def _downloaded(status: ExportStatus) -> dict[str, list[str]]:
    """Each type's resource ids, downloaded through the manifest's presigned URLs."""
    assert status.manifest is not None, status.job
    ids: dict[str, list[str]] = {}
    for output in status.manifest["output"]:
        with urllib.request.urlopen(output["url"]) as response:  # noqa: S310 (the emulator's URL)
            lines = [json.loads(line) for line in response.read().decode().splitlines()]
        assert len(lines) == output["count"]
        assert {line["resourceType"] for line in lines} == {output["type"]}
        ids.setdefault(output["type"], []).extend(line["id"] for line in lines)
    return {resource_type: sorted(found) for resource_type, found in ids.items()}


def _audited(clients: AwsClients, deployment: Deployment, job_id: str) -> list[AuditItem]:
    """acme's export audit events of one job (tests only: no request path scans)."""
    events: list[AuditItem] = []
    for page in clients.dynamodb().get_paginator("scan").paginate(TableName=deployment.tables["audit"]):
        events += [event for event in map(AuditItem.from_raw_data, page["Items"])
                   if (event.tenant_id, event.subtype) == (ACME, "export") and job_id in (event.detail or "")]
    return events


def test_system_export_holds_every_resource_of_the_tenant_and_none_of_another(
        clients: AwsClients, deployment: Deployment, runtime: ClinicalRuntime) -> None:
    status = _export(clients, _service(clients, deployment, runtime),
                     ExportRequest.parse(ExportLevel.SYSTEM, {"_type": [",".join(SOME_TYPES)]}))

    assert status.job.status is JobStatus.COMPLETE
    assert _downloaded(status) == {"Patient": ["p1", "p2", "p3"], "Observation": ["o1", "o2", "o3"],
                                   "Practitioner": ["d1"], "Group": ["g1"]}
    assert status.manifest is not None
    assert (status.manifest["requiresAccessToken"], status.manifest["transactionTime"]) == (
        False, status.job.transaction_time)
    audited = {(event.entity_type, event.outcome, event.agent_user)
               for event in _audited(clients, deployment, status.job.job_id)}
    assert audited == {(resource_type, "0", "system:bulk-export") for resource_type in SOME_TYPES}


def test_export_files_are_under_the_tenants_prefix_and_encrypted_with_kms(
        clients: AwsClients, deployment: Deployment, runtime: ClinicalRuntime) -> None:
    status = _export(clients, _service(clients, deployment, runtime),
                     ExportRequest.parse(ExportLevel.SYSTEM, {"_type": ["Patient"]}))

    (written,) = status.job.output
    assert written.key == f"tenants/{ACME}/exports/{status.job.job_id}/Patient-1.ndjson"
    stored = clients.s3().head_object(Bucket=deployment.buckets["documents"], Key=written.key)
    assert stored["ServerSideEncryption"] == "aws:kms"


def test_patient_export_holds_the_patients_and_their_compartments_since_a_time(
        clients: AwsClients, deployment: Deployment, runtime: ClinicalRuntime) -> None:
    service = _service(clients, deployment, runtime)

    everything = _export(clients, service, ExportRequest.parse(ExportLevel.PATIENT, {}))
    changed = _export(clients, service, ExportRequest.parse(
        ExportLevel.PATIENT, {"_since": ["2026-11-10T00:00:00Z"]}))

    assert _downloaded(everything) == {"Patient": ["p1", "p2", "p3"], "Observation": ["o1", "o2", "o3"]}
    assert _downloaded(changed) == {"Patient": ["p3"], "Observation": ["o3"]}


def test_group_export_holds_its_members_and_their_compartments_only(
        clients: AwsClients, deployment: Deployment, runtime: ClinicalRuntime) -> None:
    status = _export(clients, _service(clients, deployment, runtime),
                     ExportRequest.parse(ExportLevel.GROUP, {}, "g1"))

    assert _downloaded(status) == {"Patient": ["p1", "p2"], "Observation": ["o1", "o2"]}
    (audited,) = _audited(clients, deployment, status.job.job_id)
    assert (audited.action, audited.entity_type, audited.entity_id, audited.outcome) == (
        "E", "Group", "g1", "0")
    assert audited.detail == f"job={status.job.job_id};requested-by=user-admin-1"


def test_one_patients_ehi_export_holds_their_chart_only(
        clients: AwsClients, deployment: Deployment, runtime: ClinicalRuntime) -> None:
    status = _export(clients, _service(clients, deployment, runtime),
                     ExportRequest.parse(ExportLevel.ONE_PATIENT, {}, "p3"))

    assert _downloaded(status) == {"Patient": ["p3"], "Observation": ["o3"]}


def test_another_tenants_patient_is_not_found_and_the_job_ends_in_error_with_the_reason(
        clients: AwsClients, deployment: Deployment, runtime: ClinicalRuntime) -> None:
    status = _export(clients, _service(clients, deployment, runtime),
                     ExportRequest.parse(ExportLevel.ONE_PATIENT, {}, "b1"))

    assert status.job.status is JobStatus.ERROR
    assert status.manifest is None
    assert status.operation_outcome["issue"] == [
        {"severity": "error", "code": "exception", "diagnostics": "PatientNotFound: Patient/b1 is not known"}]
    assert status.job.execution_arn is not None
    described = clients.stepfunctions().describe_execution(executionArn=status.job.execution_arn)
    assert described["status"] == "FAILED"
    (audited,) = _audited(clients, deployment, status.job.job_id)
    assert audited.outcome == "8"


def test_a_cancelled_export_stops_and_stays_cancelled(
        clients: AwsClients, deployment: Deployment, runtime: ClinicalRuntime) -> None:
    service = _service(clients, deployment, runtime)
    job = service.start(ExportRequest.parse(ExportLevel.SYSTEM, {}), "https://cairn.example/fhir/R4/$export")

    cancelled = service.cancel(job.job_id)

    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.execution_arn is not None
    described = seed.wait_for_execution(clients, cancelled.execution_arn, time.monotonic() + 120)
    # AWS says ABORTED; moto ends an execution stopped inside a Map iteration as FAILED.
    assert described["status"] in {"ABORTED", "FAILED"}
    with pytest.raises(ExportJobNotFound):
        service.status(job.job_id)
    jobs = DynamoExportJobs(service.context, clients.dynamodb(), runtime.settings.clinical_table)
    remaining = jobs.get(job.job_id)
    assert remaining is not None
    assert remaining.status is JobStatus.CANCELLED  # the workflow's late steps did not revive it
    assert _audited(clients, deployment, job.job_id) == []


def test_another_tenant_cannot_see_or_cancel_a_job(
        clients: AwsClients, deployment: Deployment, runtime: ClinicalRuntime) -> None:
    status = _export(clients, _service(clients, deployment, runtime),
                     ExportRequest.parse(ExportLevel.SYSTEM, {"_type": ["Patient"]}))
    other = _service(clients, deployment, runtime, tenant=BETA)

    with pytest.raises(ExportJobNotFound):
        other.status(status.job.job_id)
    with pytest.raises(ExportJobNotFound):
        other.cancel(status.job.job_id)
    own = _export(clients, other, ExportRequest.parse(ExportLevel.SYSTEM, {"_type": ["Patient"]}))
    assert _downloaded(own) == {"Patient": ["b1"]}
