"""The delivery adapters against moto in-process: SES and SNS through the one client seam, the
outbox in S3, their errors as MessageRefused / MessageNotDelivered naming no address, and the
delivery settings validated as a cold start validates them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from cairn import config
from cairn.aws import AwsClients, AwsSettings
from cairn.errors import ConfigurationError
from cairn.messaging.aws import SesSmsSender
from cairn.messaging.base import MessageRefused, OutgoingMessage
from cairn.messaging.config import Delivery, DeliverySettings
from cairn.messaging.outbox import OutboxSender
from cairn.scheduling.reminders import Channel
from multitenant.context import TenantContext

BUCKET = "test-documents"
SENDER = "reminders@acme.example"
ACME = TenantContext.system("acme", "reminders")


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsClients]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        made = AwsClients(AwsSettings())
        made.s3().create_bucket(Bucket=BUCKET)
        yield made


def message(channel: Channel, to: str, patient: str = "p1") -> OutgoingMessage:
    return OutgoingMessage(
        "c1", patient, "appointment", channel, to, "Your visit with Acme", "See you Monday."
    )


def test_email_goes_through_ses_from_the_verified_sender(clients: AwsClients) -> None:
    clients.ses().verify_email_identity(EmailAddress=SENDER)

    sent = SesSmsSender(ACME, clients.ses(), clients.sns(), SENDER).send(
        message(Channel.EMAIL, "ada@example.com")
    )

    [delivered] = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert (delivered.source, delivered.destinations["ToAddresses"]) == (SENDER, ["ada@example.com"])
    assert (delivered.subject, delivered.body) == ("Your visit with Acme", "See you Monday.")
    assert sent.provider_id == delivered.id


def test_a_text_goes_through_sns_to_the_number_as_a_transactional_message(clients: AwsClients) -> None:
    sent = SesSmsSender(ACME, clients.ses(), clients.sns(), SENDER).send(message(Channel.SMS, "+15555550100"))

    assert sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages == {
        sent.provider_id: ("+15555550100", "See you Monday.")
    }


def test_a_refused_email_names_the_channel_and_code_never_the_address(clients: AwsClients) -> None:
    sender = SesSmsSender(ACME, clients.ses(), clients.sns(), SENDER)  # the sender is not verified

    with pytest.raises(MessageRefused) as refused:
        sender.send(message(Channel.EMAIL, "ada@example.com"))

    assert str(refused.value) == "email refused by the provider (MessageRejected)"


def test_the_outbox_keeps_each_message_under_its_clinic_and_patient_newest_first(clients: AwsClients) -> None:
    instants = iter(["2026-12-05T19:00:00+00:00", "2026-12-07T17:00:00+00:00", "2026-12-06T10:00:00+00:00"])
    outbox = OutboxSender(
        ACME, clients.s3(), BUCKET, SENDER, clock=lambda: datetime.fromisoformat(next(instants))
    )
    other = OutboxSender(TenantContext.system("globex", "reminders"), clients.s3(), BUCKET, SENDER)
    first = outbox.send(message(Channel.EMAIL, "ada@example.com"))
    outbox.send(message(Channel.SMS, "+15555550100"))
    outbox.send(message(Channel.EMAIL, "ben@example.com", patient="p2"))

    assert first.provider_id == "tenants/acme/outbox/p1/20261205T190000000Z-c1.json"
    assert [m["sent"] for m in outbox.messages()] == [
        "2026-12-07T17:00:00.000Z",
        "2026-12-06T10:00:00.000Z",
        "2026-12-05T19:00:00.000Z",
    ]
    assert [m["to"] for m in outbox.messages("p1")] == ["+15555550100", "ada@example.com"]
    assert outbox.messages("p1", limit=1)[0]["channel"] == "sms"
    assert other.messages() == []
    [stored] = [
        o for o in clients.s3().list_objects_v2(Bucket=BUCKET)["Contents"] if o["Key"] == first.provider_id
    ]
    assert stored["Size"] > 0


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {
                config.MESSAGE_DELIVERY: "outbox",
                config.MESSAGE_SENDER: SENDER,
                config.DOCUMENTS_BUCKET: BUCKET,
            },
            DeliverySettings(Delivery.OUTBOX, SENDER, BUCKET),
        ),
        (
            {config.MESSAGE_DELIVERY: "aws", config.MESSAGE_SENDER: SENDER},
            DeliverySettings(Delivery.AWS, SENDER),
        ),
    ],
)
def test_the_delivery_is_chosen_by_configuration(environ: dict[str, str], expected: DeliverySettings) -> None:
    assert DeliverySettings.from_environ(environ) == expected


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({config.MESSAGE_SENDER: SENDER}, "CAIRN_MESSAGE_DELIVERY must be outbox or aws"),
        ({config.MESSAGE_DELIVERY: "carrier-pigeon", config.MESSAGE_SENDER: SENDER}, "must be outbox or aws"),
        ({config.MESSAGE_DELIVERY: "aws"}, "CAIRN_MESSAGE_SENDER must be the address"),
        ({config.MESSAGE_DELIVERY: "outbox", config.MESSAGE_SENDER: SENDER}, "needs CAIRN_DOCUMENTS_BUCKET"),
    ],
)
def test_a_delivery_that_cannot_work_fails_at_cold_start(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        DeliverySettings.from_environ(environ)


def test_each_delivery_builds_its_sender(clients: AwsClients) -> None:
    assert isinstance(DeliverySettings(Delivery.AWS, SENDER).sender_for(ACME, clients), SesSmsSender)
    assert isinstance(
        DeliverySettings(Delivery.OUTBOX, SENDER, BUCKET).sender_for(ACME, clients), OutboxSender
    )
