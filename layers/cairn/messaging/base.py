"""The delivery seam: a message to one patient, and the senders that deliver it.

A message carries its address and text only as far as the sender; neither ever enters a log
line, a workflow's state or an error message (errors name the channel and the provider's error
code, never the address)."""

from __future__ import annotations

import abc
from dataclasses import dataclass

from cairn.errors import CairnError
from cairn.scheduling.reminders import Channel
from multitenant.context import TenantContext


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one patient. `message_id` is the id of the Communication that records it,
    so whatever the provider answers can be tied back to the chart."""

    message_id: str
    patient_id: str
    kind: str  # what it is about (cairn.scheduling.reminders.ReminderKind)
    channel: Channel
    to: str  # an email address or an E.164 phone number
    subject: str
    text: str


@dataclass(frozen=True)
class SentMessage:
    """What the provider answered: its id for the message (SES or SNS message id, outbox key)."""

    message_id: str
    channel: Channel
    provider_id: str


class MessageNotDelivered(CairnError):
    """The provider failed or was unreachable; trying again later may work."""


class MessageRefused(CairnError):
    """The provider refused the message for good (a malformed or blocked address): trying again
    will not help; the patient's contact details need fixing."""


class BaseMessageSender(abc.ABC):
    """Delivers one clinic's messages (the context's tenant)."""

    def __init__(self, context: TenantContext) -> None:
        self.context = context

    @abc.abstractmethod
    def send(self, message: OutgoingMessage) -> SentMessage:
        """Deliver `message` once; MessageNotDelivered (retry) or MessageRefused (do not)."""


__all__ = ["BaseMessageSender", "MessageNotDelivered", "MessageRefused", "OutgoingMessage", "SentMessage"]
