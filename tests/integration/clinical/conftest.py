"""In-process moto for the clinical slice: tables from the PynamoDB models, a KMS data key,
the documents bucket, and the functions' environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from cairn import config
from cairn.aws import AwsClients, AwsSettings
from cairn.config import DataSettings
from cairn.runtime import ClinicalRuntime
from cairn.scheduling.services import SchedulingServices
from cairn.store.models import AuditItem, ClinicalItem
from cairn.store.schema import table_shape
from functions.fhir_api import app as api
from tests.integration.clinical.support import (
    AUDIT_TABLE,
    CLINICAL_TABLE,
    DOCUMENTS_BUCKET,
    Cloud,
    LambdaContext,
)
from tests.unit.scheduling.book_fakes import RecordedReminders


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cloud]:
    for name, value in {
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        clients = AwsClients(AwsSettings())
        for model, name in ((ClinicalItem, CLINICAL_TABLE), (AuditItem, AUDIT_TABLE)):
            clients.dynamodb().create_table(**table_shape(model).create_table_request(name))
        key_id = clients.kms().create_key(Description="cairn data key (test)")["KeyMetadata"]["KeyId"]
        clients.s3().create_bucket(Bucket=DOCUMENTS_BUCKET)
        for name, value in {
            config.CLINICAL_TABLE: CLINICAL_TABLE,
            config.AUDIT_TABLE: AUDIT_TABLE,
            config.DATA_KEY_ID: key_id,
            config.DOCUMENTS_BUCKET: DOCUMENTS_BUCKET,
        }.items():
            monkeypatch.setenv(name, value)
        settings = DataSettings(CLINICAL_TABLE, AUDIT_TABLE, key_id)
        yield Cloud(clients, settings, ClinicalRuntime(settings, clients))


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def reminders(cloud: Cloud) -> Iterator[RecordedReminders]:
    """Each test is a new process; reminders are recorded (their workflow has its own tests)."""
    recorded = RecordedReminders()
    api.runtime.cache_clear()
    api.scheduling.cache_clear()
    original = api.scheduling
    api.scheduling = lambda: SchedulingServices(cloud.runtime, recorded)  # type: ignore[assignment]
    yield recorded
    api.scheduling = original
    api.runtime.cache_clear()
