"""S3 events of the lab-inbox bucket: each new file starts the lab-ingestion workflow, which
stores its messages in the clinic's encrypted store and processes them. This function reads
nothing: it only names the file to the workflow (the key says which clinic and lab)."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event

from cairn.aws import AwsClients, AwsSettings
from cairn.config import LAB_INGESTION_STATE_MACHINE_ARN, require
from cairn.errors import MalformedRequest
from cairn.labs.inbox_files import inbox_location
from cairn.labs.workflow import LabWorkflow

ACTOR = "lab-inbox"
logger = Logger(service=ACTOR)
tracer = Tracer(service=ACTOR)
metrics = Metrics(namespace="Cairn", service=ACTOR)


@cache
def workflow() -> LabWorkflow:
    return LabWorkflow(AwsClients(AwsSettings.from_environ(os.environ)).stepfunctions(),
                       require(os.environ, LAB_INGESTION_STATE_MACHINE_ARN))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """One workflow per new file; a key outside tenants/<clinic>/<lab>/<file> is logged and left."""
    started, ignored = 0, 0
    for record in S3Event(event).records:
        bucket, key = record.s3.bucket.name, unquote_plus(record.s3.get_object.key)
        try:
            location = inbox_location(key)
        except MalformedRequest:
            logger.warning("file outside the inbox layout left alone", extra={"key_depth": key.count("/")})
            ignored += 1
            continue
        stored = record.raw_event.get("s3", {}).get("object", {})  # moto's events carry no sequencer
        version = str(stored.get("sequencer") or stored.get("eTag") or stored.get("versionId") or "")
        name = "inbox-" + hashlib.sha256(f"{bucket}\n{key}\n{version}".encode()).hexdigest()[:48]
        workflow().start(name, {"tenant_id": location.tenant_id, "lab": location.lab_id,
                                "inbox": {"bucket": bucket, "key": key}})
        started += 1
    metrics.add_metric(name="LabInboxFiles", unit=MetricUnit.Count, value=started)
    return {"started": started, "ignored": ignored}
