"""Delivery through AWS: email with SES (from the clinic's verified sender identity), SMS with
SNS (direct to the phone number, as a transactional message). The clients come from the one
seam (cairn.aws.AwsClients)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cairn.messaging.base import (
    BaseMessageSender,
    MessageNotDelivered,
    MessageRefused,
    OutgoingMessage,
    SentMessage,
)
from cairn.scheduling.reminders import Channel
from multitenant.context import TenantContext

# Errors that say the message itself cannot go, whatever the retries.
REFUSED_EMAIL = frozenset({"MessageRejected", "InvalidParameterValue"})
REFUSED_SMS = frozenset({"InvalidParameter", "InvalidParameterValue"})
SMS_TYPE = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}


class SesSmsSender(BaseMessageSender):
    """Email through SES from `sender` (a verified identity), SMS through SNS."""

    def __init__(self, context: TenantContext, ses: Any, sns: Any, sender: str) -> None:
        super().__init__(context)
        self._ses = ses
        self._sns = sns
        self._sender = sender

    def send(self, message: OutgoingMessage) -> SentMessage:
        if message.channel is Channel.EMAIL:
            answer = _call(
                REFUSED_EMAIL,
                message.channel,
                lambda: self._ses.send_email(
                    Source=self._sender,
                    Destination={"ToAddresses": [message.to]},
                    Message={
                        "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"}},
                    },
                ),
            )
        else:
            answer = _call(
                REFUSED_SMS,
                message.channel,
                lambda: self._sns.publish(
                    PhoneNumber=message.to, Message=message.text, MessageAttributes=SMS_TYPE
                ),
            )
        return SentMessage(message.message_id, message.channel, str(answer["MessageId"]))


def _call(refused: frozenset[str], channel: Channel, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The provider's answer; its errors as MessageRefused or MessageNotDelivered, naming the
    channel and the error code only (the provider's message may quote the address)."""
    try:
        return call()
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "unknown"))
        if code in refused:
            raise MessageRefused(f"{channel.value} refused by the provider ({code})") from None
        raise MessageNotDelivered(f"{channel.value} not delivered ({code})") from None
    except BotoCoreError as error:  # unreachable endpoint, timeouts: worth another try
        raise MessageNotDelivered(f"{channel.value} not delivered ({type(error).__name__})") from None
