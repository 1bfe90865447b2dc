"""Imports a FHIR Bundle stored in the tenant's documents prefix into the tenant's chart.

Called by the bundle-import state machine (a trusted caller: Cairn itself), so the tenant
context is a system context (it acts for the clinic as a whole); every resource goes through the
record service, validated and audited.
A bundle that cannot be read raises; the workflow's Catch keeps the reason under
tenants/<tenant>/imports/failed/. Importing a bundle again (a retry) stores nothing twice: its
resources are reported as "existing".
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from cairn.config import DocumentSettings
from cairn.imports import BundleImportRequest, ImportSummary, import_bundle, read_bundle
from cairn.runtime import ClinicalRuntime
from multitenant.context import TenantContext

logger = Logger(service="bundle-import")
tracer = Tracer(service="bundle-import")
metrics = Metrics(namespace="Cairn", service="bundle-import")
ACTOR = "bundle-import"


@cache
def runtime() -> tuple[ClinicalRuntime, DocumentSettings]:
    """Built once per process (cold start): settings validated, clients, data key cache."""
    return ClinicalRuntime.from_environ(os.environ), DocumentSettings.from_environ(os.environ)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # X-Ray gets timings, not results
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """{"tenant_id", "bundle_key"} -> ImportSummary.as_dict() (created, existing, rejected,
    skipped, adjusted, and counts per type)."""
    metrics.add_metric(name="ImportsStarted", unit=MetricUnit.Count, value=1)
    request = BundleImportRequest.from_event(event)
    caller = TenantContext.system(request.tenant_id, ACTOR)
    logger.append_keys(tenant_id=caller.tenant_id)  # never the key: file names can carry names
    clinical, documents = runtime()
    s3 = clinical.clients_for(caller).s3()  # narrowed to tenants/<tenant>/ where credentials are scoped
    bundle = read_bundle(s3, documents.documents_bucket, clinical.audit_trail(caller), request.bundle_key)
    summary = import_bundle(clinical.records(caller), bundle, request.bundle_key)
    record_metrics(summary)
    return summary.as_dict()


def record_metrics(summary: ImportSummary) -> None:
    """Entries by outcome, and by outcome and resource type (e.g. ObservationImported)."""
    counts = summary.as_dict()
    metrics.add_metric(name="ResourcesImported", unit=MetricUnit.Count, value=len(summary.created))
    metrics.add_metric(name="ResourcesAlreadyImported", unit=MetricUnit.Count, value=len(summary.existing))
    metrics.add_metric(name="EntriesRejected", unit=MetricUnit.Count, value=len(summary.rejected))
    metrics.add_metric(name="EntriesSkipped", unit=MetricUnit.Count, value=sum(summary.skipped.values()))
    metrics.add_metric(name="ReferencesRemoved", unit=MetricUnit.Count, value=len(summary.adjusted))
    for outcome, by_type in (("Imported", counts["created_by_type"]),
                             ("AlreadyImported", counts["existing_by_type"]),
                             ("Rejected", counts["rejected_by_type"]), ("Skipped", counts["skipped"])):
        for resource_type, count in sorted(by_type.items()):
            if resource_type.isalpha() and len(resource_type) <= 64:  # a FHIR type name, nothing else
                metrics.add_metric(name=f"{resource_type}{outcome}", unit=MetricUnit.Count, value=count)
