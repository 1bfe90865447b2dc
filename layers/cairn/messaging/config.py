"""How a function delivers messages, read once at cold start: `outbox` (the documents bucket)
or `aws` (SES and SNS, from a verified sender identity)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from cairn.aws import AwsClients
from cairn.config import DOCUMENTS_BUCKET, MESSAGE_DELIVERY, MESSAGE_SENDER
from cairn.errors import ConfigurationError
from cairn.messaging.aws import SesSmsSender
from cairn.messaging.base import BaseMessageSender
from cairn.messaging.outbox import OutboxSender
from multitenant.context import TenantContext


class Delivery(StrEnum):
    """How messages leave: the documents bucket's outbox, or SES and SNS."""

    OUTBOX = "outbox"
    AWS = "aws"


@dataclass(frozen=True)
class DeliverySettings:
    """The delivery, its From address and, for the outbox, the bucket."""

    delivery: Delivery
    sender: str  # the From address (SES identity); the outbox shows it too
    documents_bucket: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DeliverySettings:
        """Validated: a delivery Cairn knows, a sender address, and the bucket an outbox needs."""
        raw = environ.get(MESSAGE_DELIVERY, "").strip()
        try:
            delivery = Delivery(raw)
        except ValueError:
            known = " or ".join(d.value for d in Delivery)
            raise ConfigurationError(f"{MESSAGE_DELIVERY} must be {known}, not {raw[:20]!r}") from None
        sender = environ.get(MESSAGE_SENDER, "").strip()
        if "@" not in sender:
            raise ConfigurationError(f"{MESSAGE_SENDER} must be the address messages are sent from")
        bucket = environ.get(DOCUMENTS_BUCKET, "").strip() or None
        if delivery is Delivery.OUTBOX and bucket is None:
            raise ConfigurationError(f"the outbox delivery needs {DOCUMENTS_BUCKET}")
        return cls(delivery, sender, bucket)

    def sender_for(self, context: TenantContext, clients: AwsClients) -> BaseMessageSender:
        """The sender of one clinic's messages, on `clients`."""
        if self.delivery is Delivery.AWS:
            return SesSmsSender(context, clients.ses(), clients.sns(), self.sender)
        assert self.documents_bucket is not None  # from_environ requires it for the outbox
        return OutboxSender(context, clients.s3(), self.documents_bucket, self.sender)
