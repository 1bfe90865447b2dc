"""Helpers of the clinical integration tests: the moto-backed cloud, a Lambda context, callers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cairn.aws import AwsClients
from cairn.config import DataSettings
from cairn.runtime import ClinicalRuntime
from cairn.store.models import AuditItem
from multitenant.context import Role, TenantContext

CLINICAL_TABLE = "test-clinical"
AUDIT_TABLE = "test-audit"
DOCUMENTS_BUCKET = "test-documents"


@dataclass
class Cloud:
    clients: AwsClients
    settings: DataSettings
    runtime: ClinicalRuntime

    def scan(self, table: str) -> list[dict[str, Any]]:
        """Every item of `table` (tests only: no request path scans)."""
        items: list[dict[str, Any]] = []
        for page in self.clients.dynamodb().get_paginator("scan").paginate(TableName=table):
            items += page["Items"]
        return items

    def audit_events(self, tenant_id: str) -> list[dict[str, str]]:
        """The tenant's audit events, oldest first, as plain strings."""
        events = [AuditItem.from_raw_data(item) for item in self.scan(AUDIT_TABLE)]
        return [
            {
                "action": e.action,
                "subtype": e.subtype,
                "outcome": e.outcome,
                "entity_id": e.entity_id or "",
                "detail": e.detail or "",
                "agent_user": e.agent_user,
                "agent_role": e.agent_role,
            }
            for e in sorted(events, key=lambda e: e.sk)
            if e.tenant_id == tenant_id
        ]

    def put_document(self, key: str, body: bytes | dict[str, Any]) -> None:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        self.clients.s3().put_object(Bucket=DOCUMENTS_BUCKET, Key=key, Body=data)


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "req-1"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def caller(role: Role = Role.PHYSICIAN, tenant: str = "acme", patient_id: str | None = None) -> TenantContext:
    return TenantContext(tenant, f"{tenant}-{role.value}", role, patient_id)
