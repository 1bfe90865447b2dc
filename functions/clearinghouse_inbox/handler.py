"""S3 events of the clearinghouse-inbox bucket: each 999, 277CA or 835 file a clearinghouse
drops under tenants/<clinic>/ is read, matched to that clinic's claims, handed to the workflows
waiting for it, and filed as processed or quarantined with its reasons (cairn.claims.inbound).
The key alone says whose file it is. Nothing here logs file content."""

from __future__ import annotations

import os
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event

from cairn.audit.events import AuditAction, AuditEvent, AuditOutcome
from cairn.claims.clearinghouse import inbox_file
from cairn.claims.services import InboxServices
from cairn.errors import MalformedRequest
from multitenant.context import TenantContext

ACTOR = "clearinghouse-inbox"
logger = Logger(service=ACTOR)
tracer = Tracer(service=ACTOR)
metrics = Metrics(namespace="Cairn", service=ACTOR)


@cache
def services() -> InboxServices:
    """Built once per process (cold start)."""
    return InboxServices(os.environ)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """One file per record; a key outside tenants/<clinic>/<file> is logged and left."""
    processed, quarantined, ignored = 0, 0, 0
    for record in S3Event(event).records:
        key = unquote_plus(record.s3.get_object.key)
        try:
            located = inbox_file(key)
        except MalformedRequest:
            logger.warning("file outside the inbox layout left alone", extra={"key_depth": key.count("/")})
            ignored += 1
            continue
        context = TenantContext.system(located.tenant_id, ACTOR)
        received = services().inbox(context).receive(key)
        if received is None:
            ignored += 1
            continue
        outcome = AuditOutcome.MINOR_FAILURE if received.reasons else AuditOutcome.SUCCESS
        services().audit_trail(context).record(
            AuditEvent(
                AuditAction.EXECUTE,
                f"receive-{received.kind}",
                outcome,
                "Claim",
                None,
                "quarantined" if received.reasons else None,
            )
        )
        logger.info(
            "clearinghouse file read",
            extra={
                "tenant_id": located.tenant_id,
                "kind": received.kind,
                "matched": len(received.matched),
                "resumed": received.resumed,
                "quarantined": bool(received.reasons),
            },
        )
        if received.reasons:
            quarantined += 1
        else:
            processed += 1
    metrics.add_metric(name="ClearinghouseFilesProcessed", unit=MetricUnit.Count, value=processed)
    metrics.add_metric(name="ClearinghouseFilesQuarantined", unit=MetricUnit.Count, value=quarantined)
    return {"processed": processed, "quarantined": quarantined, "ignored": ignored}
