"""Imports the Patients of a FHIR Bundle stored in the tenant's documents prefix.

Called by the bundle-import state machine (a trusted caller: Cairn itself), so the tenant
context is a system context. A bundle that cannot be read raises; the workflow's Catch keeps
the reason under tenants/<tenant>/imports/failed/. Importing a bundle again (a retry) stores
nothing twice: its Patients are reported as "existing".
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cairn.config import DocumentSettings
from cairn.imports import BundleImportRequest, import_bundle, read_bundle
from cairn.runtime import ClinicalRuntime
from multitenant.context import TenantContext

logger = Logger(service="bundle-import")
tracer = Tracer(service="bundle-import")
metrics = Metrics(namespace="Cairn", service="bundle-import")


@cache
def runtime() -> tuple[ClinicalRuntime, DocumentSettings]:
    """Built once per process (cold start): settings validated, clients, data key cache."""
    return ClinicalRuntime.from_environ(os.environ), DocumentSettings.from_environ(os.environ)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # X-Ray gets timings, not results
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """{"tenant_id", "bundle_key"} -> {"created", "existing", "rejected", "skipped"}."""
    metrics.add_metric(name="ImportsStarted", unit=MetricUnit.Count, value=1)
    request = BundleImportRequest.from_event(event)
    caller = TenantContext.system(request.tenant_id, "bundle-import")
    logger.append_keys(tenant_id=caller.tenant_id)  # never the key: file names can carry names
    clinical, documents = runtime()
    audit = clinical.audit_trail(caller)
    s3 = clinical.clients_for(caller).s3()  # narrowed to tenants/<tenant>/ where credentials are scoped
    bundle = read_bundle(s3, documents.documents_bucket, audit, request.bundle_key)
    summary = import_bundle(clinical.patients(caller), bundle, request.bundle_key)
    metrics.add_metric(name="PatientsImported", unit=MetricUnit.Count, value=len(summary.created))
    metrics.add_metric(name="PatientsAlreadyImported", unit=MetricUnit.Count, value=len(summary.existing))
    metrics.add_metric(name="EntriesRejected", unit=MetricUnit.Count, value=len(summary.rejected))
    return summary.as_dict()
