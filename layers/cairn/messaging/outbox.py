"""The visible outbox: where messages go instead of SES and SNS on a laptop and in tests.

Each message is one JSON object in the documents bucket (the bucket's SSE-KMS encrypts it, as
everything under tenants/<id>/), keyed by patient so a patient's own messages are one listing:
    tenants/<tenant>/outbox/<patient id>/<sent at>-<message id>.json
It holds what a provider would have received (address and text), so it is read only through
the reminders API's permission checks, never logged."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cairn.clock import fhir_instant, utc_now
from cairn.messaging.base import BaseMessageSender, OutgoingMessage, SentMessage
from multitenant.context import TenantContext

MAX_LISTED = 200  # the newest messages one listing answers


def outbox_prefix(tenant_id: str, patient_id: str | None = None) -> str:
    """Where a clinic's outbox (or one patient's part of it) starts."""
    base = f"tenants/{tenant_id}/outbox/"
    return base if patient_id is None else f"{base}{patient_id}/"


class OutboxSender(BaseMessageSender):
    """Messages as JSON objects in the documents bucket, and read back."""

    def __init__(
        self,
        context: TenantContext,
        s3: Any,
        bucket: str,
        sender: str,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(context)
        self._s3 = s3
        self._bucket = bucket
        self._sender = sender
        self._clock = clock

    def send(self, message: OutgoingMessage) -> SentMessage:
        sent = fhir_instant(self._clock())
        stamp = sent.replace("-", "").replace(":", "").replace(".", "")
        key = f"{outbox_prefix(self.context.tenant_id, message.patient_id)}{stamp}-{message.message_id}.json"
        body = {
            "id": message.message_id,
            "patient": f"Patient/{message.patient_id}",
            "kind": message.kind,
            "channel": message.channel.value,
            "from": self._sender,
            "to": message.to,
            "subject": message.subject,
            "text": message.text,
            "sent": sent,
        }
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=json.dumps(body).encode(), ContentType="application/json"
        )
        return SentMessage(message.message_id, message.channel, key)

    def messages(self, patient_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The newest `limit` messages (at most MAX_LISTED): the clinic's, or one patient's."""
        keys: list[str] = []
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=outbox_prefix(self.context.tenant_id, patient_id)
        )
        for page in pages:
            keys += [item["Key"] for item in page.get("Contents", [])]
        # Keys end "<sent at>-<id>.json": the name alone orders messages by time, across patients.
        newest = sorted(keys, key=lambda key: key.rsplit("/", 1)[-1], reverse=True)[: min(limit, MAX_LISTED)]
        return [
            json.loads(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()) for key in newest
        ]
