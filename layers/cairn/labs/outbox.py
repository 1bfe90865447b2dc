"""Where Cairn puts what it sends a lab: orders and acknowledgments. The seam a transport
implements: S3 here (the lab or its interface engine picks files up from the clinic's outbox
prefix); SFTP, HTTPS or an MLLP gateway implement the same `deliver` later.

Key: tenants/<tenant>/labs/<lab>/outbox/<kind>/<name>.hl7 (the bucket's SSE-KMS encrypts it).
"""

from __future__ import annotations

import abc
from enum import StrEnum
from typing import Any

from multitenant.context import TenantContext

HL7_MEDIA_TYPE = "x-application/hl7-v2+er7"


class OutboxKind(StrEnum):
    ORDERS = "orders"
    ACKS = "acks"


def outbox_key(tenant_id: str, lab_id: str, kind: OutboxKind, name: str) -> str:
    return f"tenants/{tenant_id}/labs/{lab_id}/outbox/{kind.value}/{name}.hl7"


class BaseLabOutbox(abc.ABC):
    """The outbox of one clinic's labs."""

    def __init__(self, context: TenantContext) -> None:
        self.context = context

    @abc.abstractmethod
    def deliver(self, lab_id: str, kind: OutboxKind, name: str, message: str) -> str:
        """Hand `message` to the lab; returns where it went. Delivering the same name again
        replaces it (a resent ACK or order is the same file)."""

    @abc.abstractmethod
    def collect(self, lab_id: str, kind: OutboxKind, name: str) -> str:
        """What was delivered under `name` (what the lab would pick up); KeyError if nothing."""


class S3LabOutbox(BaseLabOutbox):
    def __init__(self, context: TenantContext, s3: Any, bucket: str) -> None:
        super().__init__(context)
        self._s3 = s3
        self._bucket = bucket

    def deliver(self, lab_id: str, kind: OutboxKind, name: str, message: str) -> str:
        key = outbox_key(self.context.tenant_id, lab_id, kind, name)
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=message.encode(), ContentType=HL7_MEDIA_TYPE)
        return key

    def collect(self, lab_id: str, kind: OutboxKind, name: str) -> str:
        key = outbox_key(self.context.tenant_id, lab_id, kind, name)
        try:
            body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise KeyError(f"nothing delivered as {name} to lab {lab_id}") from None
        return body.decode()
