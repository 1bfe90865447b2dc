"""The steps of the bulk-export workflow (stepfunctions/bulk_export.asl.json).

Called by the workflow only (a trusted caller: Cairn itself), so each step reads and writes as
the system context of the job's tenant; the user who asked for the export is named in the job
and in the audit trail. A step that raises is caught by the workflow, which runs "fail" so that
no job is left in progress.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cairn.bulk_export import (
    EXPORT_ACTOR,
    DynamoExportJobs,
    ExportTask,
    S3ExportFiles,
    export_patients,
    export_type,
    fail_export,
    failure_reason,
    finish_export,
)
from cairn.config import DocumentSettings
from cairn.errors import MalformedRequest
from cairn.records.dynamodb import DynamoResourceRepository
from cairn.runtime import ClinicalRuntime
from multitenant.context import TenantContext

logger = Logger(service=EXPORT_ACTOR)
tracer = Tracer(service=EXPORT_ACTOR)
metrics = Metrics(namespace="Cairn", service=EXPORT_ACTOR)


@cache
def runtime() -> tuple[ClinicalRuntime, DocumentSettings]:
    """Built once per process (cold start): settings validated, clients, data key cache."""
    return ClinicalRuntime.from_environ(os.environ), DocumentSettings.from_environ(os.environ)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # X-Ray gets timings, not resources
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> Any:
    """{"step": "prepare" | "export_type" | "finish" | "fail", ...the job...} -> the step's result:
    the patient ids, the files of one type, or whether the job changed."""
    task = ExportTask.from_event(event)
    caller = TenantContext.system(task.tenant_id, EXPORT_ACTOR)
    logger.append_keys(tenant_id=caller.tenant_id, export_job=task.job_id, step=event.get("step"))
    clinical, documents = runtime()
    dynamodb = clinical.clients_for(caller).dynamodb()
    jobs = DynamoExportJobs(caller, dynamodb, clinical.settings.clinical_table)
    records = DynamoResourceRepository(caller, dynamodb, clinical.settings.clinical_table,
                                       clinical.keyring_for(caller))
    match event.get("step"):
        case "prepare":
            metrics.add_metric(name="ExportsStarted", unit=MetricUnit.Count, value=1)
            return export_patients(records, task.export)
        case "export_type":
            files = S3ExportFiles(clinical.clients_for(caller).s3(), documents.documents_bucket)
            written = export_type(records, files, jobs, task, str(event.get("resource_type")))
            exported = sum(f.count for f in written)
            metrics.add_metric(name="ExportedResources", unit=MetricUnit.Count, value=exported)
            return [f.as_dict() for f in written]
        case "finish":
            metrics.add_metric(name="ExportsCompleted", unit=MetricUnit.Count, value=1)
            return finish_export(jobs, clinical.audit_trail(caller), task, event.get("outputs") or [])
        case "fail":
            metrics.add_metric(name="ExportsFailed", unit=MetricUnit.Count, value=1)
            reason = failure_reason(event.get("error") or {})
            return fail_export(jobs, clinical.audit_trail(caller), task, reason)
    raise MalformedRequest("step must be one of prepare, export_type, finish, fail")
